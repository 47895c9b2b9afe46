"""irc import: ONNX model -> .ir text (+ .weights.npz beside it)."""

from __future__ import annotations

NAME = "import"
HELP = "Lower an ONNX model into irc's IR (text .ir with a .weights.npz sidecar)."


def add_arguments(p) -> None:
    p.add_argument("model", help="the ONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, help="the .ir file to write")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=SHAPE",
                   help="fix an input's dims before import, e.g. images=1x3x640x640 (repeatable, or comma-"
                        "separated; the name may be left out for a one-input model): shape code folds")
    p.add_argument("--keep-qdq", action="store_true",
                   help="keep DequantizeLinear -> op -> QuantizeLinear groups as float ops between casts "
                        "instead of fusing them into int8 ops")


def run(args) -> int:
    from irc.onnx_import import import_onnx
    from irc.backends.onnx.input_shapes import parse_input_shapes
    from irc.ir import save_ir

    from ._paths import FilePlan

    files = FilePlan()
    files.read_model("the input model", args.model)
    out = files.write_ir("the output (-o)", args.output)
    files.check()
    graph = import_onnx(args.model, input_shapes=parse_input_shapes(args.input_shape), fuse_qdq=not args.keep_qdq)
    save_ir(graph, out)
    return 0
