"""The `irc` command: a table of subcommands, each a module in irc.commands.

Every subcommand module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
Errors the user caused (IRError and its kin: bad files, wrong shapes, unknown passes) print one
message and exit with code 2; a traceback appears only with --debug.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = ["import_", "opt", "emit", "run", "eval", "quantize", "bench", "list_ops", "list_passes"]
"""Modules in irc.commands, in the order `irc --help` lists them (missing ones are skipped)."""


def _load(name: str):
    try:
        return importlib.import_module(f"irc.commands.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"irc.commands.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irc", description="Post-training int8 quantization compiler.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks for errors")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit code 2)."""


def main(argv: list[str] | None = None) -> int:
    from irc.ir.diagnostics import IRError, SourceError
    from irc.ir.registry import VerifyError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (IRError, VerifyError, UsageError) as e:
        if args.debug:
            raise
        # a located error already reads "FILE:LINE:COL: error: ..."
        label = "" if isinstance(e, SourceError) else "error: "
        print(f"irc {args.command}: {label}{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`irc list-ops | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
