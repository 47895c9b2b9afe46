"""Elementwise ops with several operands: arithmetic, comparison, logic, select, cast.

    %z = add(%x, %y) : tensor<[N]x16x8x8xf32>          operands broadcast multidirectionally
    %m = max(%a, %b, %c) : tensor<4xf32>                variadic: max, min, sum, mean
    %c = less(%x, %y) : tensor<4xbool>                  comparisons give bool
    %s = where(%c, %x, %y) : tensor<4xf32>
    %i = cast(%x) {to=i64} : tensor<4xi64>

Broadcasting follows numpy/ONNX: shapes align at the right, a dim of 1 stretches. The result
element type is the operands' shared element type (bool for comparisons and logic; that of `x`
for `pow`; `to` for `cast`). The unary activations live in activation.py.
"""

from __future__ import annotations

from typing import Iterable

from ..attrs import REQUIRED
from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import ELEMENT_DTYPES, FLOAT_ELEMENTS, TensorType
from ._infer import broadcast_dims, same_element
from ._activation import FUSED_ACTIVATION_ATTRS, check_fused_activation

FLOATS = frozenset(FLOAT_ELEMENTS)
INTS = frozenset(e for e in ELEMENT_DTYPES if e[0] in "iu")
NUMERIC = FLOATS | INTS
BOOL = frozenset({"bool"})

FAMILY = "elementwise"


# -- shared rules (activation.py uses them too) ---------------------------------------------------

def require_elements(sig: Signature, allowed: frozenset[str], what: str,
                     types: Iterable[TensorType] | None = None) -> None:
    """Every operand (or each of `types`) must have an (expressed) element type in `allowed`."""
    for t in (sig.types if types is None else types):
        e = expressed(t.element)
        if e not in allowed:
            raise VerifyError(f"{sig.defn.name} takes {what} operands, got {t}")


def broadcast_types(sig: Signature, element) -> list[TensorType]:
    """One result: the broadcast shape of all operands, with `element`."""
    return [TensorType(broadcast_dims([t.dims for t in sig.types]), element)]


def _need_operands(sig: Signature) -> None:
    if not sig.types:
        raise VerifyError(f"{sig.defn.name} needs at least one operand")


def _binary(name: str, allowed: frozenset[str], what: str, doc: str, commutative: bool = False,
            result: str | None = None, variadic: bool = False, fused_activation: bool = False,
            quant: str = "") -> None:
    """Declare an op whose operands share an element type and broadcast together.

    `result` is the fixed result element type (bool for comparisons); None keeps the operands'.
    `fused_activation` lets the fuse pass fold a following relu/clip into the op.
    """

    def verify(s: Signature) -> None:
        _need_operands(s)
        require_elements(s, allowed, what)
        same_element(s)
        if fused_activation:
            check_fused_activation(s)

    def infer(s: Signature) -> list[TensorType]:
        return broadcast_types(s, result if result is not None else s.types[0].element)

    traits = ["elementwise", "pure"] + (["commutative"] if commutative else [])
    define_op(name, operands=["inputs*"] if variadic else ["x", "y"], infer=infer, verify=verify,
              attrs=FUSED_ACTIVATION_ATTRS if fused_activation else None,
              family=FAMILY, traits=traits, doc=doc, quant=quant)


# -- arithmetic -----------------------------------------------------------------------------------

_binary("add", NUMERIC, "numeric", "z = x + y (broadcasting; integers wrap around)", commutative=True,
        fused_activation=True, quant="requantize")
_binary("sub", NUMERIC, "numeric", "z = x - y (broadcasting; integers wrap around)")
_binary("mul", NUMERIC, "numeric", "z = x * y (broadcasting; integers wrap around)", commutative=True,
        quant="requantize")
_binary("div", NUMERIC, "numeric",
        "z = x / y (broadcasting); integer division truncates toward zero")


def _verify_pow(s: Signature) -> None:
    require_elements(s, NUMERIC, "numeric")


define_op(
    "pow", operands=["x", "y"], verify=_verify_pow,
    infer=lambda s: broadcast_types(s, s["x"].element),
    family=FAMILY, traits=["elementwise", "pure"],
    doc="z = x ** y (broadcasting); z has x's element type, y may be of another numeric type")

_binary("max", NUMERIC, "numeric", "y = elementwise maximum of all operands (broadcasting)",
        commutative=True, variadic=True)
_binary("min", NUMERIC, "numeric", "y = elementwise minimum of all operands (broadcasting)",
        commutative=True, variadic=True)
_binary("sum", FLOATS, "float", "y = x_0 + x_1 + ... + x_{n-1} (broadcasting)",
        commutative=True, variadic=True)
_binary("mean", FLOATS, "float", "y = (x_0 + x_1 + ... + x_{n-1}) / n (broadcasting)",
        commutative=True, variadic=True)

# -- comparison and logic -------------------------------------------------------------------------

_binary("equal", NUMERIC | BOOL, "numeric or bool", "z = (x == y), bool (broadcasting)",
        commutative=True, result="bool")
_binary("less", NUMERIC, "numeric", "z = (x < y), bool (broadcasting)", result="bool")
_binary("less_or_equal", NUMERIC, "numeric", "z = (x <= y), bool (broadcasting)", result="bool")
_binary("greater", NUMERIC, "numeric", "z = (x > y), bool (broadcasting)", result="bool")
_binary("greater_or_equal", NUMERIC, "numeric", "z = (x >= y), bool (broadcasting)", result="bool")
_binary("and", BOOL, "bool", "z = x AND y (broadcasting)", commutative=True)
_binary("or", BOOL, "bool", "z = x OR y (broadcasting)", commutative=True)


def _verify_not(s: Signature) -> None:
    require_elements(s, BOOL, "bool")


define_op("not", operands=["x"], infer=lambda s: [s["x"]], verify=_verify_not, family=FAMILY,
          traits=["elementwise", "pure"], doc="y = NOT x")

# -- select and cast ------------------------------------------------------------------------------


def _verify_where(s: Signature) -> None:
    require_elements(s, BOOL, "a bool condition", [s["cond"]])
    same_element(s, ["x", "y"])


define_op(
    "where", operands=["cond", "x", "y"], verify=_verify_where,
    infer=lambda s: broadcast_types(s, s["x"].element),
    family=FAMILY, traits=["elementwise", "pure"],
    doc="z = cond ? x : y, elementwise (all three broadcast together)")

define_op(
    "cast", operands=["x"], attrs={"to": attr("type", REQUIRED, "the result element type")},
    infer=lambda s: [s["x"].with_element(s.attr("to"))],
    family=FAMILY, traits=["elementwise", "pure"],
    doc="y = x converted to element type `to`: float->int truncates toward zero, "
        "int->int wraps, x->bool is x != 0, bool->x is 0 or 1, floats round to nearest even")
