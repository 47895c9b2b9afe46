"""Graphs: ordered ops, inputs, outputs, and the weights store their constants live in.

A Graph is one function: `inputs` are Values without a producer, `ops` run in list order (the
verifier checks that every value is defined before it is read), and the outputs are the operands
of the `return` op, which is kept apart from `ops` so that outputs are ordinary uses.

Constants are `const` ops. A large constant names an entry of `graph.weights` (`ref`), a small
one may hold its array inline (`value`); `const_value` reads either.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from .op import Op
from .registry import get_op
from .types import TensorType
from .value import Value


class Weights(dict):
    """The weights store: name -> numpy array. Constants refer to entries by name."""

    def add(self, name: str, array: np.ndarray) -> str:
        """Store `array` under `name` (made unique if taken); return the name used."""
        base, n, key = name, 1, name
        while key in self:
            key = f"{base}_{n}"
            n += 1
        self[key] = np.asarray(array, order="C")
        return key


class Graph:
    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.input_attrs: dict[int, dict[str, Any]] = {}
        """Discardable attributes of graph inputs (e.g. calibrated ranges), by id of the input."""
        self.ops: list[Op] = []
        self.weights = Weights()
        self.return_op = Op("return")
        self.return_op.graph = self
        self.import_notes: list[str] = []
        """Why the importer kept nodes as generic ops (not part of the IR: never printed)."""

    # -- inputs and outputs -----------------------------------------------------------------
    def add_input(self, type: TensorType, name: str | None = None) -> Value:
        v = Value(type, name)
        self.inputs.append(v)
        return v

    @property
    def outputs(self) -> list[Value]:
        return list(self.return_op.operands)

    def set_outputs(self, values: Sequence[Value]) -> None:
        self.return_op.set_operands(values)

    # -- ops --------------------------------------------------------------------------------
    def _adopt(self, op: Op) -> Op:
        if op.graph is not None and op.graph is not self:
            raise ValueError(f"{op} already belongs to another graph")
        op.graph = self
        return op

    def append(self, op: Op) -> Op:
        self.ops.append(self._adopt(op))
        return op

    def insert_before(self, anchor: Op, op: Op) -> Op:
        self.ops.insert(self.ops.index(anchor), self._adopt(op))
        return op

    def insert_after(self, anchor: Op, op: Op) -> Op:
        self.ops.insert(self.ops.index(anchor) + 1, self._adopt(op))
        return op

    def erase(self, op: Op) -> None:
        """Remove `op`; its results must have no uses left."""
        for r in op.results:
            if r.uses:
                users = ", ".join(u.op.label for u in r.uses)
                raise ValueError(f"cannot erase {op.name} {op.label}: its result is still used by {users}")
        op.drop_operands()
        self.ops.remove(op)
        op.graph = None

    def replace_op(self, op: Op, new_values: Sequence[Value]) -> None:
        """Rewire every use of `op`'s results to `new_values`, then erase `op`."""
        for old, new in zip(op.results, new_values, strict=True):
            old.replace_all_uses_with(new)
        self.erase(op)

    def create(self, name: str, operands: Sequence[Value] = (), attrs: dict[str, Any] | None = None,
               names: Sequence[str | None] | None = None, *, types: Sequence[TensorType] | None = None,
               before: Op | None = None, after: Op | None = None) -> Op:
        """Build an op and place it (at the end by default).

        Result types are inferred; `types` overrides them where inference cannot decide, e.g.
        the quantized type a `quantize` produces (the verifier still checks it fits).
        """
        defn = get_op(name)
        attrs = defn.normalize_attrs(attrs or {})
        inferred = defn.infer_types([v.type for v in operands], attrs)
        types = list(types) if types is not None else inferred
        op = Op(name, operands, types, attrs, names)
        if before is not None:
            return self.insert_before(before, op)
        if after is not None:
            return self.insert_after(after, op)
        return self.append(op)

    def const(self, array: np.ndarray, name: str, *, inline: bool | None = None,
              type: TensorType | None = None, **where) -> Value:
        """A constant holding `array`: stored in the weights store, or inline when small."""
        from .types import type_of_array

        t = type or type_of_array(array)
        if inline is None:
            inline = array.size <= INLINE_LIMIT
        if inline:
            op = Op("const", (), [t], {"value": np.asarray(array, order="C")}, [name])
        else:
            key = self.weights.add(name, array)
            op = Op("const", (), [t], {"ref": key}, [name])
        if where.get("before") is not None:
            return self.insert_before(where["before"], op).result
        if where.get("after") is not None:
            return self.insert_after(where["after"], op).result
        return self.append(op).result

    def const_value(self, value: Value) -> np.ndarray | None:
        """The array of a constant value, or None when `value` is not a constant."""
        op = value.producer
        if op is None or op.name != "const":
            return None
        if "value" in op.attrs:
            return op.attrs["value"]
        return self.weights[op.attrs["ref"]]

    def const_array(self, value: Value) -> np.ndarray:
        """The array of a value a caller knows to be constant (an IRError naming it otherwise)."""
        a = self.const_value(value)
        if a is None:
            from .diagnostics import IRError

            raise IRError(f"{value.name or 'a value'} is not a constant")
        return a

    # -- walking and analysis ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Op]:
        return iter(list(self.ops))

    def walk(self) -> Iterator[Op]:
        """Every op of this graph and of the graphs nested in its ops (generic ops' bodies)."""
        from .generic import regions

        for op in self.ops:
            yield op
            for sub in regions(op):
                yield from sub.walk()

    def nested(self, name: str) -> "Graph":
        """A new graph for a body nested in one of this graph's ops: it shares the weights store."""
        g = Graph(name)
        g.weights = self.weights
        return g

    def values(self) -> Iterator[Value]:
        yield from self.inputs
        for op in self.ops:
            yield from op.results

    def find(self, label: str) -> Op:
        """The op whose first result is named `label`."""
        for op in self.ops:
            if op.results and op.results[0].name == label:
                return op
        raise KeyError(f"no op named {label!r}")

    def last_uses(self) -> dict[int, list[Value]]:
        """For each op index, the values whose last reader is that op (for freeing early)."""
        last: dict[int, int] = {}
        vals: dict[int, Value] = {}
        for i, op in enumerate(self.ops):
            for v in op.operands:
                last[id(v)] = i
                vals[id(v)] = v
        outs = {id(v) for v in self.outputs}
        result: dict[int, list[Value]] = {}
        for vid, i in last.items():
            if vid not in outs:
                result.setdefault(i, []).append(vals[vid])
        return result


INLINE_LIMIT = 16
"""Constants with at most this many elements are printed inline; larger ones go to weights."""
