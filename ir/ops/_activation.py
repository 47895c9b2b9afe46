"""Fused activations: an activation folded into the op that produces its input (by `fuse`).

    activation      "" (none), "relu" or "clip"
    activation_min  lower bound (relu: 0.0)
    activation_max  upper bound (relu: inf)

The op computes its result, then y = min(max(y, activation_min), activation_max). The ops that
accept them spread FUSED_ACTIVATION_ATTRS into their attributes and call check_fused_activation
from their verifier.
"""

from __future__ import annotations

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
