"""Attribute kinds and their normal form.

Attribute values are plain Python data, normalized on the way into an op:

    kind     Python value                 text
    int      int                          3, -1
    float    float (a float32 value)      0.1, 1.0, -inf, nan
    str      str                          "constant"
    ints     tuple[int, ...]              [1, 1, 2, 2]
    floats   tuple[float, ...]            [0.5, 1.0]
    strs     tuple[str, ...]              ["a", "b"]
    tensor   numpy array (small, inline)  dense<[1, 2, 3]> : tensor<3xi64>
    type     an element type name         f32, i64

An op declaration names the kind of each attribute; `normalize` checks a value against its kind
and converts it to the normal form (e.g. an int given for a float attribute becomes a float).

Attributes whose key has a dot (`q.range`) are *discardable*: information passes attach to an op
(like calibrated ranges) that the op's declaration does not list. Their kind follows from the
value itself (`normalize_discardable`); passes that do not know them keep them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .types import ELEMENT_DTYPES

ATTR_KINDS = ("int", "float", "str", "ints", "floats", "strs", "tensor", "type")

REQUIRED = object()
"""Marker default: the attribute must be given."""


@dataclass(frozen=True)
class AttrSpec:
    kind: str
    default: Any = REQUIRED
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"unknown attribute kind {self.kind!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return _is_int(v) or isinstance(v, (float, np.floating))


def f32(v: Any) -> float:
    return float(np.float32(v))


def normalize(kind: str, value: Any) -> Any:
    """Convert `value` to the normal form of `kind`; raise ValueError when it does not fit."""
    if kind == "int":
        if _is_int(value):
            return int(value)
        if isinstance(value, bool):
            return int(value)
    elif kind == "float":
        if _is_number(value):
            return f32(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode()
    elif kind == "ints":
        if isinstance(value, (list, tuple, np.ndarray)) and all(_is_int(v) for v in value):
            return tuple(int(v) for v in value)
    elif kind == "floats":
        if isinstance(value, (list, tuple, np.ndarray)) and all(_is_number(v) for v in value):
            return tuple(f32(v) for v in value)
    elif kind == "strs":
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bytes)) for v in value):
            return tuple(v.decode() if isinstance(v, bytes) else v for v in value)
    elif kind == "tensor":
        if isinstance(value, np.ndarray):
            return value
    elif kind == "type":
        if isinstance(value, str) and value in ELEMENT_DTYPES:
            return value
    raise ValueError(f"expected a value of kind {kind}, got {value!r}")


def attrs_equal(a: Any, b: Any) -> bool:
    """Structural equality of two normalized attribute values (arrays compare bitwise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float) and isinstance(b, float):
        return np.float32(a).tobytes() == np.float32(b).tobytes()
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(attrs_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def is_discardable(key: str) -> bool:
    return "." in key


def normalize_discardable(value: Any) -> Any:
    """Normal form of a discardable attribute value, its kind read off the value."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        if all(_is_int(v) for v in value):
            return tuple(int(v) for v in value)
        if all(_is_number(v) for v in value):
            return tuple(f32(v) for v in value)
        if all(isinstance(v, str) for v in value):
            return tuple(value)
    elif _is_int(value):
        return int(value)
    elif _is_number(value):
        return f32(value)
    elif isinstance(value, str):
        return value
    raise ValueError(f"cannot store {value!r} as an attribute")
