"""A seeded generator of random, valid IR graphs for the text-format laws.

Graphs mix inline and stored constants of several element types (floats drawn from random bit
patterns), quantized types (per-tensor and per-axis), symbolic and unknown dims, odd value
names that need quoting, and ops with float, int and list attributes.
"""

from __future__ import annotations

import numpy as np

from irc.ir import Graph, QuantType, TensorType
from irc.ir.registry import lookup_op

UNARY = ["relu", "sigmoid", "tanh", "abs", "neg", "exp", "identity"]
BINARY = ["add", "sub", "mul", "max"]
NAME_CHARS = list("abcxyz019_.-/") + [":", " ", "é", '"']


def _name(rng: np.random.Generator, taken: set[str]) -> str | None:
    if rng.random() < 0.2:
        return None  # printed as a number
    while True:
        n = "".join(rng.choice(NAME_CHARS) for _ in range(int(rng.integers(1, 8))))
        if n not in taken:
            taken.add(n)
            return n


def _random_floats(rng: np.random.Generator, shape) -> np.ndarray:
    bits = rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    return np.where(np.isnan(x), np.float32(0.5), x).astype(np.float32)


def random_graph(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    g = Graph(rng.choice(["main", "net", "odd name"]))
    dims = [int(rng.integers(1, 5)) for _ in range(3)]
    batch = rng.choice(["N", None, 2])
    t = TensorType((batch if not isinstance(batch, np.integer) else int(batch), *dims), "f32")
    pool = [g.add_input(t, _name(rng, taken) or "x")]
    for _ in range(int(rng.integers(3, 14))):
        kind = rng.integers(0, 6)
        x = pool[int(rng.integers(len(pool)))]
        if kind == 0:
            op = rng.choice([u for u in UNARY if lookup_op(u)])
            v = g.create(op, [x], names=[_name(rng, taken)]).result
        elif kind == 1 and lookup_op("leaky_relu"):
            alpha = float(_random_floats(rng, ())) if rng.random() < 0.5 else 0.01
            v = g.create("leaky_relu", [x], {"alpha": alpha}, names=[_name(rng, taken)]).result
        elif kind == 2:
            shape = [int(d) for d in x.type.shape[1:]]
            arr = _random_floats(rng, shape) if rng.random() < 0.5 else rng.standard_normal(shape).astype(np.float32)
            c = g.const(arr, _name(rng, taken) or "w", inline=bool(rng.random() < 0.5))
            v = g.create(str(rng.choice([b for b in BINARY if lookup_op(b)])), [x, c], names=[_name(rng, taken)]).result
        elif kind == 3:
            if x.type.is_float:
                axis = int(rng.integers(1, x.type.rank))
                n = x.type.shape[axis]
                if rng.random() < 0.5:
                    qt = QuantType.per_tensor(str(rng.choice(["u8", "i8"])), float(rng.uniform(1e-4, 2)),
                                              int(rng.integers(0, 100)))
                else:
                    qt = QuantType.per_axis("i8", rng.uniform(1e-4, 2, n), np.zeros(n, int), axis)
                q = g.create("quantize", [x], types=[x.type.with_element(qt)], names=[_name(rng, taken)]).result
                v = g.create("dequantize", [q], names=[_name(rng, taken)]).result
            else:
                continue
        elif kind == 4 and lookup_op("transpose"):
            perm = [0, *(int(i) + 1 for i in rng.permutation(x.type.rank - 1))]
            v = g.create("transpose", [x], {"perm": perm}, names=[_name(rng, taken)]).result
        else:
            dt = rng.choice(["i64", "i32", "u8", "bool", "f64", "f16"])
            shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3)))]
            if dt in ("f64", "f16"):
                arr = rng.standard_normal(shape).astype(dt.replace("f", "float"))
            elif dt == "bool":
                arr = rng.random(shape) < 0.5
            else:
                arr = rng.integers(0, 100, shape).astype({"i64": np.int64, "i32": np.int32, "u8": np.uint8}[dt])
            c = g.const(arr, _name(rng, taken) or "c", inline=bool(rng.random() < 0.7))
            g_out = getattr(g, "_extra", [])
            g_out.append(c)
            g._extra = g_out
            continue
        pool.append(v)
    outs = [pool[-1]] + getattr(g, "_extra", [])[:2]
    g.set_outputs(outs)
    return g
