"""Generic ops: an ONNX op that irc has no declaration for, kept exactly as the model has it.

    %n = onnx.NonMaxSuppression(%boxes, %scores) : tensor<?x3xi64>
    %y = com.microsoft.FusedMatMul(%a, %b) {alpha=1.0, transB=1, onnx.version=1} : tensor<?x8xf32>
    %r = onnx.If(%c, %x) {onnx.captures=1, then_branch=func @then(%x_1: ...) -> (...) {...}, ...}

The op kind is `DOMAIN.OpType`, with `onnx` standing for ONNX's default domain (a name that is
not a plain dotted identifier is written as a JSON string). Generic ops are declared on first
use, one OpDef per kind, all alike:

  - attributes are the ONNX attributes under their ONNX names, in irc's attribute kinds (int,
    float, str, ints, floats, strs, tensor) plus `graph` (a nested Graph), `graphs` and types
    (an ONNX TYPE_PROTO attribute, written as the type: `type=!seq<tensor<*xf32>>`);
    discardable attributes (keys with a dot) carry what irc adds: `onnx.version` (the opset of
    a domain other than the default one; on a default-domain op ONNX added after opset 21, such
    as RMSNormalization, the model's opset, which export then declares), `onnx.absent` and `onnx.absent_outputs` (positions of
    ONNX inputs / outputs left empty, e.g. [1] for Clip(x, "", max); results are the named
    outputs), `onnx.captures` (see below), `q.range`, `q.fallback`;
  - result types are declared, never inferred: import takes them from onnx's (or onnxruntime's)
    shape inference, and they may be unranked (`tensor<*xf32>`);
  - nested graphs (If/Loop/Scan bodies) are isolated: a value of the enclosing graph that a body
    reads is passed explicitly. The op's last `onnx.captures` operands are those values, and
    every nested graph takes them as its last inputs, in the same order, after its own ONNX
    inputs. Export writes them back as references to the enclosing graph's tensors.

The interpreter runs a generic op as a one-node ONNX model (onnx's reference implementation for
the default domain, onnxruntime otherwise); quantization treats it as float.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from .attrs import is_discardable, normalize_discardable
from .registry import OpDef, Signature, VerifyError

if TYPE_CHECKING:
    from .graph import Graph
    from .op import Op

DEFAULT_DOMAIN_PREFIX = "onnx"
FAMILY = "generic"

VERSION_KEY = "onnx.version"
ABSENT_KEY = "onnx.absent"
ABSENT_OUTPUTS_KEY = "onnx.absent_outputs"
CAPTURES_KEY = "onnx.captures"

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")

NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli", "Dropout"})
"""Op types whose results are not a function of their inputs: never folded."""


def generic_name(domain: str, op_type: str) -> str:
    """The irc op kind of ONNX op `op_type` in `domain`."""
    if not op_type or "." in op_type:
        raise ValueError(f"bad ONNX op type {op_type!r}")
    return f"{DEFAULT_DOMAIN_PREFIX if domain in ('', 'ai.onnx') else domain}.{op_type}"


def is_generic_name(name: str) -> bool:
    return "." in name


def split_generic_name(name: str) -> tuple[str, str]:
    """(domain, op_type) of a generic op kind; the default domain is ''."""
    domain, _, op_type = name.rpartition(".")
    return ("" if domain == DEFAULT_DOMAIN_PREFIX else domain), op_type


def format_op_name(name: str) -> str:
    """An op kind as the text format writes it (JSON-quoted unless a plain dotted name)."""
    return name if "." not in name or _PLAIN.match(name) else json.dumps(name)


def regions(op: "Op") -> list["Graph"]:
    """The nested graphs of `op` (attribute order)."""
    from .graph import Graph

    out = []
    for key in sorted(op.attrs):
        v = op.attrs[key]
        if isinstance(v, Graph):
            out.append(v)
        elif isinstance(v, tuple) and v and all(isinstance(g, Graph) for g in v):
            out.extend(v)
    return out


def captures(op: "Op") -> int:
    return int(op.attrs.get(CAPTURES_KEY, 0))


def normalize_generic_attr(key: str, value: Any) -> Any:
    """Normal form of an attribute of a generic op; its kind is read off the value."""
    from .graph import Graph

    from .types import MapType, OptionalType, SequenceType, TensorType

    if isinstance(value, (Graph, TensorType, SequenceType, OptionalType, MapType)):
        return value  # a nested graph, or a type (ONNX's TYPE_PROTO attributes: Optional's `type`)
    if isinstance(value, (list, tuple)) and value and all(isinstance(g, Graph) for g in value):
        return tuple(value)
    if isinstance(value, (list, tuple)) and not value:
        return ()
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return normalize_discardable(value)


class GenericOpDef(OpDef):
    """The declaration every generic op kind gets: any attributes, declared result types."""

    @property
    def domain(self) -> str:
        return split_generic_name(self.name)[0]

    @property
    def op_type(self) -> str:
        return split_generic_name(self.name)[1]

    def normalize_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in attrs.items():
            try:
                out[k] = normalize_discardable(v) if is_discardable(k) else normalize_generic_attr(k, v)
            except ValueError as e:
                raise VerifyError(f"attribute {k!r} of {self.name}: {e}") from None
        for k in (VERSION_KEY, CAPTURES_KEY):
            if k in out and not (isinstance(out[k], int) and out[k] >= 0):
                raise VerifyError(f"{self.name}: {k} must be a non-negative integer, got {out[k]!r}")
        for k in (ABSENT_KEY, ABSENT_OUTPUTS_KEY):
            if k in out and not (isinstance(out[k], tuple) and all(isinstance(i, int) and i >= 0 for i in out[k])):
                raise VerifyError(f"{self.name}: {k} must list positions, got {out[k]!r}")
        return out

    def infer_types(self, types, attrs):
        # the declared result types stand (the verifier checks the nested graphs)
        n = int(attrs.get(CAPTURES_KEY, 0))
        if n > len(types):
            raise VerifyError(f"{self.name} passes {n} captured values but has {len(types)} operands")
        return []


def _no_infer(sig: Signature):
    return []


_GENERIC: dict[str, GenericOpDef] = {}


def generic_def(name: str) -> GenericOpDef:
    """The declaration of generic op kind `name` (made on first use)."""
    defn = _GENERIC.get(name)
    if defn is None:
        domain, op_type = split_generic_name(name)
        what = f"ONNX op {op_type}" + (f" of domain {domain}" if domain else "")
        defn = GenericOpDef(name, ("inputs*",), {}, _no_infer, family=FAMILY,
                            doc=f"{what}, kept as the model has it (no irc declaration).")
        _GENERIC[name] = defn
    return defn


def is_foldable(op: "Op") -> bool:
    """Whether a generic op with constant operands may be computed at compile time."""
    return split_generic_name(op.name)[1] not in NONDETERMINISTIC and not regions(op)
