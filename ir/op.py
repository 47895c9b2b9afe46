"""Operations: a kind (`name`), operand values, result values and attributes.

What an op kind means (its operands, attributes, type rule, verifier) is declared once in the
op registry (ir/registry.py, ir/ops/*); an Op instance only holds the data. Operands are changed
only through `set_operand` / `replace_all_uses_with` so the use lists stay exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .attrs import attrs_equal
from .types import TensorType
from .value import Use, Value

if TYPE_CHECKING:
    from .graph import Graph


class Op:
    __slots__ = ("name", "operands", "results", "attrs", "graph")

    def __init__(self, name: str, operands: Sequence[Value] = (),
                 result_types: Sequence[TensorType] = (), attrs: dict[str, Any] | None = None,
                 result_names: Sequence[str | None] | None = None) -> None:
        from .registry import lookup_op

        self.name = name
        self.graph: Graph | None = None
        self.operands: list[Value] = []
        for v in operands:
            self._append_operand(v)
        names = list(result_names) if result_names is not None else [None] * len(result_types)
        if len(names) != len(result_types):
            raise ValueError("result_names and result_types differ in length")
        self.results = [Value(t, n, self, i) for i, (t, n) in enumerate(zip(result_types, names))]
        defn = lookup_op(name)
        self.attrs: dict[str, Any] = defn.normalize_attrs(attrs or {}) if defn else dict(attrs or {})

    # -- operands ---------------------------------------------------------------------------
    def _append_operand(self, v: Value) -> None:
        if not isinstance(v, Value):
            raise TypeError(f"operand of {self.name} must be a Value, got {type(v).__name__}")
        v.uses.append(Use(self, len(self.operands)))
        self.operands.append(v)

    def set_operand(self, index: int, new: Value) -> None:
        old = self.operands[index]
        if old is new:
            return
        old.uses.remove(Use(self, index))
        new.uses.append(Use(self, index))
        self.operands[index] = new

    def set_operands(self, values: Iterable[Value]) -> None:
        self.drop_operands()
        for v in values:
            self._append_operand(v)

    def drop_operands(self) -> None:
        """Remove this op from the use lists of all its operands."""
        for i, v in enumerate(self.operands):
            v.uses.remove(Use(self, i))
        self.operands = []

    # -- convenience ------------------------------------------------------------------------
    @property
    def result(self) -> Value:
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def label(self) -> str:
        """The name that identifies this op to users: the name of its first result."""
        return self.results[0].name if self.results and self.results[0].name else f"<{self.name}>"

    @property
    def defn(self):
        from .registry import lookup_op

        return lookup_op(self.name)

    def attr(self, key: str) -> Any:
        """The value of attribute `key`, or its declared default when not set."""
        if key in self.attrs:
            return self.attrs[key]
        defn = self.defn
        if defn is not None and key in defn.attrs and not defn.attrs[key].required:
            return defn.attrs[key].default
        raise KeyError(f"{self.name} has no attribute {key!r}")

    def operand(self, key: str) -> Value | None:
        """The operand declared as `key` (None when an optional operand is absent)."""
        return self.defn.operand(self, key)

    def same_attrs(self, other: "Op") -> bool:
        return self.attrs.keys() == other.attrs.keys() and all(
            attrs_equal(self.attrs[k], other.attrs[k]) for k in self.attrs)

    def __repr__(self) -> str:
        return f"<Op {self.name} -> {', '.join('%' + str(r.name) for r in self.results)}>"
