"""Kernels of the broadcasting elementwise ops (ir/ops/elementwise.py).

Results have the op's declared dtype exactly: integers stay integers (wrapping on overflow, as
onnxruntime's C++ arithmetic does), float32 stays float32. Integer division truncates toward
zero; an integer division by zero gives 0 (onnxruntime leaves it undefined).
"""

from __future__ import annotations

import functools

import numpy as np

from ..interpreter import kernel
from .activation import quiet, result


def binary_kernel(name: str, ufunc) -> None:
    """Register the kernel of a broadcasting binary op computed by `ufunc` in the result dtype."""
    @kernel(name)
    @quiet
    def run(op, x, y):
        return result(op, ufunc(x, y))

    run.__name__ = name


for _name, _ufunc in {
    "add": np.add, "sub": np.subtract, "mul": np.multiply,
    "equal": np.equal, "less": np.less, "less_or_equal": np.less_equal,
    "greater": np.greater, "greater_or_equal": np.greater_equal,
    "and": np.logical_and, "or": np.logical_or,
}.items():
    binary_kernel(_name, _ufunc)


@kernel("not")
@quiet
def not_(op, x):
    return result(op, np.logical_not(x))


@kernel("div")
@quiet
def div(op, x, y):
    if x.dtype.kind not in "iu":
        return result(op, np.true_divide(x, y))
    q = np.floor_divide(x, y)
    if x.dtype.kind == "i":
        # floor and truncation differ when the division is inexact and the signs differ
        inexact = np.remainder(x, y) != 0
        q = q + (inexact & ((x < 0) != (y < 0))).astype(q.dtype)
    return result(op, q)


@kernel("pow")
@quiet
def pow_(op, x, y):
    if x.dtype.kind == "f" and y.dtype == x.dtype:
        return result(op, np.power(x, y))
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":
        return result(op, _int_power(x, y))
    # mixed types: onnxruntime's std::pow promotes both to double, then converts back
    # (truncating toward zero for an integer x)
    z = np.power(x.astype(np.float64), y.astype(np.float64))
    if x.dtype.kind in "iu":
        z = np.trunc(z)
    return result(op, z)


def _int_power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x ** y for integer x and y, wrapping in x's type; a negative y gives the real power
    truncated toward zero (0 unless |x| = 1)."""
    yy = y.astype(np.int64)
    neg = yy < 0
    e = np.where(neg, 0, yy)
    # numpy computes in (u)int64, which wraps; narrowing to x's type keeps the low bits, which
    # are the low bits of the exact power
    z = np.power(x, e.astype(np.uint64) if x.dtype == np.uint64 else e)
    if neg.any():
        minus_one = (x == -1) if x.dtype.kind == "i" else np.zeros(np.shape(x), bool)
        odd = (yy % 2) != 0
        special = np.where(x == 1, 1, np.where(minus_one, np.where(odd, -1, 1), 0))
        z = np.where(neg, special.astype(z.dtype), z)
    return z


def _variadic(name: str, step) -> None:
    @kernel(name)
    @quiet
    def run(op, *xs):
        return result(op, functools.reduce(step, xs))

    run.__name__ = name


_variadic("max", np.maximum)
_variadic("min", np.minimum)
_variadic("sum", np.add)


@kernel("mean")
@quiet
def mean(op, *xs):
    total = functools.reduce(np.add, xs)
    return result(op, total / np.asarray(len(xs), dtype=total.dtype))


@kernel("where")
@quiet
def where(op, cond, x, y):
    return result(op, np.where(cond, x, y))


@kernel("cast")
@quiet
def cast(op, x):
    return result(op, x)
