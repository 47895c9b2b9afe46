"""irc run: execute a model on the numpy interpreter."""

from __future__ import annotations

NAME = "run"
HELP = "Run a model (.ir or .onnx) on irc's numpy interpreter: inputs and outputs as .npz keyed by name."


def add_arguments(p) -> None:
    p.add_argument("model", help="the .ir (or .onnx) model")
    p.add_argument("--inputs", required=True, help=".npz with one array per graph input, keyed by name")
    p.add_argument("-o", "--output", required=True, help=".npz to write, one array per graph output")


def run(args) -> int:
    from irc.backends.numpy_interp import run_graph
    from irc.model_files import load_model

    from ._common import read_npz, write_npz
    from ._paths import FilePlan

    files = FilePlan()
    files.read_model("the model", args.model)
    files.read("the inputs (--inputs)", args.inputs)
    out = files.write("the output (-o)", args.output)
    files.check()
    graph, _ = load_model(args.model)
    inputs = read_npz(args.inputs)
    results = run_graph(graph, inputs)
    write_npz(out, results)
    return 0
