"""SSA values and their use lists.

A Value is defined once, either by an op (as one of its results) or as a graph input, and
read by any number of ops. Each read is a Use(op, index): the value is operand `index` of
`op`. Use lists are kept up to date by Op (set_operand, erase) and Value.replace_all_uses_with,
so `value.uses` is always exact. Values compare by identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .diagnostics import IRError
from .types import TensorType

if TYPE_CHECKING:
    from .op import Op


class Use(NamedTuple):
    op: "Op"
    index: int  # type: ignore[assignment]  # the operand position; shadows tuple.index, which no caller uses


class Value:
    __slots__ = ("type", "name", "producer", "result_index", "uses", "__weakref__")

    def __init__(self, type: TensorType, name: str | None = None,
                 producer: "Op | None" = None, result_index: int = 0) -> None:
        self.type = type
        self.name = name
        """Name hint, kept through the text format and ONNX (printing makes it unique)."""
        self.producer = producer
        """The op whose result this is, or None for a graph input."""
        self.result_index = result_index
        self.uses: list[Use] = []

    @property
    def io_name(self) -> str:
        """The name of a graph input or output, which feeds and results are keyed by (import and
        the text format name every one); raises IRError for a value without a name."""
        if self.name is None:
            raise IRError(f"{self!r} is a graph input or output without a name")
        return self.name

    @property
    def users(self) -> list["Op"]:
        """Ops reading this value, each once, in use order."""
        seen: dict[int, Op] = {}
        for u in self.uses:
            seen.setdefault(id(u.op), u.op)
        return list(seen.values())

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)

    def replace_all_uses_with(self, new: "Value") -> None:
        """Make every reader of this value read `new` instead.

        Graph outputs are operands of the graph's `return` op, so they follow too.
        """
        if new is self:
            return
        for op, index in list(self.uses):
            op.set_operand(index, new)

    def __repr__(self) -> str:
        return f"<Value %{self.name}: {self.type}>"
