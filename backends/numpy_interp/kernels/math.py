"""Kernels of the elementwise math, rounding, classification and bitwise ops (ir/ops/math.py).

Results have the op's declared dtype exactly. Rounding, sign, modulo and the bitwise ops are
exact in the operand's type (they never round); sin and cos are computed in float64 and rounded
once to the operand's type.
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel
from .activation import quiet, result
from .elementwise import binary_kernel as _binary


def _unary(name: str, fn) -> None:
    @kernel(name)
    @quiet
    def run(op, x):
        return result(op, fn(x))

    run.__name__ = name


for _name, _fn in {
    "floor": np.floor, "ceil": np.ceil, "round": np.rint,
    "is_nan": np.isnan, "bitwise_not": np.invert,
}.items():
    _unary(_name, _fn)

for _name, _fn2 in {
    "xor": np.logical_xor, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}.items():
    _binary(_name, _fn2)


@kernel("sign")
@quiet
def sign(op, x):
    y = np.sign(x)
    if x.dtype == np.float16:  # onnxruntime's float16 sign of nan is 0 (float32 and float64 keep nan)
        y = np.where(np.isnan(x), np.float16(0), y)
    return result(op, y)


@kernel("sin")
@quiet
def sin(op, x):
    return result(op, np.sin(x.astype(np.float64)))


@kernel("cos")
@quiet
def cos(op, x):
    return result(op, np.cos(x.astype(np.float64)))


@kernel("is_inf")
@quiet
def is_inf(op, x):
    y = np.zeros(x.shape, dtype=bool)
    if op.attr("detect_positive"):
        y |= np.isposinf(x)
    if op.attr("detect_negative"):
        y |= np.isneginf(x)
    return result(op, y)


@kernel("mod")
@quiet
def mod(op, x, y):
    # fmod=1: C's fmod (the sign of x); fmod=0: floored (the sign of y, and a zero result is
    # +0 or -0 as y's sign says), numpy's remainder. Integer x mod 0 is 0 in numpy.
    return result(op, np.fmod(x, y) if op.attr("fmod") else np.remainder(x, y))
