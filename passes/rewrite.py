"""Rewrite rules and the greedy driver that applies them until none applies.

A rule looks at one op (its root) and either leaves the graph alone, returning False, or changes
it through the `Rewriter` it is handed, returning True:

    class FoldDoubleNeg(RewriteRule):
        roots = ("neg",)                       # op kinds the rule can start at (None: any)
        def apply(self, op, rw):
            inner = op.operands[0].producer
            if inner is None or inner.name != "neg":
                return False
            rw.replace_value(op.result, inner.operands[0])   # -(-x) -> x, keeping op's name
            return True

`apply_rules(graph, rules)` runs them: a worklist holds every op of the graph in program order;
the driver takes the front op and tries the rules whose roots name it, in the order given, and
the first that rewrites wins. What a rewrite touched goes back on the list: the ops it created,
the ops it changed in place, and the readers of every value it replaced, so that a rewrite that
enables another is followed up at once. The driver stops when the list is empty — a fixed point
of the rules — and returns how often each rule fired. Erased ops are skipped.

Names: a value that replaces another takes its name (`replace_value`, `replace_op`), so that
graph outputs and the printed text keep the names a user knows; constants a rule creates are
named by the rule.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

from .base import PassError


class RewriteRule:
    """One rewrite: `apply(op, rewriter)` changes the graph at `op` and says whether it did."""

    roots: ClassVar[tuple[str, ...] | None] = None
    """The op kinds this rule can start at; None for every op."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def apply(self, op: Op, rw: "Rewriter") -> bool:
        raise NotImplementedError


class Rewriter:
    """The changes a rule may make, each reported to the driver's worklist."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._queue: deque[Op] = deque()
        self._queued: set[int] = set()

    # -- the worklist ----------------------------------------------------------------------------

    def push(self, op: Op) -> None:
        if id(op) not in self._queued and op.graph is self.graph:
            self._queued.add(id(op))
            self._queue.append(op)

    def _push_readers(self, value: Value) -> None:
        for use in value.uses:
            self.push(use.op)

    def pop(self) -> Op | None:
        while self._queue:
            op = self._queue.popleft()
            self._queued.discard(id(op))
            if op.graph is self.graph:  # not erased since it was queued
                return op
        return None

    # -- changes ---------------------------------------------------------------------------------

    def replace_value(self, old: Value, new: Value, rename: bool = True) -> None:
        """Every reader of `old` reads `new`, which takes `old`'s name (unless `rename` is
        False: a value that already has a name of its own, such as a graph input, keeps it)."""
        if new is old:
            return
        name = old.name
        old.replace_all_uses_with(new)
        if name and rename:
            new.name = name
        self._push_readers(new)

    def replace_op(self, op: Op, new_values: Sequence[Value], rename: bool = True) -> None:
        """Every reader of `op`'s results reads `new_values` (which take the results' names
        unless `rename` is False); `op` is erased."""
        if len(new_values) != len(op.results):
            raise PassError(f"{op.name} {op.label}: replaced by {len(new_values)} values for {len(op.results)} results")
        for old, new in zip(op.results, new_values):
            self.replace_value(old, new, rename)
        self.graph.erase(op)

    def erase(self, op: Op) -> None:
        """Remove `op`, whose results nobody reads any more."""
        self.graph.erase(op)

    def changed(self, op: Op) -> None:
        """`op` was changed in place (attributes, operands, result types): look at it and its
        readers again."""
        self.push(op)
        for r in op.results:
            self._push_readers(r)

    def create(self, name: str, operands: Sequence[Value] = (), attrs: dict[str, Any] | None = None,
               **kwargs: Any) -> Op:
        """`Graph.create`, with the new op queued."""
        op = self.graph.create(name, operands, attrs, **kwargs)
        self.push(op)
        return op

    def const(self, array: np.ndarray, name: str, **kwargs: Any) -> Value:
        """`Graph.const` (constants are never roots worth revisiting)."""
        return self.graph.const(array, name, **kwargs)


def apply_rules(graph: Graph, rules: Iterable[RewriteRule], max_rewrites: int | None = None) -> Counter[str]:
    """Apply `rules` to `graph` until none applies; how often each fired (by rule name).

    `max_rewrites` (default: 16 per op plus 1000) guards against rules that undo each other.
    """
    rules = list(rules)
    rw = Rewriter(graph)
    for start in graph.ops:
        rw.push(start)
    limit = max_rewrites if max_rewrites is not None else 16 * len(graph.ops) + 1000
    fired: Counter[str] = Counter()
    while (op := rw.pop()) is not None:
        for rule in rules:
            if rule.roots is not None and op.name not in rule.roots:
                continue
            if rule.apply(op, rw):
                fired[rule.name] += 1
                if sum(fired.values()) > limit:
                    raise PassError(f"rewrite rules did not settle after {limit} rewrites "
                                    f"({', '.join(f'{k} {v}' for k, v in fired.most_common(3))})")
                if op.graph is graph:  # rewritten in place: its other rules may apply now
                    rw.changed(op)
                break
    return fired
