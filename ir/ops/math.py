"""Elementwise math, rounding, classification and bitwise ops.

    %f = floor(%x) : tensor<[N]x4xf32>                 floor, ceil, round (half to even)
    %s = sign(%x) : tensor<4xi64>                       -1, 0 or 1
    %c = cos(%x) : tensor<4xf32>                        sin, cos
    %n = is_nan(%x) : tensor<4xbool>
    %i = is_inf(%x) {detect_negative=0} : tensor<4xbool>
    %m = mod(%a, %b) {fmod=1} : tensor<2x3xi32>         broadcasting; fmod=0 floors, 1 truncates
    %z = xor(%p, %q) : tensor<4xbool>
    %b = bitwise_and(%a, %b) : tensor<4xu8>             bitwise_and/or/xor (broadcasting), bitwise_not

Unary ops give the type of `x` (is_nan and is_inf: its shape, bool). Binary ops broadcast as the
ops of elementwise.py do and keep the operands' shared element type (specs/ops/math.md).
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op
from ..types import TensorType
from ._infer import same_element
from .elementwise import BOOL, FLOATS, INTS, NUMERIC, broadcast_types, require_elements

TRAITS = ["elementwise", "pure"]
FAMILY = "math"


def _flag(s: Signature, key: str) -> None:
    if s.attr(key) not in (0, 1):
        raise VerifyError(f"{s.defn.name}: {key} must be 0 or 1, got {s.attr(key)}")


def _unary(name: str, allowed: frozenset[str], what: str, doc: str, result: str | None = None,
           attrs=None, verify=None) -> None:
    """Declare a one-operand elementwise op; `result` fixes the result element type (else x's)."""

    def check(s: Signature) -> None:
        require_elements(s, allowed, what, [s["x"]])
        if verify is not None:
            verify(s)

    def infer(s: Signature) -> list[TensorType]:
        x = s["x"]
        return [x if result is None else x.with_element(result)]

    define_op(name, operands=["x"], attrs=attrs or {}, infer=infer, verify=check, family=FAMILY,
              traits=TRAITS, doc=doc)


def _binary(name: str, allowed: frozenset[str], what: str, doc: str, commutative: bool,
            attrs=None, verify=None) -> None:
    """Declare a broadcasting two-operand op whose operands share an element type."""

    def check(s: Signature) -> None:
        require_elements(s, allowed, what)
        same_element(s)
        if verify is not None:
            verify(s)

    define_op(name, operands=["x", "y"], attrs=attrs or {},
              infer=lambda s: broadcast_types(s, s["x"].element), verify=check, family=FAMILY,
              traits=TRAITS + (["commutative"] if commutative else []), doc=doc)


# -- rounding and sign ----------------------------------------------------------------------------

_unary("floor", FLOATS, "float", "y = the largest integer <= x (nan, inf and -0.0 stay)")
_unary("ceil", FLOATS, "float", "y = the smallest integer >= x (nan, inf and -0.0 stay)")
_unary("round", FLOATS, "float", "y = x rounded to the nearest integer, halves to even (2.5 -> 2)")
_unary("sign", NUMERIC, "numeric",
       "y = -1, 0 or 1 as x is negative, zero or positive; nan stays nan (float16: 0, as onnxruntime)")

# -- trigonometry ---------------------------------------------------------------------------------

_unary("sin", FLOATS, "float", "y = sin(x), x in radians")
_unary("cos", FLOATS, "float", "y = cos(x), x in radians")

# -- classification -------------------------------------------------------------------------------

_unary("is_nan", FLOATS, "float", "y = (x is nan), bool", result="bool")


def _verify_is_inf(s: Signature) -> None:
    _flag(s, "detect_positive")
    _flag(s, "detect_negative")


_unary("is_inf", FLOATS, "float",
       "y = (x is +inf and detect_positive) or (x is -inf and detect_negative), bool", result="bool",
       attrs={"detect_positive": attr("int", 1, "1: +inf counts"),
              "detect_negative": attr("int", 1, "1: -inf counts")},
       verify=_verify_is_inf)

# -- modulo ---------------------------------------------------------------------------------------


def _verify_mod(s: Signature) -> None:
    _flag(s, "fmod")


_binary("mod", NUMERIC, "numeric",
        "z = x mod y (broadcasting): fmod=0 takes the sign of y (x - floor(x / y) * y), fmod=1 the "
        "sign of x (C fmod); an integer x mod 0 is 0",
        commutative=False, attrs={"fmod": attr("int", 0, "0: floored modulo, 1: truncated (C fmod)")},
        verify=_verify_mod)

# -- logic and bits -------------------------------------------------------------------------------

_binary("xor", BOOL, "bool", "z = x XOR y (broadcasting)", commutative=True)
_binary("bitwise_and", INTS, "integer", "z = x & y, bit by bit (broadcasting)", commutative=True)
_binary("bitwise_or", INTS, "integer", "z = x | y, bit by bit (broadcasting)", commutative=True)
_binary("bitwise_xor", INTS, "integer", "z = x ^ y, bit by bit (broadcasting)", commutative=True)
_unary("bitwise_not", INTS, "integer", "y = ~x, every bit flipped")
