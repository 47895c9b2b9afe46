"""Integer arithmetic shared by the int8 kernels (int8_*.py): exact products, requantization.

Exact products with float32 BLAS. Stored integers minus their zero point are held as float32;
a dot product of such values is exact as long as every partial sum stays below 2^24, whatever
order BLAS adds in. `exact_matmul` therefore cuts the reduction axis into chunks of at most
`chunk_size(...)` terms (512 for u8 activations and i8 weights: 255 * 128 * 512 < 2^24) and adds
the chunk results as integers (int32 like onnxruntime's accumulator, int64 if a sum could
overflow it). numpy's integer matmul is not used: it does not reach BLAS and is tens of times
slower.

Requantization (specs/quantization.md §3), as onnxruntime's MlasRequantizeOutput does it:

    y_q = clip(round_half_even(f32(acc) * m) + z_y, lo, hi),   m = f32(f32(s_x * s_w) / s_y)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from irc.ir.types import BIAS_SCALE_RTOL, QuantType

from ..interpreter import QUANT_KERNELS
from .quant import broadcast_params

EXACT_LIMIT = 1 << 24
"""float32 holds every integer of magnitude up to 2^24 exactly."""

MAX_CHUNK = 512
"""Most reduction terms summed in one float32 product (specs/quantization.md §4)."""


def fma_scalar(a, b, c) -> np.float32:
    """float32 a * b + c with one rounding, for three float32 scalars, exact for any magnitudes.

    The terms may have exponents far apart (add's constant term: a scale ratio times a zero
    point plus another product), so a float64 sum could round twice; the exact rational sum is
    rounded to the nearest float32 (ties to even) by comparing it with the float32 neighbours
    of its float64 approximation.
    """
    exact = Fraction(float(np.float32(a))) * Fraction(float(np.float32(b))) + Fraction(float(np.float32(c)))
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    # nearest first, then the even significand (lowest bit clear) on a tie
    return min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(v.view(np.uint32)) & 1))


def replace_kernel(name: str):
    """Decorator: make the function the quantized kernel of `name`, replacing an earlier one.

    The shape family registers its fp32 kernels for quantized operands as well; the int8
    modules take those entries over (movement ops gain a check of the quantized types, concat
    gains requantization), whichever module happens to be imported first.
    """
    def register(fn):
        QUANT_KERNELS[name] = fn
        return fn

    return register


def quant_of(op, index: int, what: str) -> QuantType:
    """The quantized element type of operand `index` of `op`; a plain type is an error."""
    t = op.operands[index].type
    if not t.is_quantized:
        raise ValueError(f"{op.name}: {what} must be quantized here (the other operands are), got {t}")
    return t.quant


def result_quant(op, index: int = 0) -> QuantType:
    t = op.results[index].type
    if not t.is_quantized:
        raise ValueError(f"{op.name} with quantized operands needs a quantized result type, got {t}")
    return t.quant


def per_tensor(op, qt: QuantType, what: str) -> QuantType:
    if qt.is_per_axis:
        raise ValueError(f"{op.name}: {what} must be quantized per tensor, got {qt}")
    return qt


def centered(q: np.ndarray, qt: QuantType) -> np.ndarray:
    """q - zero_point as float32 (exact: stored integers and zero points fit float32)."""
    _, z = broadcast_params(qt, q.ndim)
    return np.subtract(q, z, dtype=np.float32)


def offset_bound(qt: QuantType) -> int:
    """The largest |q - z| a value of type `qt` can hold."""
    return max(max(z - qt.qmin, qt.qmax - z) for z in qt.zero_points)


def chunk_size(bound_a: int, bound_b: int) -> int:
    """Most terms per exact float32 dot product when |a| <= bound_a and |b| <= bound_b."""
    return max(1, min(MAX_CHUNK, (EXACT_LIMIT - 1) // max(1, bound_a * bound_b)))


def accumulator_dtype(k: int, bound_a: int, bound_b: int) -> np.dtype:
    """int32 (onnxruntime's accumulator) when a k-term sum cannot overflow it, else int64."""
    return np.dtype(np.int32 if k * bound_a * bound_b < 2**31 else np.int64)


def exact_matmul(a: np.ndarray, b: np.ndarray, bound_a: int, bound_b: int) -> np.ndarray:
    """np.matmul(a, b) of integer-valued float32 arrays with |a| <= bound_a, |b| <= bound_b.

    Exact. A reduction of at most `chunk_size` terms is one float32 BLAS product, returned as
    float32 (its integers are below 2^24). A longer reduction axis (last of `a`, second last of
    `b`, or the only one of a 1-D `b`) is cut into chunks of `chunk_size` terms, each an exact
    float32 product converted to integers and added (`accumulator_dtype`). Loops run over chunks
    only, never over rows or pixels.
    """
    k = a.shape[-1]
    chunk = chunk_size(bound_a, bound_b)
    if k <= chunk:
        return np.matmul(a, b)
    dtype = accumulator_dtype(k, bound_a, bound_b)
    total: np.ndarray | None = None
    part: np.ndarray | None = None
    ints: np.ndarray | None = None
    for start in range(0, k, chunk):
        ks = slice(start, min(start + chunk, k))
        part = np.matmul(a[..., ks], b[ks] if b.ndim == 1 else b[..., ks, :], out=part)
        if total is None or ints is None:
            total = part.astype(dtype)
            ints = np.empty_like(total)
        else:  # reused buffers: the float32 product, its integer copy
            np.copyto(ints, part, casting="unsafe")
            total += ints
    if total is None:  # k > chunk, so the loop ran
        raise ValueError("exact_matmul: no chunk was multiplied")
    return total


def add_bias(acc: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """acc + bias (integers) in place where possible, keeping f32(acc + bias) what it would be.

    An integer accumulator adds in its own type (int32 wraps like onnxruntime's). A float32
    accumulator (exact integers below 2^24) takes a bias below 2^24 in float32: both terms are
    exact, so the one rounding of the float32 sum is that of f32 of the exact integer sum; a
    larger bias moves the sum to int64 first.
    """
    if acc.dtype.kind == "f":
        if np.abs(bias).max(initial=0) <= EXACT_LIMIT:
            acc += bias.astype(np.float32)
            return acc
        acc = acc.astype(np.int64)
    acc += bias.astype(acc.dtype)
    return acc


def output_multiplier(s_in: float, s_w: np.ndarray, s_out: float) -> np.ndarray:
    """m = f32(f32(s_in * s_w) / s_out), evaluated in float32 in that order (onnxruntime's)."""
    prod = np.float32(s_in) * np.asarray(s_w, dtype=np.float32)
    return (prod / np.float32(s_out)).astype(np.float32)


def requantize(acc: np.ndarray, multiplier, qt: QuantType, lo: int, hi: int) -> np.ndarray:
    """clip(round_half_even(f32(acc) * m) + z, lo, hi) in qt's storage type.

    `acc` holds exact integers, as an integer array or as a float32 array of integers below
    2^24 (then it is overwritten); f32(acc) is the nearest float32, as onnxruntime converts its
    int32 accumulator. The bounds are integers, so clipping before or after the rounding is the
    same.
    """
    m = np.asarray(multiplier, dtype=np.float32)
    if acc.dtype == np.float32:
        y = np.multiply(acc, m, out=acc if acc.shape == np.broadcast_shapes(acc.shape, m.shape) else None)
    else:
        y = np.multiply(acc, m, dtype=np.float32)  # int -> float32 rounds to nearest, like cvtdq2ps
    np.rint(y, out=y)
    np.add(y, np.float32(qt.zero_points[0]), out=y)
    np.clip(y, lo, hi, out=y)
    return y.astype(qt.storage_dtype)


def quantize_scalar(v: float, qt: QuantType) -> float:
    """round_half_even(f32(v) / s) + z in float32, unclipped (infinities stay infinite)."""
    with np.errstate(over="ignore"):
        return float(np.rint(np.float32(v) / np.float32(qt.scales[0])) + np.float32(qt.zero_points[0]))


def activation_range(op, qt: QuantType) -> tuple[int, int]:
    """[lo, hi] of the stored result of a compute op, with its fused activation if any.

    `activation` "relu" clamps the real result to [0, activation_max], "clip" to
    [activation_min, activation_max] (ir/ops/_activation.py; absent bounds are infinite); in
    stored integers that is [max(qmin, q(lo)), min(qmax, q(hi))], q(v) = round_half_even(v / s_y) + z_y.
    """
    kind = op.attrs.get("activation") or ""
    lo, hi = qt.qmin, qt.qmax
    if kind == "":
        return lo, hi
    if kind not in ("relu", "clip"):
        raise ValueError(f"{op.name}: unknown fused activation {kind!r} (known: relu, clip)")
    real_lo = 0.0 if kind == "relu" else op.attrs.get("activation_min", -np.inf)
    real_hi = op.attrs.get("activation_max", np.inf)
    q_lo = max(lo, quantize_scalar(real_lo, qt)) if real_lo > -np.inf else lo
    q_hi = min(hi, quantize_scalar(real_hi, qt)) if real_hi < np.inf else hi
    # both inside the storage range; lo > hi (an empty clip) gives hi everywhere, as min(max(.)) does
    return int(min(q_lo, qt.qmax)), int(max(q_hi, qt.qmin))


def bias_values(op, index: int, c: np.ndarray, expected_scales: np.ndarray, what: str = "bias") -> np.ndarray:
    """The i32 bias operand `index` minus its zero point, as int64.

    Its scale must be f32(s_x * s_w) of each output channel (`expected_scales`, one per channel
    along the bias's last axis): the bias is added to the integer accumulator as it is.
    """
    qc = quant_of(op, index, what)
    if qc.storage != "i32":
        raise ValueError(f"{op.name}: the {what} must be stored as i32, got {op.operands[index].type}")
    if qc.is_per_axis and qc.axis != c.ndim - 1:
        raise ValueError(f"{op.name}: a per-axis {what} must be quantized along its last axis "
                         f"(the output channels), got {op.operands[index].type}")
    scales = qc.scale_array()
    expected = np.asarray(expected_scales, dtype=np.float32)
    if scales.size not in (1, expected.size) or not np.all(
            np.abs(scales - expected) <= BIAS_SCALE_RTOL * expected):
        raise ValueError(f"{op.name}: the {what} scale must be input scale x weight scale per output channel "
                         f"({_preview(expected)}), got {op.operands[index].type}")
    zero = np.asarray(qc.zero_points, dtype=np.int64)
    return c.astype(np.int64) - (zero if qc.is_per_axis else zero[0])


def _preview(values: Sequence[float] | np.ndarray, n: int = 4) -> str:
    shown = ", ".join(f"{float(v):.6g}" for v in list(values)[:n])
    return f"[{shown}{', ...' if len(values) > n else ''}]"
