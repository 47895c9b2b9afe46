"""irc list-ops: the op registry."""

from __future__ import annotations

NAME = "list-ops"
HELP = "List the ops of the IR with their operands, attributes and meaning."


def add_arguments(p) -> None:
    p.add_argument("--family", help="only ops of this family")


def run(args) -> int:
    from irc.ir.registry import OP_REGISTRY, lookup_op

    lookup_op("const")  # loads the built-in ops
    for name in sorted(OP_REGISTRY):
        d = OP_REGISTRY[name]
        if args.family and d.family != args.family:
            continue
        attrs = ", ".join(f"{k}: {s.kind}" + ("" if s.required else f" = {s.default!r}") for k, s in d.attrs.items())
        print(f"{name}({', '.join(d.operands)})" + (f" {{{attrs}}}" if attrs else ""))
        if d.doc:
            print(f"    {d.doc}")
    return 0
