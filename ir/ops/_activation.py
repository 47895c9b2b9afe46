"""Fused activations: an activation folded into the op that produces its input (by `fuse`).

    activation      "" (none), "relu" or "clip"
    activation_min  lower bound (relu: 0.0)
    activation_max  upper bound (relu: inf)

The op computes its result, then y = min(max(y, activation_min), activation_max). The ops that
accept them spread FUSED_ACTIVATION_ATTRS into their attributes and call check_fused_activation
from their verifier.
"""

from __future__ import annotations

import math

from ..diagnostics import IRError
from ..registry import Signature, VerifyError, attr

FUSED_ACTIVATION_ATTRS = {
    "activation": attr("str", "", "fused activation applied to the result: relu or clip"),
    "activation_min": attr("float", float("-inf"), "lower bound of the fused activation"),
    "activation_max": attr("float", float("inf"), "upper bound of the fused activation"),
}

FUSED_ACTIVATIONS = ("", "relu", "clip")


def check_fused_activation(sig: Signature) -> None:
    act = sig.attr("activation")
    if act not in FUSED_ACTIVATIONS:
        raise VerifyError(f"{sig.defn.name}: activation must be relu or clip, got {act!r}")
    if sig.attr("activation_min") > sig.attr("activation_max"):
        raise VerifyError(f"{sig.defn.name}: activation_min is above activation_max")
    if not act and (sig.has("activation_min") or sig.has("activation_max")):
        raise VerifyError(f"{sig.defn.name}: activation bounds without an activation")


def fused_activation(op) -> tuple[str, float, float] | None:
    """(kind, lo, hi) of `op`'s fused activation, or None when it has none."""
    kind = op.attrs.get("activation")
    if kind in (None, "", "none"):
        return None
    if kind not in ("relu", "clip"):
        raise IRError(f"{op.name} {op.label}: unknown fused activation {kind!r} (expected relu or clip)")
    lo = op.attrs.get("activation_min")
    hi = op.attrs.get("activation_max")
    lo = (0.0 if kind == "relu" else -math.inf) if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    return kind, lo, hi
