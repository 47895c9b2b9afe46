"""irc list-passes: the pass registry."""

from __future__ import annotations

NAME = "list-passes"
HELP = "List the passes a pipeline can use, with their options."


def add_arguments(p) -> None:
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="a .py file or module that registers passes (repeatable)")


def run(args) -> int:
    from irc.passes import load_plugin
    from irc.passes.pipeline import describe_passes

    for module in args.load:
        load_plugin(module)
    for name, summary, options in describe_passes():
        print(f"{name}: {summary}")
        for o in options:
            print(f"    {o}")
    return 0
