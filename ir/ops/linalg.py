"""Linear algebra ops: general matrix multiply and batched matrix product.

    %y = gemm(%a, %b, %c) {trans_b=1} : tensor<[N]x10xf32>    y = alpha * op(a) @ op(b) + beta * c
    %y = matmul(%a, %b) : tensor<[N]x8x64xf32>                numpy.matmul(a, b)

`gemm` takes rank-2 `a` and `b` (transposed first when trans_a / trans_b is 1) and an optional
`c` that broadcasts one way onto the [M, N] product. `matmul` follows numpy: a 1-D first operand
is a row vector and a 1-D second operand a column vector (the added dim is removed from the
result), all leading dims are batch dims that broadcast against each other.

`check_broadcasts_to` is shared with the normalization ops (ir/ops/norm.py).
"""

from __future__ import annotations

from typing import Sequence

from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import Dim, TensorType, known_product
from ._activation import FUSED_ACTIVATION_ATTRS, check_fused_activation
from ._infer import broadcast_dims, same_element


def fmt_shape(shape: Sequence[Dim]) -> str:
    """A shape as users read it: [2,?,N]."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def dims_clash(a: Dim, b: Dim) -> bool:
    """Whether two dims are known sizes that differ."""
    return isinstance(a, int) and isinstance(b, int) and a != b


def check_broadcasts_to(op: str, what: str, shape: Sequence[Dim], target: Sequence[Dim]) -> None:
    """Raise unless `shape` broadcasts one way onto `target` (numpy rules, target unchanged)."""
    if len(shape) > len(target):
        raise VerifyError(f"{op}: {what} of shape {fmt_shape(shape)} has more dims than "
                          f"{fmt_shape(target)}, which it must broadcast to")
    for d, t in zip(reversed(shape), reversed(target)):
        if d != 1 and dims_clash(d, t):
            raise VerifyError(f"{op}: {what} of shape {fmt_shape(shape)} does not broadcast to "
                              f"{fmt_shape(target)}")


def check_numeric(sig: Signature, keys: Sequence[str]) -> None:
    """The named operands must share an element type that is a number (bool is not)."""
    elem = same_element(sig, keys)
    if expressed(elem) == "bool":
        raise VerifyError(f"{sig.defn.name} does not take bool operands")


# -- gemm -----------------------------------------------------------------------------------------

def _gemm_dims(s: Signature) -> tuple[Dim, Dim, Dim, Dim]:
    """(M, K of a, K of b, N) after the transposes; checks both operands are matrices."""
    a, b = s["a"], s["b"]
    for key, t in (("a", a), ("b", b)):
        if t.rank != 2:
            raise VerifyError(f"gemm: operand {key} must be a matrix (rank 2), got {t}")
    m, ka = (a.dims[1], a.dims[0]) if s.attr("trans_a") else a.dims
    kb, n = (b.dims[1], b.dims[0]) if s.attr("trans_b") else b.dims
    return m, ka, kb, n


def _verify_gemm(s: Signature) -> None:
    for key in ("trans_a", "trans_b"):
        if s.attr(key) not in (0, 1):
            raise VerifyError(f"gemm: {key} must be 0 or 1, got {s.attr(key)}")
    check_numeric(s, ["a", "b"] + (["c"] if s.has("c") else []))
    m, ka, kb, n = _gemm_dims(s)
    if dims_clash(ka, kb):
        raise VerifyError(f"gemm: inner dims differ: op(a) is {fmt_shape([m, ka])}, "
                          f"op(b) is {fmt_shape([kb, n])}")
    if s.has("c"):
        check_broadcasts_to("gemm", "operand c", s["c"].dims, (m, n))
    check_fused_activation(s)


def _infer_gemm(s: Signature) -> list[TensorType]:
    m, _, _, n = _gemm_dims(s)
    return [TensorType((m, n), expressed(s["a"].element))]




define_op(
    "gemm", operands=["a", "b", "c?"],
    attrs={"alpha": attr("float", 1.0, "scale of the product"),
           "beta": attr("float", 1.0, "scale of c"),
           "trans_a": attr("int", 0, "1: use a transposed"),
           "trans_b": attr("int", 0, "1: use b transposed"),
           **FUSED_ACTIVATION_ATTRS},
    infer=_infer_gemm, verify=_verify_gemm, family="linalg", traits=["pure"], quant="compute",
    weight_axis=lambda s: 0 if s.attr("trans_b") else 1,
    macs_per_output=lambda s: known_product([s["a"].dims[0] if s.attr("trans_a") else s["a"].dims[-1]]),
    doc="y = alpha * op(a) @ op(b) + beta * c, op(t) = t^T when trans_t=1; c broadcasts to [M, N].")


# -- matmul ---------------------------------------------------------------------------------------

def _matmul_parts(s: Signature) -> tuple[tuple[Dim, ...], list[Dim], Dim, Dim]:
    """(broadcast batch dims, result matrix dims, K of a, K of b) of numpy matmul."""
    a, b = s["a"].shape, s["b"].shape
    if not a or not b:
        raise VerifyError(f"matmul: operands must have rank 1 or more, got {s['a']} and {s['b']}")
    a2 = (1, a[0]) if len(a) == 1 else a
    b2 = (b[0], 1) if len(b) == 1 else b
    batch = broadcast_dims([a2[:-2], b2[:-2]])
    dims = ([a2[-2]] if len(a) > 1 else []) + ([b2[-1]] if len(b) > 1 else [])
    return batch, dims, a2[-1], b2[-2]


def _verify_matmul(s: Signature) -> None:
    check_numeric(s, ["a", "b"])
    a, b = s["a"].dims, s["b"].dims
    try:
        _, _, ka, kb = _matmul_parts(s)
    except VerifyError as e:
        if "broadcast" in str(e):
            raise VerifyError(f"matmul: batch dims of {fmt_shape(a)} and {fmt_shape(b)} do not broadcast") from None
        raise
    if dims_clash(ka, kb):
        raise VerifyError(f"matmul: inner dims differ: a is {fmt_shape(a)} (K={ka}), "
                          f"b is {fmt_shape(b)} (K={kb})")
    check_fused_activation(s)


def _infer_matmul(s: Signature) -> list[TensorType]:
    batch, dims, _, _ = _matmul_parts(s)
    return [TensorType(tuple(batch) + tuple(dims), expressed(s["a"].element))]


define_op(
    "matmul", operands=["a", "b"], attrs=FUSED_ACTIVATION_ATTRS, infer=_infer_matmul, verify=_verify_matmul,
    family="linalg", traits=["pure"], quant="compute",
    weight_axis=lambda s: 1 if s["b"].rank == 2 else None,  # one scale per column of the result
    macs_per_output=lambda s: known_product(s["a"].dims[-1:]),
    doc="y = numpy.matmul(a, b): y[..., i, j] = sum_k a[..., i, k] * b[..., k, j], batch dims "
        "broadcast; a 1-D a is [1, K] and a 1-D b is [K, 1], the added dim dropped from y.")
