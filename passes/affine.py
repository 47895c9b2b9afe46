"""Per-channel affine ops: ops that compute y = x * k + c with k, c constant along the channel axis.

    batch_norm(x, scale, bias, mean, var)   k = scale / sqrt(var + eps),  c = bias - mean * k
    mul(x, s) / mul(s, x)                   k = s,     c = 0
    div(x, s)                               k = 1 / s, c = 0
    add(x, t) / add(t, x)                   k = 1,     c = t
    sub(x, t)                               k = 1,     c = -t
    sub(t, x)                               k = -1,    c = t

s and t must be constants that vary at most along axis 1 (the channel axis of N x C x ...), i.e.
broadcast from a scalar, [C], [C, 1, ...] or [1, C, 1, ...]. `fold` folds such ops into the conv
or gemm before them; `fuse` turns chains of them into one depthwise 1x1 conv.
"""

from __future__ import annotations

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

AFFINE_OPS = ("batch_norm", "mul", "div", "add", "sub")


def per_channel(array: np.ndarray, x: Value) -> np.ndarray | None:
    """`array` as a length-C vector if it broadcasts against x (N x C x ...) along axis 1 only."""
    t = x.type
    channels = t.dims[1] if t.rank >= 2 else None
    if not isinstance(channels, int) or array.ndim > t.rank:
        return None
    a = np.asarray(array, dtype=np.float32)
    shape = (1,) * (t.rank - a.ndim) + a.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(a.reshape(-1), (channels,)).astype(np.float32)


def channel_affine(graph: Graph, op: Op) -> tuple[Value, np.ndarray, np.ndarray] | None:
    """(x, k, c) when op computes x * k + c per channel of its float input x; else None."""
    if op.name not in AFFINE_OPS or op.attrs.get("activation") or len(op.results) != 1:
        return None
    if not op.results[0].type.is_float:
        return None
    if op.name == "batch_norm":
        x = op.operands[0]
        found = [graph.const_value(v) for v in op.operands[1:]]
        arrays = [a for a in found if a is not None]
        if len(arrays) < len(found) or x.type.rank < 2:
            return None
        scale, bias, mean, var = (a.astype(np.float32) for a in arrays)
        k = (scale / np.sqrt(var + np.float32(op.attr("epsilon")))).astype(np.float32)
        return x, k, (bias - mean * k).astype(np.float32)
    a, b = op.operands
    ca, cb = graph.const_value(a), graph.const_value(b)
    if ca is not None and cb is None:
        x, const, const_first = b, ca, True
    elif cb is not None and ca is None:
        x, const, const_first = a, cb, False
    else:  # both or neither constant
        return None
    v = per_channel(const, x)
    if v is None or x.type != op.results[0].type:
        return None
    one, zero = np.ones_like(v), np.zeros_like(v)
    if op.name == "mul":
        return x, v, zero
    if op.name == "div":
        return (x, (one / v).astype(np.float32), zero) if not const_first else None
    if op.name == "add":
        return x, one, v
    return (x, -one, v) if const_first else (x, one, -v)  # sub
