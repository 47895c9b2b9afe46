"""Copying a graph, so that a pass can try rewrites on a copy and keep the original.

    copy, ops = clone_graph(graph)     # ops[i] is the copy of graph.ops[i]

The copy has its own ops, values and attribute dicts; the weights store is a new dict whose
arrays are shared with the original (passes replace weights, they never write into an array).
Graph-input attributes (calibrated ranges) are copied too, and nested graphs (the bodies of
generic ops) are copied with them, sharing the copy's weights store.
"""

from __future__ import annotations

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value


def clone_graph(graph: Graph, weights=None) -> tuple[Graph, list[Op]]:
    """A copy of `graph` and the list of its ops in the original's order (`weights`: the store
    the copy uses; by default a new one holding the same arrays)."""
    g = Graph(graph.name)
    if weights is None:
        g.weights.update(graph.weights)
    else:
        g.weights = weights
    vmap: dict[int, Value] = {}
    for v in graph.inputs:
        nv = g.add_input(v.type, v.name)
        vmap[id(v)] = nv
        if id(v) in graph.input_attrs:
            g.input_attrs[id(nv)] = dict(graph.input_attrs[id(v)])
    ops = []
    for op in graph.ops:
        attrs = {k: _clone_attr(v, g.weights) for k, v in op.attrs.items()}
        new = Op(op.name, [vmap[id(v)] for v in op.operands], [r.type for r in op.results],
                 attrs, [r.name for r in op.results])
        for r, nr in zip(op.results, new.results):
            vmap[id(r)] = nr
        g.append(new)
        ops.append(new)
    g.set_outputs([vmap[id(v)] for v in graph.outputs])
    return g, ops


def _clone_attr(value, weights):
    if isinstance(value, Graph):
        return clone_graph(value, weights)[0]
    if isinstance(value, tuple) and value and all(isinstance(v, Graph) for v in value):
        return tuple(clone_graph(v, weights)[0] for v in value)
    return value
