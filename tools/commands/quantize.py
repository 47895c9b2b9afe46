"""irc quantize: ONNX model + calibration data -> int8 ONNX (QDQ) in one command."""

from __future__ import annotations

import argparse
import json
import sys

from irc.ir.diagnostics import IRError

from ._budget import add_budget_arguments, budget_options, check_budget_args, finish_budget, plan_budget_files

NAME = "quantize"
HELP = "Quantize an ONNX model to int8: import, fold, fuse, calibrate, quantize, emit QDQ ONNX."


def add_arguments(p) -> None:
    p.add_argument("model", help="the fp32 ONNX model (or a .ir file)")
    p.add_argument("--calib", metavar="PATH",
                   help="calibration data: .npz (one array per input, leading sample axis), "
                        "an ImageNet-style folder or a VOC 2007 root (needed unless --mode dynamic)")
    p.add_argument("--mode", default="static", choices=["static", "dynamic"],
                   help="static (default): activation ranges from calibration; dynamic: matmul/gemm "
                        "weights int8, activations quantized at run time (no --calib needed)")
    p.add_argument("-o", "--output", required=True, help="the int8 ONNX model to write")
    p.add_argument("--method", default="minmax", choices=["minmax", "percentile", "entropy", "mse", "auto"],
                   help="how calibration turns observed values into ranges (default minmax)")
    p.add_argument("--activations", default="u8", choices=["u8", "i8", "i8-sym"],
                   help="activation storage: u8 (default) or i8, both with a zero point, or i8-sym "
                        "(zero point 0); specs/quantization.md says which onnxruntime kernels each gets")
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor, not per channel")
    p.add_argument("--equalize", action="store_true",
                   help="cross-layer equalization of conv -> [relu] -> conv pairs before calibration "
                        "(the equalize pass; off by default)")
    p.add_argument("--speed-check", action=argparse.BooleanOptionalAction, default=None,
                   help="time each int8 region against fp32 in onnxruntime (batch 1, alternating rounds) and "
                        "return to fp32 the regions int8 does not make faster (on by default; "
                        "--no-speed-check for a result that does not depend on timings)")
    p.add_argument("--reduce-range", action=argparse.BooleanOptionalAction, default=None,
                   help="7-bit weights, exact in onnxruntime on x86 CPUs without VNNI (default: on exactly "
                        "when this machine is such a CPU)")
    p.add_argument("--speed-threads", type=int, default=1, metavar="N",
                   help="onnxruntime intra-op threads for --speed-check (default 1)")
    p.add_argument("--bias-correct", action="store_true",
                   help="fold each int8 conv/gemm's mean output shift, measured on the calibration data, "
                        "into its bias (the bias-correct pass; off by default)")
    p.add_argument("--samples", type=int, default=0, metavar="N",
                   help="calibrate on a seeded random subset of N samples (default: all)")
    p.add_argument("--batch-size", type=int, default=32, help="calibration batch size (default 32)")
    p.add_argument("--skip", default="", metavar="OPS", help="comma-separated op names to keep in float")
    p.add_argument("--preprocess", metavar="FILE", help="image preprocessing for folder data (TOML/JSON)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=SHAPE",
                   help="fix an input's dims before import, e.g. images=1x3x640x640 (as irc import)")
    p.add_argument("--pipeline", help="a custom pipeline instead of the default")
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="a .py file or module that registers passes (repeatable)")
    add_budget_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary on stderr")


def run(args) -> int:
    import irc
    from irc.passes import load_plugin

    from ._common import rejected_path
    from ._paths import FilePlan

    files = FilePlan()
    files.read_model("the input model", args.model)
    if args.calib is None and args.mode != "dynamic":
        raise IRError("--calib is required (calibration data for the activation ranges), unless --mode dynamic")
    files.read("the calibration data (--calib)", args.calib)
    files.read("the preprocessing file (--preprocess)", args.preprocess)
    for module in args.load:
        files.read_module("the plugin (--load)", module)
    plan_budget_files(files, args)
    out = files.write("the output (-o)", args.output)
    files.write("the copy kept if onnxruntime refuses the output", rejected_path(out))
    files.check()
    check_budget_args(args, report_without_budget=True)
    options = _options(args)
    for module in args.load:
        load_plugin(module)
    progress = sys.stderr.isatty() and not args.quiet

    def on_stage(name: str) -> None:
        if progress:
            print(f"irc quantize: {name}...", file=sys.stderr, flush=True)

    from irc.backends.onnx.ort_check import OutputRejected

    from ._common import keep_rejected

    try:
        result = irc.quantize(args.model, args.calib, options, on_stage=on_stage)
    except OutputRejected as e:
        raise keep_rejected(e, out) from None
    result.save(out)
    for w in result.warnings:
        print(f"irc quantize: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    elif not args.quiet:
        print(result.summary(), file=sys.stderr)
        print(f"wrote {out}", file=sys.stderr)
    if args.report and result.budget is None:
        from irc.run_report import run_report, write_run_report

        for path in write_run_report(run_report(result, title=str(args.model)), args.report):
            if not (args.quiet or args.json):
                print(f"wrote {path}", file=sys.stderr)
    return finish_budget(args, result.budget, NAME, quiet=args.quiet or args.json)


def _options(args):
    """The QuantizeOptions the arguments ask for (counts checked under their flags' names)."""
    from irc.backends.onnx.input_shapes import parse_input_shapes
    from irc.quantize_options import QuantizeOptions, check_count

    check_count("samples", args.samples, "--samples")
    check_count("batch_size", args.batch_size, "--batch-size")
    budget = budget_options(args)
    return QuantizeOptions(
        mode=args.mode, method=args.method, activations=args.activations, per_channel=not args.per_tensor,
        samples=args.samples, batch_size=args.batch_size, skip=tuple(s for s in args.skip.split(",") if s),
        equalize=args.equalize, bias_correct=args.bias_correct, speed_check=args.speed_check,
        reduce_range=args.reduce_range,
        speed_threads=args.speed_threads, keep_calibrated=bool(args.report) and budget is None,
        pipeline=args.pipeline, preprocess=args.preprocess, input_shapes=parse_input_shapes(args.input_shape),
        quiet=args.quiet or not sys.stderr.isatty(), budget=budget)
