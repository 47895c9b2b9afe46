"""Kernels of the core ops: const, identity."""

from __future__ import annotations

from ..interpreter import kernel


@kernel("const")
def const(op):
    if op.attrs.get("ref") is not None:
        return op.graph.weights[op.attrs["ref"]]
    return op.attrs["value"]


@kernel("identity")
def identity(op, x):
    return x
