"""irc emit: .ir -> a target format (fp32 ONNX, or the ONNX QDQ form of a quantized graph)."""

from __future__ import annotations

import sys

NAME = "emit"
HELP = "Write an IR graph in a target format (onnx: fp32 ONNX; onnx-qdq: int8 ONNX in QDQ form)."

TARGETS = ("onnx", "onnx-qdq")


def add_arguments(p) -> None:
    p.add_argument("input", help="the .ir file")
    p.add_argument("--target", default="onnx",
                   help=f"one of: {', '.join(TARGETS)} (default onnx; onnx-qdq for a quantized graph)")
    p.add_argument("-o", "--output", required=True, help="the file to write")


def _warn(message: str) -> None:
    print(f"irc emit: warning: {message}", file=sys.stderr)


def run(args) -> int:
    import onnx

    from irc.backends.onnx import export_onnx, save_onnx
    from irc.backends.onnx.qdq import export_qdq
    from irc.cli import UsageError

    from ._common import load_graph
    from ._paths import FilePlan

    if args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r}; targets: {', '.join(TARGETS)}")
    files = FilePlan()
    files.read_model("the input", args.input)
    out = files.write("the output (-o)", args.output)
    files.check()
    graph = load_graph(args.input)
    if args.target == "onnx":
        quantized = [op.label for op in graph.ops if any(r.type.is_quantized for r in op.results)]
        if quantized:
            raise UsageError(f"the graph has quantized ops ({', '.join(quantized[:5])}); "
                             "the fp32 onnx target cannot write them (use --target=onnx-qdq)")
        model = export_onnx(graph)
    else:
        model = export_qdq(graph, warn=_warn)
    onnx.checker.check_model(model)
    save_onnx(model, out)
    return 0
