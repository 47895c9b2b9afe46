"""Kernels of the unary elementwise ops (ir/ops/activation.py).

Every kernel returns an array of the op's declared result dtype (numpy would otherwise turn
0-d results into scalars, or widen float16 math). float16 operands are computed in float32 and
rounded once at the end; erf and gelu run in float64. Floating-point exceptions (overflow in
exp, log of 0, ...) give inf/nan as IEEE says, without numpy warnings.
"""

from __future__ import annotations

import functools

import numpy as np

from ..interpreter import kernel
from ._erf import erf as _erf


def quiet(fn):
    """Run a kernel with numpy's floating-point warnings off; IEEE results (inf, nan) stand."""

    @functools.wraps(fn)
    def run(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return run


def result(op, array) -> np.ndarray:
    """`array` as an ndarray of the dtype of the op's (first) result."""
    return np.asarray(array, dtype=op.results[0].type.dtype)


def wide(x: np.ndarray) -> np.ndarray:
    """float16 is computed in float32; other types as they are."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


@kernel("relu")
@quiet
def relu(op, x):
    return result(op, np.maximum(x, np.zeros((), x.dtype)))


@kernel("leaky_relu")
@quiet
def leaky_relu(op, x):
    w = wide(x)
    return result(op, np.where(w >= 0, w, w * op.attr("alpha")))


@kernel("prelu")
@quiet
def prelu(op, x, slope):
    return result(op, np.where(x < 0, x * slope, x))


@kernel("sigmoid")
@quiet
def sigmoid(op, x):
    w = wide(x)
    # exp(-|x|) never overflows; each side of 0 uses the form without cancellation
    e = np.exp(-np.abs(w))
    return result(op, np.where(w >= 0, 1 / (1 + e), e / (1 + e)))


@kernel("hard_sigmoid")
@quiet
def hard_sigmoid(op, x):
    w = wide(x)
    return result(op, np.clip(w * op.attr("alpha") + op.attr("beta"), 0, 1))


@kernel("hard_swish")
@quiet
def hard_swish(op, x):
    w = wide(x)
    # alpha = 1/6 rounded to the operand's precision, as onnxruntime multiplies by it
    return result(op, w * np.clip(w * (1 / 6) + 0.5, 0, 1))


@kernel("tanh")
@quiet
def tanh(op, x):
    return result(op, np.tanh(wide(x)))


@kernel("erf")
@quiet
def erf(op, x):
    return result(op, _erf(x))


@kernel("gelu")
@quiet
def gelu(op, x):
    w = x.astype(np.float64)
    if op.attr("approximate") == "tanh":
        inner = np.sqrt(2 / np.pi) * (w + 0.044715 * w * w * w)
        y = 0.5 * w * (1 + np.tanh(inner))
    else:
        y = 0.5 * w * (1 + _erf(w / np.sqrt(2)))
    return result(op, y)


@kernel("exp")
@quiet
def exp(op, x):
    return result(op, np.exp(wide(x)))


@kernel("log")
@quiet
def log(op, x):
    return result(op, np.log(wide(x)))


@kernel("sqrt")
@quiet
def sqrt(op, x):
    return result(op, np.sqrt(wide(x)))


@kernel("reciprocal")
@quiet
def reciprocal(op, x):
    return result(op, np.reciprocal(wide(x)))


@kernel("softplus")
@quiet
def softplus(op, x):
    # ln(exp(x) + exp(0)) without overflow for large x
    return result(op, np.logaddexp(wide(x), 0))


@kernel("elu")
@quiet
def elu(op, x):
    w = wide(x)
    neg = op.attr("alpha") * np.expm1(np.minimum(w, 0))
    return result(op, np.where(w >= 0, w, neg))


@kernel("neg")
@quiet
def neg(op, x):
    return result(op, np.negative(x))


@kernel("abs")
@quiet
def abs_(op, x):
    return result(op, np.abs(x))


def _int_bound(bound: float | None, dtype: np.dtype, lower: bool):
    """A float bound as the integer bound it means for integers of `dtype` (None: no bound)."""
    if bound is None or np.isnan(bound):
        return None  # no integer compares with nan: no bound
    info = np.iinfo(dtype)
    b = np.ceil(bound) if lower else np.floor(bound)
    return dtype.type(min(max(b, info.min), info.max))


@kernel("clip")
@quiet
def clip(op, x):
    lo, hi = op.attr("min"), op.attr("max")
    y = x
    if x.dtype.kind in "iu":
        lo, hi = _int_bound(lo, x.dtype, True), _int_bound(hi, x.dtype, False)
    else:
        y = wide(x)
    # max first, then min: when min > max every element ends at max, as ONNX says
    if lo is not None:
        y = np.maximum(y, lo)
    if hi is not None:
        y = np.minimum(y, hi)
    return result(op, y)
