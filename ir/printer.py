"""The deterministic printer of the text format (see grammar.lark and specs/text-format.md).

Output depends only on the graph: value names are the names the values carry (made unique and
filled in with numbers where missing, in definition order), attributes are sorted by key, and
floats print as the shortest text that reads back to the same float32 bits.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from .generic import format_op_name, is_generic_name
from .graph import Graph
from .op import Op
from .types import MapType, OptionalType, SequenceType, TensorType, format_f32, type_of_array
from .value import Value

_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_.\-/]+\Z")


def quote_name(name: str) -> str:
    return name if _SIMPLE_NAME.match(name) else json.dumps(name)


def format_scalar(v: Any, dtype: np.dtype | None = None) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if dtype is not None and dtype == np.float64:
            return _format_f64(float(v))
        if dtype is not None and dtype == np.float16:
            return _format_f16(v)
        return format_f32(v)
    if isinstance(v, str):
        return json.dumps(v)
    raise TypeError(f"cannot print scalar {v!r}")


def _format_f64(x: float) -> str:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    t = repr(x)
    if "e" in t:
        mant, exp = t.split("e")
        t = f"{mant}e{int(exp)}"
    return t if any(c in t for c in ".e") else t + ".0"


def _format_f16(x) -> str:
    v = np.float16(x)
    if np.isnan(v) or np.isinf(v):
        return format_f32(float(v))
    t = str(v)
    if "e" in t:
        mant, exp = t.split("e")
        t = f"{mant}e{int(exp)}"
    return t if any(c in t for c in ".e") else t + ".0"


def format_dense(array: np.ndarray) -> str:
    flat = array.ravel()
    return "dense<[" + ", ".join(format_scalar(x, array.dtype) for x in flat.tolist()) + "]>"


def format_attr(v: Any, typed: bool = False, namer: "Namer | None" = None, indent: int = 0) -> str:
    """An attribute value as text; `typed` writes a tensor's type after it (generic ops, whose
    attributes have no declaration to read it from); nested graphs need the file's `namer`."""
    if isinstance(v, np.ndarray):
        return format_dense(v) + (f" : {type_of_array(v)}" if typed else "")
    if isinstance(v, Graph):
        return _print_func(v, namer or Namer(), indent)
    if isinstance(v, (TensorType, SequenceType, OptionalType, MapType)):
        return str(v)
    if isinstance(v, tuple) and v and all(isinstance(g, Graph) for g in v):
        return "[" + ", ".join(_print_func(g, namer or Namer(), indent) for g in v) + "]"
    if isinstance(v, tuple):
        return "[" + ", ".join(format_scalar(x) for x in v) + "]"
    return format_scalar(v)


def format_attrs(op: Op, namer: "Namer | None" = None, indent: int = 0) -> str:
    if not op.attrs:
        return ""
    defn = op.defn
    generic = is_generic_name(op.name)
    parts = []
    for k in sorted(op.attrs):
        v = op.attrs[k]
        spec = defn.attrs.get(k) if defn is not None else None
        # element-type attributes print bare (to=f32); strings are quoted
        text = v if spec is not None and spec.kind == "type" else format_attr(v, generic, namer, indent)
        parts.append(f"{k}={text}")
    return " {" + ", ".join(parts) + "}"


class Namer:
    """Unique, stable text names for values: their own name when free, else name_1, ..., else 0, 1..."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0

    def name(self, v: Value) -> str:
        key = id(v)
        if key not in self.names:
            base = v.name
            if not base:
                while str(self.counter) in self.taken:
                    self.counter += 1
                base = str(self.counter)
                self.counter += 1
            text, n = base, 1
            while text in self.taken:
                text = f"{base}_{n}"
                n += 1
            self.taken.add(text)
            self.names[key] = text
        return "%" + quote_name(self.names[key])


def print_op(op: Op, namer: Namer, indent: int = 2) -> str:
    """One statement (without its indentation); nested graphs are indented by `indent` + 2."""
    results = ", ".join(namer.name(r) for r in op.results)
    types = ", ".join(str(r.type) for r in op.results)
    if op.name == "const":
        if "ref" in op.attrs and op.attrs.get("ref") is not None:
            body = "@" + quote_name(op.attrs["ref"])
        else:
            body = format_dense(op.attrs["value"])
        return f"{results} = const {body} : {types}"
    operands = ", ".join(namer.name(v) for v in op.operands)
    attrs = format_attrs(op, namer, indent)
    return f"{results} = {format_op_name(op.name)}({operands}){attrs} : {types}"


def _print_func(graph: Graph, namer: Namer, indent: int) -> str:
    """`func @name(...) -> (...) { ... }` with its statements at `indent` + 2 spaces and the
    closing brace at `indent` (the text has no trailing newline)."""
    args = ", ".join(f"{namer.name(v)}: {v.type}{_format_input_attrs(graph.input_attrs.get(id(v)))}"
                     for v in graph.inputs)
    outs = ", ".join(str(v.type) for v in graph.outputs)
    pad = " " * (indent + 2)
    lines = [f"func @{quote_name(graph.name)}({args}) -> ({outs}) {{"]
    for op in graph.ops:
        lines.append(pad + print_op(op, namer, indent + 2))
    ret = ", ".join(namer.name(v) for v in graph.outputs)
    lines.append(pad + (f"return {ret}" if ret else "return"))
    lines.append(" " * indent + "}")
    return "\n".join(lines)


def print_graph(graph: Graph) -> str:
    return _print_func(graph, Namer(), 0) + "\n"


def _format_input_attrs(attrs: dict[str, Any] | None) -> str:
    if not attrs:
        return ""
    return " {" + ", ".join(f"{k}={format_attr(attrs[k])}" for k in sorted(attrs)) + "}"

