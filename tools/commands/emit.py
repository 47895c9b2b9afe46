"""irc emit: .ir -> a target format (ONNX)."""

from __future__ import annotations

NAME = "emit"
HELP = "Write an IR graph in a target format (onnx: fp32 ONNX)."

TARGETS = ("onnx",)


def add_arguments(p) -> None:
    p.add_argument("input", help="the .ir file")
    p.add_argument("--target", default="onnx", help=f"one of: {', '.join(TARGETS)} (default onnx)")
    p.add_argument("-o", "--output", required=True, help="the file to write")


def run(args) -> int:
    import onnx

    from irc.backends.onnx import export_onnx, save_onnx
    from irc.cli import UsageError

    from ._common import check_output, load_graph

    if args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r}; targets: {', '.join(TARGETS)}")
    out = check_output(args.output, args.input)
    graph = load_graph(args.input)
    if args.target == "onnx":
        quantized = [op.label for op in graph.ops if any(r.type.is_quantized for r in op.results)]
        if quantized:
            raise UsageError(f"the graph has quantized ops ({', '.join(quantized[:5])}); "
                             "the fp32 onnx target cannot write them")
        model = export_onnx(graph)
    onnx.checker.check_model(model)
    save_onnx(model, out)
    return 0
