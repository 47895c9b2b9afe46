"""Window arithmetic shared by conv, conv_transpose and the pools.

One spatial axis at a time: `k` kernel size, `s` stride, `d` dilation, `pb`/`pe` padding at the
begin/end of the axis. A dilated kernel covers `(k - 1) * d + 1` input positions.

    conv / pools      out = floor((in + pb + pe - dk) / s) + 1
    pools, ceil_mode  out = ceil((in + pb + pe - dk) / s) + 1, minus one when the last window
                      would start inside the end padding (onnxruntime drops that window)
    SAME_*            out = ceil(in / s); the total padding (out - 1) * s + dk - in is split in
                      two halves, the odd one at the end (SAME_UPPER) or at the begin (SAME_LOWER)
    conv_transpose    out = s * (in - 1) + output_padding + dk - pb - pe

The declarations (ir/ops/conv.py), the interpreter kernels and the ONNX converters all use these
functions, so the three agree on every size.
"""

from __future__ import annotations

from typing import Sequence

from ..registry import Signature, VerifyError
from ..types import Dim

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
"""ONNX's auto_pad values. The IR keeps only NOTSET and SAME_* (VALID is pads of zero)."""


def dilated(k: int, d: int) -> int:
    """Input positions a kernel of size `k` with dilation `d` covers."""
    return (k - 1) * d + 1


def split_total(total: int, upper: bool) -> tuple[int, int]:
    """Split a total padding into (begin, end); the odd unit goes to the end when `upper`."""
    small, big = total // 2, total - total // 2
    return (small, big) if upper else (big, small)


def same_pads(size: int, k: int, s: int, d: int, upper: bool) -> tuple[int, int]:
    """(begin, end) padding that makes the output ceil(size / s) long."""
    out = -(-size // s)
    total = max(0, (out - 1) * s + dilated(k, d) - size)
    return split_total(total, upper)


def window_count(size: int, k: int, s: int, d: int, pb: int, pe: int, ceil_mode: bool = False) -> int:
    """Number of window positions along one axis; below 1 when the window does not fit."""
    span = size + pb + pe - dilated(k, d)
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + pb:  # that window would start in the end padding
        out -= 1
    return out


def transpose_size(size: int, k: int, s: int, d: int, pb: int, pe: int, output_padding: int) -> int:
    """Output length of a transposed convolution along one axis."""
    return s * (size - 1) + output_padding + dilated(k, d) - pb - pe


def axis_lists(sig: Signature, n: int, keys: Sequence[str] = ("strides", "dilations")) -> list[list[int]]:
    """The per-axis attributes `keys` of an op with `n` spatial axes, an empty list meaning all ones.

    Checks each has n positive entries.
    """
    out = []
    for key in keys:
        v = list(sig.attr(key)) or [1] * n
        if len(v) != n:
            raise VerifyError(f"{sig.defn.name}: {key} has {len(v)} entries but the input has {n} spatial axes")
        if any(x < 1 for x in v):
            raise VerifyError(f"{sig.defn.name}: {key} must be positive, got {v}")
        out.append(v)
    return out


def pads_list(sig: Signature, n: int) -> list[int]:
    """The op's `pads` as 2n non-negative entries [begin..., end...]; empty means zeros.

    With auto_pad SAME_* the pads are computed from the input shape and `pads` must be empty.
    """
    pads = list(sig.attr("pads")) or [0] * (2 * n)
    auto_pad = sig.attr("auto_pad") if "auto_pad" in sig.defn.attrs else "NOTSET"
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER"):
        raise VerifyError(f"{sig.defn.name}: auto_pad must be NOTSET, SAME_UPPER or SAME_LOWER, got {auto_pad!r} "
                          "(VALID is written as pads of zero)")
    if auto_pad != "NOTSET" and sig.attr("pads"):
        raise VerifyError(f"{sig.defn.name}: give either pads or auto_pad={auto_pad}, not both")
    if len(pads) != 2 * n:
        raise VerifyError(f"{sig.defn.name}: pads has {len(pads)} entries, expected {2 * n} "
                          f"(begin and end for each of {n} spatial axes)")
    if any(p < 0 for p in pads):
        raise VerifyError(f"{sig.defn.name}: pads must not be negative, got {pads}")
    return pads


def resolve_pads(auto_pad: str, pads: Sequence[int], sizes: Sequence[Dim], kernel: Sequence[Dim],
                 strides: Sequence[int], dilations: Sequence[int]) -> list[int] | None:
    """Explicit pads [begin..., end...] for conv and pools; None when SAME_* meets an unknown size.

    `pads` is the explicit list (used as is unless auto_pad is SAME_*); VALID means zeros.
    """
    n = len(sizes)
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return list(pads) or [0] * (2 * n)
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        if not isinstance(size, int) or not isinstance(k, int):
            return None
        b, e = same_pads(size, k, s, d, auto_pad == "SAME_UPPER")
        begins.append(b)
        ends.append(e)
    return begins + ends


def spatial_out(sig: Signature, sizes: Sequence[Dim], kernel: Sequence[Dim], strides: Sequence[int],
                dilations: Sequence[int], pads: Sequence[int], ceil_mode: bool = False) -> list[Dim]:
    """Output spatial dims of conv or a pool (None where unknown); raises when a window cannot fit."""
    n = len(sizes)
    auto_pad = sig.attr("auto_pad")
    out: list[Dim] = []
    for i, (size, k, s, d) in enumerate(zip(sizes, kernel, strides, dilations)):
        if not isinstance(size, int) or not isinstance(k, int):
            out.append(None)
            continue
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-size // s)
        else:
            o = window_count(size, k, s, d, pads[i], pads[n + i], ceil_mode)
        if o < 1:
            raise VerifyError(
                f"{sig.defn.name}: along spatial axis {i} the window ({k} taps, dilation {d}, covering "
                f"{dilated(k, d)}) does not fit the input of size {size} padded by ({pads[i]}, {pads[n + i]})")
        out.append(o)
    return out
