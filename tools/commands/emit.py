"""irc emit: .ir -> a target format (fp32 ONNX, or the ONNX QDQ form of a quantized graph)."""

from __future__ import annotations

import sys

NAME = "emit"
HELP = ("Write an IR graph in a target format (onnx: fp32 ONNX; onnx-qdq: int8 ONNX in QDQ form), checked "
        "to load in onnxruntime.")

TARGETS = ("onnx", "onnx-qdq")


def add_arguments(p) -> None:
    p.add_argument("input", help="the .ir file")
    p.add_argument("--target", default="onnx",
                   help=f"one of: {', '.join(TARGETS)} (default onnx; onnx-qdq for a quantized graph)")
    p.add_argument("-o", "--output", required=True, help="the file to write")
    p.add_argument("--inputs", metavar="FILE.npz",
                   help="also run the written model in onnxruntime on these inputs and compare each output "
                        "with irc's interpreter on the graph (cosine, printed on stderr)")


def _warn(message: str) -> None:
    print(f"irc emit: warning: {message}", file=sys.stderr)


def run(args) -> int:
    from irc.backends.onnx import export_onnx, save_onnx
    from irc.backends.onnx.qdq import export_qdq
    from irc.cli import UsageError
    from irc.model_files import load_model

    from ._common import rejected_path
    from ._paths import FilePlan

    if args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r}; targets: {', '.join(TARGETS)}")
    files = FilePlan()
    files.read_model("the input", args.input)
    files.read("the check inputs (--inputs)", args.inputs)
    out = files.write("the output (-o)", args.output)
    files.write("the copy kept if onnxruntime refuses the output", rejected_path(out))
    files.check()
    graph, _ = load_model(args.input)
    if args.target == "onnx":
        quantized = [op.label for op in graph.ops if any(r.type.is_quantized for r in op.results)]
        if quantized:
            raise UsageError(f"the graph has quantized ops ({', '.join(quantized[:5])}); "
                             "the fp32 onnx target cannot write them (use --target=onnx-qdq)")
        model = export_onnx(graph)
    else:
        model = export_qdq(graph, warn=_warn)
    report = _check(model, graph, args, out)
    save_onnx(model, out)
    if report is not None and report.samples:
        print(f"irc emit: {report.summary().replace('to fp32', 'to the interpreter')}", file=sys.stderr)
    return 0


def _check(model, graph, args, out):
    """Load the model in onnxruntime (default session options); with --inputs, run it next to the
    interpreter. A refused model is kept as OUT.rejected.onnx and the command fails."""
    from irc.backends.numpy_interp import Interpreter
    from irc.backends.onnx.ort_check import OutputRejected, check_emitted

    from ._common import keep_rejected, read_npz

    feeds = read_npz(args.inputs) if args.inputs else None

    def interpreter(f):
        return Interpreter(graph).run({v.name: f[v.name] for v in graph.inputs})

    try:
        return check_emitted(model, feeds, interpreter if feeds is not None else None, "the written model")
    except OutputRejected as e:
        raise keep_rejected(e, out) from None
