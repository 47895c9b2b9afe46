"""irc opt: run a pass pipeline over an .ir file."""

from __future__ import annotations

import sys

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
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from irc.ir import load_ir, print_graph, save_ir
    from irc.passes import PassContext, PassManager, PrintIRAfterAll, TimePasses, load_plugin, parse_pipeline

    from ._common import check_output

    for module in args.load:
        load_plugin(module)
    pipeline = parse_pipeline(args.pipeline)
    out = check_output(args.output, args.input) if args.output else None
    graph = load_ir(args.input)
    instruments = []
    if args.print_ir_after_all:
        instruments.append(PrintIRAfterAll(sys.stderr))
    if args.time_passes:
        instruments.append(TimePasses(sys.stderr))
    ctx = PassContext(quiet=args.quiet)
    PassManager(pipeline, instruments).run(graph, ctx)
    if out is None:
        sys.stdout.write(print_graph(graph))
    else:
        save_ir(graph, out)
    return 0
