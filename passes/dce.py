"""dce: remove ops whose results nobody reads.

    %y = op(...)   with no use of %y   ->   (gone)

Every IR op is free of side effects, so an op without uses can go; erasing one can free its
operands' producers, so ops are visited last to first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from irc.ir.graph import Graph

from .base import Pass, PassContext, register_pass


def remove_dead_ops(graph: Graph, kinds: tuple[str, ...] | None = None) -> int:
    """Erase every op without uses (only ops of `kinds` when given); returns how many."""
    removed = 0
    for op in reversed(list(graph.ops)):
        if (kinds is None or op.name in kinds) and not any(r.uses for r in op.results):
            graph.erase(op)
            removed += 1
    return removed


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove ops whose results are never used."""

    name: ClassVar[str] = "dce"

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        removed = remove_dead_ops(graph)
        ctx.record(self.name, "ops removed", removed)
        return removed > 0
