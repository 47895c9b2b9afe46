"""The type system: element types, quantized element types and tensor types.

Every type is immutable and hashable, so types compare by value and can key dicts.

    ElementType   f32 f64 f16 i8 u8 i16 u16 i32 i64 bool
    QuantType     !q.u8<0.0235:128>                     per-tensor: scale:zero_point
                  !q.i8<axis=0, [0.01:0, 0.02:0]>       per-axis: one pair per slice
    TensorType    tensor<1x3x224x224xf32>, tensor<[N]x10xf32>, tensor<?x4xi64>, tensor<f32>,
                  tensor<*xf32> (unranked: only generic ops, whose types come from outside irc)
    SequenceType  !seq<tensor<*xf32>>         ONNX's non-tensor values, which only generic ops
    OptionalType  !opt<tensor<4xf32>>         make and read: a sequence, an optional, a map
    MapType       !map<i64, tensor<f32>>

A quantized value is `real = scale * (stored - zero_point)`; its storage is the integer element
type named first (i8, u8 or i32) and the value it stands for is f32 (the expressed type).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

# Element types, with the numpy dtype that stores each one.
ELEMENT_DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "f16": np.dtype(np.float16),
    "i8": np.dtype(np.int8),
    "u8": np.dtype(np.uint8),
    "i16": np.dtype(np.int16),
    "u16": np.dtype(np.uint16),
    "i32": np.dtype(np.int32),
    "u32": np.dtype(np.uint32),
    "i64": np.dtype(np.int64),
    "u64": np.dtype(np.uint64),
    "bool": np.dtype(np.bool_),
}
NUMPY_TO_ELEMENT: dict[np.dtype, str] = {v: k for k, v in ELEMENT_DTYPES.items()}

# Storage types a quantized element type may use, with their integer range.
QUANT_STORAGE_RANGE: dict[str, tuple[int, int]] = {
    "i8": (-128, 127),
    "u8": (0, 255),
    "i16": (-32768, 32767),
    "u16": (0, 65535),
    "i32": (-(2**31), 2**31 - 1),
}

FLOAT_ELEMENTS = frozenset({"f32", "f64", "f16"})


def format_f32(x: float | np.floating) -> str:
    """Shortest decimal text that reads back as the same float32 bit pattern."""
    v = np.float32(x)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = str(v)  # numpy prints the shortest round-tripping repr
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    if not any(c in text for c in ".en"):
        text += ".0"
    return text


def parse_f32(text: str) -> float:
    """Inverse of format_f32: the float32 value of `text`, as a Python float."""
    return float(np.float32(text))


BIAS_SCALE_RTOL = 1e-5
"""How far (relative) an i32 bias's scale may be from f32(s_x * s_w) and still count as that scale
(the int8 kernels then add the bias's integers to the accumulator as they are)."""


@dataclass(frozen=True)
class QuantType:
    """A uniformly quantized element type: storage integer, scale(s), zero point(s).

    Per-tensor when `axis` is None (scales and zero_points have one entry each), otherwise
    one (scale, zero_point) pair per index along `axis` of the tensor that carries it.
    Scales are float32 values held as Python floats.
    """

    storage: str
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int | None = None

    def __post_init__(self) -> None:
        if self.storage not in QUANT_STORAGE_RANGE:
            raise ValueError(f"quantized storage must be one of {sorted(QUANT_STORAGE_RANGE)}, got {self.storage!r}")
        if len(self.scales) != len(self.zero_points) or not self.scales:
            raise ValueError("a quantized type needs as many zero points as scales, at least one")
        if self.axis is None and len(self.scales) != 1:
            raise ValueError("a per-tensor quantized type has exactly one scale")
        lo, hi = QUANT_STORAGE_RANGE[self.storage]
        for s, z in zip(self.scales, self.zero_points):
            if not (s > 0 and np.isfinite(s)):
                raise ValueError(f"quantization scale must be positive and finite, got {s}")
            if not lo <= z <= hi:
                raise ValueError(f"zero point {z} outside the {self.storage} range [{lo}, {hi}]")

    @staticmethod
    def per_tensor(storage: str, scale: float, zero_point: int = 0) -> "QuantType":
        return QuantType(storage, (float(np.float32(scale)),), (int(zero_point),), None)

    @staticmethod
    def per_axis(storage: str, scales, zero_points, axis: int) -> "QuantType":
        scales = tuple(float(s) for s in np.asarray(scales, dtype=np.float32).ravel())
        zps = tuple(int(z) for z in np.asarray(zero_points).ravel())
        return QuantType(storage, scales, zps, int(axis))

    @property
    def is_per_axis(self) -> bool:
        return self.axis is not None

    @property
    def scale(self) -> float:
        """The scale of a per-tensor type."""
        if self.axis is not None:
            raise ValueError("a per-axis type has no single scale")
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        if self.axis is not None:
            raise ValueError("a per-axis type has no single zero point")
        return self.zero_points[0]

    @property
    def qmin(self) -> int:
        return QUANT_STORAGE_RANGE[self.storage][0]

    @property
    def qmax(self) -> int:
        return QUANT_STORAGE_RANGE[self.storage][1]

    @property
    def storage_dtype(self) -> np.dtype:
        return ELEMENT_DTYPES[self.storage]

    def scale_array(self) -> np.ndarray:
        return np.asarray(self.scales, dtype=np.float32)

    def zero_point_array(self) -> np.ndarray:
        return np.asarray(self.zero_points, dtype=self.storage_dtype)

    def saturation_clamps(self, lo: float, hi: float) -> bool:
        """Whether saturating to this type already clamps to [lo, hi]: q(lo) <= qmin and
        q(hi) >= qmax on every axis, q(v) = round_half_even(v / s) + z in float32 (so a relu or
        clip in front of a quantize with such a type changes nothing and may be dropped)."""
        with np.errstate(over="ignore", divide="ignore"):
            for s, z in zip(self.scale_array(), self.zero_points):
                if float(np.rint(np.float32(lo) / s)) + z > self.qmin or float(np.rint(np.float32(hi) / s)) + z < self.qmax:
                    return False
        return True

    def __str__(self) -> str:
        if self.axis is None:
            return f"!q.{self.storage}<{format_f32(self.scales[0])}:{self.zero_points[0]}>"
        pairs = ", ".join(f"{format_f32(s)}:{z}" for s, z in zip(self.scales, self.zero_points))
        return f"!q.{self.storage}<axis={self.axis}, [{pairs}]>"


Element = Union[str, QuantType]
"""An element type: the name of a plain element type ('f32', 'i64', ...) or a QuantType."""

Dim = Union[int, str, None]
"""A dimension: a size, a symbolic name (str), or None when unknown."""


@dataclass(frozen=True)
class TensorType:
    """A tensor type: shape (dims may be symbolic or unknown) and element type.

    `shape` is None for an unranked tensor (`tensor<*xf32>`): a value whose rank nothing could
    tell, which only generic ops (ir/generic.py) read or produce; every declared op needs ranks.
    """

    shape: tuple[Dim, ...] | None
    element: Element

    def __post_init__(self) -> None:
        if isinstance(self.element, str) and self.element not in ELEMENT_DTYPES:
            raise ValueError(f"unknown element type {self.element!r}; known: {', '.join(ELEMENT_DTYPES)}")
        if self.shape is None:
            if isinstance(self.element, QuantType) and self.element.axis is not None:
                raise ValueError("an unranked tensor cannot have a per-axis quantized type")
            return
        for d in self.shape:
            if d is not None and not isinstance(d, (int, str)):
                raise ValueError(f"bad dimension {d!r}")
            if isinstance(d, int) and d < 0:
                raise ValueError(f"negative dimension {d}")
        if isinstance(self.element, QuantType) and self.element.axis is not None:
            axis = self.element.axis
            if not 0 <= axis < len(self.shape):
                raise ValueError(f"quantization axis {axis} outside rank {len(self.shape)}")
            n = self.shape[axis]
            if isinstance(n, int) and n != len(self.element.scales):
                raise ValueError(
                    f"per-axis type has {len(self.element.scales)} scales but dimension {axis} is {n}"
                )

    @property
    def is_ranked(self) -> bool:
        return self.shape is not None

    @property
    def rank(self) -> int:
        if self.shape is None:
            raise ValueError(f"{self} has no rank")
        return len(self.shape)

    @property
    def dims(self) -> tuple[Dim, ...]:
        """The shape of a ranked tensor (raises like `rank` for an unranked one)."""
        if self.shape is None:
            raise ValueError(f"{self} has no rank")
        return self.shape

    @property
    def is_quantized(self) -> bool:
        return isinstance(self.element, QuantType)

    @property
    def quant(self) -> QuantType:
        if not isinstance(self.element, QuantType):
            raise ValueError(f"{self} is not quantized")
        return self.element

    @property
    def storage(self) -> str:
        """The element type values of this type are stored as (the storage type if quantized)."""
        return self.element.storage if isinstance(self.element, QuantType) else self.element

    @property
    def dtype(self) -> np.dtype:
        """numpy dtype of the stored values."""
        return ELEMENT_DTYPES[self.storage]

    @property
    def is_float(self) -> bool:
        return isinstance(self.element, str) and self.element in FLOAT_ELEMENTS

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def static_shape(self) -> tuple[int, ...]:
        if not self.is_static:
            raise ValueError(f"{self} has a dynamic shape")
        return tuple(d for d in self.dims if isinstance(d, int))

    @property
    def numel(self) -> int | None:
        if not self.is_static:
            return None
        return int(np.prod(self.static_shape(), dtype=np.int64))

    def with_shape(self, shape) -> "TensorType":
        return TensorType(None if shape is None else tuple(shape), self.element)

    def with_element(self, element: Element) -> "TensorType":
        return TensorType(self.shape, element)

    def __str__(self) -> str:
        if self.shape is None:
            return f"tensor<*x{self.element}>"
        dims = "".join(f"{format_dim(d)}x" for d in self.shape)
        return f"tensor<{dims}{self.element}>"


class _NotATensor:
    """What the tensor-type questions passes ask answer for ONNX's non-tensor values: none of
    them is a float, quantized or ranked tensor (so passes leave them to the generic ops)."""

    shape = None
    is_ranked = False
    is_quantized = False
    is_float = False
    is_static = False
    numel = None

    @property
    def rank(self) -> int:
        raise ValueError(f"{self} is not a tensor")

    @property
    def dims(self) -> tuple[Dim, ...]:
        raise ValueError(f"{self} is not a tensor")

    @property
    def element(self):
        raise ValueError(f"{self} is not a tensor")

    storage = element
    dtype = element


@dataclass(frozen=True)
class SequenceType(_NotATensor):
    """An ONNX sequence of values of one type (SplitToSequence's result, say)."""

    of: "ValueType"

    def __str__(self) -> str:
        return f"!seq<{self.of}>"


@dataclass(frozen=True)
class OptionalType(_NotATensor):
    """An ONNX optional: a value of `of`, or none."""

    of: "ValueType"

    def __str__(self) -> str:
        return f"!opt<{self.of}>"


@dataclass(frozen=True)
class MapType(_NotATensor):
    """An ONNX map from a plain element type to values of `value`."""

    key: str
    value: "ValueType"

    def __post_init__(self) -> None:
        if self.key not in ELEMENT_DTYPES:
            raise ValueError(f"unknown map key type {self.key!r}")

    def __str__(self) -> str:
        return f"!map<{self.key}, {self.value}>"


ValueType = Union[TensorType, SequenceType, OptionalType, MapType]
"""The type of any value: a tensor, or (only around generic ops) one of ONNX's other values."""


def as_tensor_type(t: ValueType) -> TensorType:
    """`t` where a TensorType is taken: a sequence, optional or map type stands in for one (it
    answers the tensor questions as an unranked tensor would, see _NotATensor)."""
    return t  # type: ignore[return-value]  # the stand-in is structural, not a subclass


def format_dim(d: Dim) -> str:
    if d is None:
        return "?"
    if isinstance(d, str):
        return f"[{d}]"
    return str(d)


def tensor(shape, element: Element = "f32") -> TensorType:
    """Shorthand: tensor((1, 3, 224, 224)) or tensor([1, 'N'], 'i64'); tensor(None) is unranked."""
    return TensorType(None if shape is None else tuple(shape), element)


def type_of_array(array: np.ndarray) -> TensorType:
    """The plain (not quantized) tensor type of a numpy array."""
    dt = np.dtype(array.dtype)
    if dt not in NUMPY_TO_ELEMENT:
        raise ValueError(f"arrays of dtype {dt} have no IR element type")
    return TensorType(tuple(int(d) for d in array.shape), NUMPY_TO_ELEMENT[dt])


def types_compatible(a: TensorType, b: TensorType) -> bool:
    """Whether two types may describe the same tensor: same storage element type, and equal
    ranks with compatible dims (an unranked type fits any shape). Non-tensor types must match
    in kind, their parts compatible likewise."""
    if not (isinstance(a, TensorType) and isinstance(b, TensorType)):
        if type(a) is not type(b):
            return False
        if isinstance(a, MapType):
            return a.key == b.key and types_compatible(a.value, b.value)
        return types_compatible(a.of, b.of)
    if a.element != b.element:
        return False
    if a.shape is None or b.shape is None:
        return True
    return len(a.shape) == len(b.shape) and all(dims_compatible(x, y) for x, y in zip(a.shape, b.shape))


def known_product(dims) -> int:
    """The product of `dims`, a symbolic or unknown dim counting as 1 (a size for cost estimates)."""
    n = 1
    for d in dims:
        n *= d if isinstance(d, int) else 1
    return n


def dims_compatible(a: Dim, b: Dim) -> bool:
    """Whether two dimensions may describe the same size."""
    return a is None or b is None or a == b or isinstance(a, str) or isinstance(b, str)
