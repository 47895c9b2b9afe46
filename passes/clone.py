"""Copying a graph, so that a pass can try rewrites on a copy and keep the original.

    copy, ops = clone_graph(graph)     # ops[i] is the copy of graph.ops[i]

The copy has its own ops, values and attribute dicts; the weights store is a new dict whose
arrays are shared with the original (passes replace weights, they never write into an array).
Graph-input attributes (calibrated ranges) are copied too.
"""

from __future__ import annotations

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value


def clone_graph(graph: Graph) -> tuple[Graph, list[Op]]:
    """A copy of `graph` and the list of its ops in the original's order."""
    g = Graph(graph.name)
    g.weights.update(graph.weights)
    vmap: dict[int, Value] = {}
    for v in graph.inputs:
        nv = g.add_input(v.type, v.name)
        vmap[id(v)] = nv
        if id(v) in graph.input_attrs:
            g.input_attrs[id(nv)] = dict(graph.input_attrs[id(v)])
    ops = []
    for op in graph.ops:
        new = Op(op.name, [vmap[id(v)] for v in op.operands], [r.type for r in op.results],
                 dict(op.attrs), [r.name for r in op.results])
        for r, nr in zip(op.results, new.results):
            vmap[id(r)] = nr
        g.append(new)
        ops.append(new)
    g.set_outputs([vmap[id(v)] for v in graph.outputs])
    return g, ops
