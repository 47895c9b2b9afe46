"""Structural equality of graphs (what the round-trip law `parse(print(g)) == g` means).

Two graphs are equal when they have the same name, the same inputs (names and types), the same
ops in the same order (kind, attributes, result names and types), every operand refers to the
value at the same position in both, the same outputs, and every referenced weight holds the same
bytes.
"""

from __future__ import annotations

from .attrs import attrs_equal
from .graph import Graph


def graph_difference(a: Graph, b: Graph) -> str | None:
    """None when `a` and `b` are equal, else a sentence saying where they first differ."""
    if a.name != b.name:
        return f"names differ: {a.name!r} vs {b.name!r}"
    pos_a: dict[int, int] = {}
    pos_b: dict[int, int] = {}
    if len(a.inputs) != len(b.inputs):
        return f"{len(a.inputs)} vs {len(b.inputs)} inputs"
    for i, (x, y) in enumerate(zip(a.inputs, b.inputs)):
        if x.name != y.name or x.type != y.type:
            return f"input {i}: %{x.name}: {x.type} vs %{y.name}: {y.type}"
        ax, ay = a.input_attrs.get(id(x), {}), b.input_attrs.get(id(y), {})
        if ax.keys() != ay.keys() or not all(attrs_equal(ax[k], ay[k]) for k in ax):
            return f"input {i}: attributes differ"
        pos_a[id(x)] = pos_b[id(y)] = i
    if len(a.ops) != len(b.ops):
        return f"{len(a.ops)} vs {len(b.ops)} ops"
    n = len(a.inputs)
    for k, (p, q) in enumerate(zip(a.ops, b.ops)):
        where = f"op {k} ({p.name} {p.label})"
        if p.name != q.name:
            return f"{where}: kind {p.name} vs {q.name}"
        if p.attrs.keys() != q.attrs.keys() or not all(attrs_equal(p.attrs[key], q.attrs[key]) for key in p.attrs):
            return f"{where}: attributes differ"
        if [pos_a.get(id(v)) for v in p.operands] != [pos_b.get(id(v)) for v in q.operands]:
            return f"{where}: operands differ"
        if len(p.results) != len(q.results):
            return f"{where}: result counts differ"
        for r, s in zip(p.results, q.results):
            if r.name != s.name or r.type != s.type:
                return f"{where}: result %{r.name}: {r.type} vs %{s.name}: {s.type}"
            pos_a[id(r)] = pos_b[id(s)] = n
            n += 1
        if p.name == "const" and p.attrs.get("ref") is not None:
            wa, wb = a.weights[p.attrs["ref"]], b.weights[q.attrs["ref"]]
            if not attrs_equal(wa, wb):
                return f"{where}: weight @{p.attrs['ref']} differs"
    if [pos_a.get(id(v)) for v in a.outputs] != [pos_b.get(id(v)) for v in b.outputs]:
        return "outputs differ"
    return None


def graphs_equal(a: Graph, b: Graph) -> bool:
    return graph_difference(a, b) is None
