"""irc opt: run a pass pipeline over an .ir file."""

from __future__ import annotations

import sys

from irc.ir.diagnostics import IRError

from ._budget import add_budget_arguments, budget_options, check_budget_args, finish_budget, plan_budget_files

NAME = "opt"
HELP = "Run a pipeline of passes over an IR file (no pipeline: parse, verify and print it back)."


def add_arguments(p) -> None:
    p.add_argument("input", help="the .ir file")
    p.add_argument("--pipeline", default="", help="passes to run, e.g. fold,dce (see `irc list-passes`)")
    p.add_argument("-o", "--output", help="the .ir file to write (default: print to stdout)")
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="a .py file or module that registers passes (repeatable)")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (stderr)")
    p.add_argument("--time-passes", action="store_true", help="print the time each pass took (stderr)")
    p.add_argument("--calib", metavar="PATH",
                   help="calibration data for the calibrate pass: an .npz with one array per model input "
                        "(leading sample axis), an ImageNet-style folder or a VOC 2007 root")
    p.add_argument("--samples", "--calib-limit", dest="samples", type=int, metavar="N",
                   help="calibrate on a seeded random subset of N samples (default: all; as in "
                        "`irc quantize`; --calib-limit is the older name)")
    p.add_argument("--calib-preprocess", metavar="FILE",
                   help="image preprocessing for folder data (TOML/JSON, see specs/data-and-metrics.md)")
    add_budget_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary")


def _summary(ctx) -> None:
    """One line on stderr for the calibrate pass's work (other passes stay silent)."""
    st = ctx.stats.get("calibrate")
    if not st:
        return
    line = (f"calibrate: {st['samples']} samples, {st['tensors observed']} tensors, method {st['method']}, "
            f"backend {st['backend']}, {st['seconds']:.1f} s")
    for key in ("backend note", "tensors with NaN/inf values (ignored)", "tensors without a finite value (no range)"):
        if key in st:
            value = st[key]
            line += f"; {key}: {', '.join(value) if isinstance(value, list) else value}"
    print(line, file=sys.stderr)


def run(args) -> int:
    from irc.ir import load_ir, print_graph, save_ir
    from irc.passes import (Instrument, PassContext, PassManager, PrintIRAfterAll, TimePasses, load_plugin,
                            parse_pipeline)

    from ._paths import FilePlan

    files = FilePlan()
    files.read_model("the input", args.input)
    for module in args.load:
        files.read_module("the plugin (--load)", module)
    files.read("the calibration data (--calib)", args.calib)
    files.read("the preprocessing file (--calib-preprocess)", args.calib_preprocess)
    plan_budget_files(files, args)
    out = files.write_ir("the output (-o)", args.output) if args.output else None
    files.check()
    check_budget_args(args)
    for module in args.load:
        load_plugin(module)
    pipeline = parse_pipeline(args.pipeline)
    graph = load_ir(args.input)
    instruments: list[Instrument] = []
    if args.print_ir_after_all:
        instruments.append(PrintIRAfterAll(sys.stderr))
    if args.time_passes:
        instruments.append(TimePasses(sys.stderr))
    ctx = PassContext(quiet=args.quiet)
    if args.calib:
        from irc.data.calibration_files import open_calibration

        ctx.calib = open_calibration(args.calib, graph, limit=args.samples, preprocess=args.calib_preprocess)
    elif args.samples is not None or args.calib_preprocess:
        raise IRError("--samples and --calib-preprocess need --calib")
    budget = budget_options(args)
    if budget is not None:
        from irc.budget_setup import make_budget

        ctx.budget = make_budget(graph, budget, preprocess=args.calib_preprocess)
    PassManager(pipeline, instruments).run(graph, ctx)
    if not args.quiet:
        _summary(ctx)
    if out is None:
        sys.stdout.write(print_graph(graph))
    else:
        save_ir(graph, out)
    return finish_budget(args, ctx.budget.result if ctx.budget is not None else None, NAME, quiet=args.quiet)
