"""Unary elementwise ops: activations and math functions.

    %y = relu(%x) : tensor<[N]x16x8x8xf32>
    %y = leaky_relu(%x) {alpha=0.1} : tensor<[N]x16xf32>
    %y = clip(%x) {max=6.0, min=0.0} : tensor<[N]x16xf32>      an absent bound is no bound
    %y = prelu(%x, %slope) : tensor<[N]x16x8x8xf32>             slope broadcasts to x

Each result has the type of `x` (shape and element type). The transcendental functions take
float operands; relu, clip, abs, neg and prelu also take integers, as in ONNX.
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op
from ._infer import same_element
from .elementwise import FAMILY, FLOATS, INTS, NUMERIC, require_elements

SIGNED = FLOATS | frozenset(e for e in INTS if e.startswith("i"))


def _unary(name: str, allowed: frozenset[str], what: str, doc: str, attrs=None, verify=None, quant: str = "") -> None:
    def check(s: Signature) -> None:
        require_elements(s, allowed, what, [s["x"]])
        if verify is not None:
            verify(s)

    define_op(name, operands=["x"], attrs=attrs or {}, infer=lambda s: [s["x"]], verify=check,
              family=FAMILY, traits=["elementwise", "pure"], doc=doc, quant=quant)


_unary("relu", NUMERIC, "numeric", "y = max(x, 0)", quant="activation")
_unary("leaky_relu", FLOATS, "float", "y = x if x >= 0 else alpha * x",
       attrs={"alpha": attr("float", 0.01)})
_unary("sigmoid", FLOATS, "float", "y = 1 / (1 + exp(-x))", quant="activation")
_unary("hard_sigmoid", FLOATS, "float", "y = max(0, min(1, alpha * x + beta))",
       attrs={"alpha": attr("float", 0.2), "beta": attr("float", 0.5)})
_unary("hard_swish", FLOATS, "float", "y = x * max(0, min(1, x / 6 + 1/2))")
_unary("tanh", FLOATS, "float", "y = tanh(x)")
_unary("erf", FLOATS, "float", "y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt")
_unary("exp", FLOATS, "float", "y = exp(x)")
_unary("log", FLOATS, "float", "y = ln(x) (nan below 0, -inf at 0)")
_unary("sqrt", FLOATS, "float", "y = sqrt(x) (nan below 0)")
_unary("reciprocal", FLOATS, "float", "y = 1 / x")
_unary("softplus", FLOATS, "float", "y = ln(1 + exp(x))")
_unary("elu", FLOATS, "float", "y = x if x >= 0 else alpha * (exp(x) - 1)",
       attrs={"alpha": attr("float", 1.0)})
_unary("neg", SIGNED, "float or signed integer", "y = -x (integers wrap around)")
_unary("abs", NUMERIC, "numeric", "y = |x|")


def _verify_gelu(s: Signature) -> None:
    mode = s.attr("approximate")
    if mode not in ("none", "tanh"):
        raise VerifyError(f"gelu approximate must be \"none\" or \"tanh\", got {mode!r}")


_unary("gelu", FLOATS, "float",
       "y = x/2 * (1 + erf(x / sqrt(2))); approximate=\"tanh\": "
       "y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))",
       attrs={"approximate": attr("str", "none")}, verify=_verify_gelu)

_unary("clip", NUMERIC, "numeric",
       "y = min(max(x, min), max); an absent bound is no bound; when min > max every y is max",
       attrs={"min": attr("float", None, "lower bound (none when absent)"),
              "max": attr("float", None, "upper bound (none when absent)")}, quant="activation")


def _verify_prelu(s: Signature) -> None:
    require_elements(s, NUMERIC, "numeric")
    same_element(s)
    x, slope = s["x"], s["slope"]
    # unidirectional: slope must stretch to x's shape, never the other way
    ok = slope.rank <= x.rank and all(
        d == 1 or d == e or not isinstance(d, int) or not isinstance(e, int)
        for d, e in zip(slope.dims, x.dims[x.rank - slope.rank:]))
    if not ok:
        raise VerifyError(f"prelu slope {slope} does not broadcast to x {x}")


define_op(
    "prelu", operands=["x", "slope"], infer=lambda s: [s["x"]], verify=_verify_prelu,
    family=FAMILY, traits=["elementwise", "pure"],
    doc="y = x if x >= 0 else slope * x; slope broadcasts to x's shape (unidirectionally)")
