"""The op registry: one declaration per op kind.

An op kind is declared with `define_op`, typically in a family module under ir/ops/:

    define_op(
        "relu", operands=["x"], infer=same_as("x"),
        doc="y = max(x, 0)")

    operands   names in order; a trailing "?" marks an optional operand (only at the end,
               absent ones are simply not there), a trailing "*" a variadic tail
    attrs      {name: AttrSpec(kind, default)}; attributes not declared are rejected
    infer      Signature -> list of result types (shape and element rule)
    verify     optional Signature -> None, raising VerifyError for op-specific rules
    results    number of results, or a function of the Signature for ops like split

`infer` sees only types and attributes, never data: it is what the importer, the builder and the
verifier use. Interpreter kernels live in backends/ and are keyed by the same name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .attrs import REQUIRED, AttrSpec, is_discardable, normalize, normalize_discardable
from .types import QuantType, TensorType


class VerifyError(Exception):
    """An op or graph breaks a rule of the IR. The verifier adds where."""


@dataclass
class Signature:
    """What inference and verification see of an op: operand types and attributes."""

    defn: "OpDef"
    types: list[TensorType]
    attrs: dict[str, Any]

    def attr(self, key: str) -> Any:
        if key in self.attrs:
            return self.attrs[key]
        spec = self.defn.attrs.get(key)
        if spec is None:
            raise KeyError(f"{self.defn.name} declares no attribute {key!r}")
        if spec.required:
            raise VerifyError(f"{self.defn.name} needs attribute {key!r}")
        return spec.default

    def has(self, key: str) -> bool:
        """Whether the operand or attribute `key` is present."""
        if key in self.defn.attrs and key in self.attrs:
            return True
        if key in self.defn.operand_names:
            return self.defn.operand_index(key, len(self.types)) is not None
        return False

    def has_operand(self, key: str) -> bool:
        """Whether the operand `key` is present (a parameter may be named as both an attribute
        and an operand: given at compile time or computed at run time)."""
        return self.defn.operand_index(key, len(self.types)) is not None

    def __getitem__(self, key: str) -> TensorType:
        i = self.defn.operand_index(key, len(self.types))
        if i is None:
            raise VerifyError(f"{self.defn.name} has no operand {key!r}")
        return self.types[i]

    def get(self, key: str) -> TensorType | None:
        i = self.defn.operand_index(key, len(self.types))
        return None if i is None else self.types[i]

    def variadic(self) -> list[TensorType]:
        """Types of the variadic tail operands."""
        return self.types[self.defn.variadic_start:]


@dataclass
class OpDef:
    name: str
    operands: tuple[str, ...]
    attrs: dict[str, AttrSpec]
    infer: Callable[[Signature], list[TensorType]]
    verify: Callable[[Signature], None] | None = None
    results: int | Callable[[Signature], int] = 1
    doc: str = ""
    family: str = ""
    traits: frozenset[str] = field(default_factory=frozenset)
    """Properties passes read: 'elementwise', 'data_movement', 'commutative', 'pure'."""
    shape_params: tuple[str, ...] = ()
    """Parameters given as attributes when known at compile time, else as i64 operands of the
    same name (reshape's shape, slice's starts/ends/axes/steps); `fold` turns constant operands
    into the attributes."""
    from_types: Callable[[Signature], "object | None"] | None = None
    """The result (a numpy array) when the operand types alone determine it (shape, size of a
    static tensor), else None; `fold` replaces such an op by a constant."""
    quant: str = ""
    """How `quantize` treats the op (specs/quantization.md §3; one of QUANT_ROLES): 'compute'
    (int8 activations and constant weights, i32 accumulation), 'requantize' (int8 operands and a
    result type of its own), 'activation' (int8 when its operand is), 'movement' (the result keeps
    its operand's quantized type), 'cast' (quantize, dequantize), '' (float; Q/DQ at its borders)."""
    weight_axis: Callable[[Signature], "int | None"] | None = None
    """For a 'compute' op: the output-channel axis of its weight operand (the second), along which
    per-channel weight scales run; None (or returning None): one scale per tensor."""
    macs_per_output: Callable[[Signature], int] | None = None
    """Multiply-accumulates per element of the result (a cost the budget search weighs);
    None: one operation per result element."""

    def __post_init__(self) -> None:
        seen_optional = False
        for i, o in enumerate(self.operands):
            if o.endswith("*") and i != len(self.operands) - 1:
                raise ValueError(f"{self.name}: only the last operand may be variadic")
            if o.endswith("?"):
                seen_optional = True
            elif seen_optional and not o.endswith("*"):
                raise ValueError(f"{self.name}: optional operands must come last")

    @property
    def operand_names(self) -> list[str]:
        return [o.rstrip("?*") for o in self.operands]

    @property
    def min_operands(self) -> int:
        return sum(1 for o in self.operands if not o.endswith(("?", "*")))

    @property
    def max_operands(self) -> int | None:
        return None if self.operands and self.operands[-1].endswith("*") else len(self.operands)

    @property
    def variadic_start(self) -> int:
        return len(self.operands) - 1

    def operand_index(self, key: str, count: int) -> int | None:
        names = self.operand_names
        if key not in names:
            raise KeyError(f"{self.name} declares no operand {key!r}; operands: {', '.join(names)}")
        i = names.index(key)
        return i if i < count else None

    def operand(self, op, key: str):
        i = self.operand_index(key, len(op.operands))
        return None if i is None else op.operands[i]

    def normalize_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in attrs.items():
            if is_discardable(k):
                try:
                    out[k] = normalize_discardable(v)
                except ValueError as e:
                    raise VerifyError(f"attribute {k!r} of {self.name}: {e}") from None
                continue
            spec = self.attrs.get(k)
            if spec is None:
                known = ", ".join(sorted(self.attrs)) or "none"
                raise VerifyError(f"{self.name} has no attribute {k!r} (its attributes: {known})")
            try:
                out[k] = normalize(spec.kind, v)
            except ValueError as e:
                raise VerifyError(f"attribute {k!r} of {self.name}: {e}") from None
        return out

    def signature(self, types: Sequence[TensorType], attrs: dict[str, Any]) -> Signature:
        return Signature(self, list(types), attrs)

    def check_arity(self, n: int) -> None:
        lo, hi = self.min_operands, self.max_operands
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise VerifyError(f"{self.name} takes {want} operands ({', '.join(self.operands)}), got {n}")

    def infer_types(self, types: Sequence[TensorType], attrs: dict[str, Any]) -> list[TensorType]:
        """Result types for operands of `types` (checks arity and required attributes first)."""
        self.check_arity(len(types))
        for k, spec in self.attrs.items():
            if spec.required and k not in attrs:
                raise VerifyError(f"{self.name} needs attribute {k!r}")
        sig = self.signature(types, attrs)
        if self.verify is not None:
            self.verify(sig)
        return list(self.infer(sig))

    def result_count(self, types: Sequence[TensorType], attrs: dict[str, Any]) -> int:
        if callable(self.results):
            return self.results(self.signature(types, attrs))
        return self.results


OP_REGISTRY: dict[str, OpDef] = {}

QUANT_ROLES = ("", "compute", "requantize", "activation", "movement", "cast")


def is_bookkeeping(name: str) -> bool:
    """Constants and the quantization casts (role 'cast'): ops that hold or re-type values
    rather than compute, which passes, reports and counts of layers leave out."""
    if name == "const":
        return True
    defn = OP_REGISTRY.get(name)
    return defn is not None and defn.quant == "cast"


def ops_with_role(role: str) -> tuple[str, ...]:
    """The declared ops `quantize` treats as `role` (QUANT_ROLES), in declaration order."""
    if role not in QUANT_ROLES:
        raise ValueError(f"unknown quantization role {role!r}")
    return tuple(name for name, d in OP_REGISTRY.items() if d.quant == role)


def define_op(name: str, *, operands: Sequence[str], infer: Callable[[Signature], list[TensorType]],
              attrs: dict[str, AttrSpec] | None = None, verify: Callable[[Signature], None] | None = None,
              results: int | Callable[[Signature], int] = 1, doc: str = "", family: str = "",
              traits: Sequence[str] = (), shape_params: Sequence[str] = (),
              from_types: Callable[[Signature], object] | None = None, quant: str = "",
              weight_axis: Callable[[Signature], int | None] | None = None,
              macs_per_output: Callable[[Signature], int] | None = None) -> OpDef:
    """Declare an op kind and add it to the registry (a name may be declared once)."""
    if name in OP_REGISTRY:
        raise ValueError(f"op {name!r} is declared twice")
    if quant not in QUANT_ROLES:
        raise ValueError(f"op {name!r}: unknown quantization role {quant!r} (one of {QUANT_ROLES})")
    defn = OpDef(name, tuple(operands), dict(attrs or {}), infer, verify, results, doc, family,
                 frozenset(traits), tuple(shape_params), from_types, quant, weight_axis, macs_per_output)
    OP_REGISTRY[name] = defn
    return defn


def lookup_op(name: str) -> OpDef | None:
    """The declaration of op kind `name`: a declared op, or for a dotted name (`onnx.Unique`,
    `com.microsoft.FusedMatMul`) the generic declaration of that ONNX op (ir/generic.py)."""
    defn = OP_REGISTRY.get(name)
    if defn is None and "." in name:
        from .generic import generic_def

        try:
            return generic_def(name)
        except ValueError:
            return None
    return defn


def get_op(name: str) -> OpDef:
    """The declaration of op `name`; an unknown name raises with the closest known names."""
    defn = lookup_op(name)
    if defn is None:
        close = difflib.get_close_matches(name, OP_REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise VerifyError(f"unknown op {name!r}{hint}")
    return defn


def attr(kind: str, default: Any = REQUIRED, doc: str = "") -> AttrSpec:
    return AttrSpec(kind, default, doc)


def expressed(element) -> str:
    """The element type a value stands for: f32 for quantized elements, else itself."""
    return "f32" if isinstance(element, QuantType) else element
