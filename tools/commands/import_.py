"""irc import: ONNX model -> .ir text (+ .weights.npz beside it)."""

from __future__ import annotations

NAME = "import"
HELP = "Lower an ONNX model into irc's IR (text .ir with a .weights.npz sidecar)."


def add_arguments(p) -> None:
    p.add_argument("model", help="the ONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, help="the .ir file to write")


def run(args) -> int:
    from irc.backends.onnx import import_onnx
    from irc.ir import save_ir

    from ._paths import FilePlan

    files = FilePlan()
    files.read_model("the input model", args.model)
    out = files.write_ir("the output (-o)", args.output)
    files.check()
    graph = import_onnx(args.model)
    save_ir(graph, out)
    return 0
