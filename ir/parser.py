"""Parser of the text format: lark (LALR) for the syntax, then one walk that builds the graph.

Every error, syntactic or semantic (unknown op, value used before definition, a type that does
not fit the op), is a SourceError naming file:line:col with the offending line. The walk checks
every literal's value where it stands: integers fit int64 (dimensions: 0 .. 2^63-1; an integer
constant's element type), a float literal is not rounded to infinity, integer and bool constants
take no float literals (bool: 0 or 1), and quoted names and strings are valid JSON strings.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import lark
import numpy as np

from .attrs import is_discardable, normalize_discardable
from .graph import Graph, Weights
from .op import Op
from .registry import VerifyError, get_op
from .types import ELEMENT_DTYPES, Dim, MapType, OptionalType, QuantType, SequenceType, TensorType, ValueType, as_tensor_type
from .diagnostics import SourceError
from .value import Value


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


F32 = np.dtype(np.float32)

_EXPECT_NAMES = {
    "VALUE": "a value (%name)", "OPNAME": "an op name", "KEY": "an attribute name",
    "INT": "an integer", "FLOAT": "a float", "STRING": "a string", "LPAR": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'", "COLON": "':'",
    "COMMA": "','", "EQUAL": "'='", "MORETHAN": "'>'", "LESSTHAN": "'<'", "ELEMENT": "an element type",
    "DIMS": "tensor dimensions", "RETURN": "'return'", "TENSOR": "'tensor'", "AT": "'@'",
}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MAX_INT64_DIGITS = 19

_JSON_ESCAPES = '\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX'


def _short(text: str) -> str:
    """A literal as messages quote it: long ones cut in the middle."""
    return text if len(text) <= 32 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


def _describe_expected(expected) -> str:
    names = sorted({_EXPECT_NAMES.get(e, repr(e.lower()) if e.isupper() else e) for e in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


class _Builder:
    def __init__(self, text: str, filename: str, weights: Weights | None, weights_file: str | None) -> None:
        self.text = text
        self.filename = filename
        self.weights = weights
        self.weights_file = weights_file
        self.scope: dict[str, Value] = {}

    def error(self, message: str, node) -> SourceError:
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            line, col = meta.line, meta.column
        elif isinstance(node, lark.Token):
            line, col = node.line, node.column
        else:
            line, col = 1, 1
        return SourceError(message, self.filename, self.text, line, col)

    def error_at(self, message: str, token: lark.Token, offset: int = 0) -> SourceError:
        """An error `offset` characters into a one-line token."""
        return SourceError(message, self.filename, self.text, token.line or 1, (token.column or 1) + offset)

    # -- leaves -----------------------------------------------------------------------------
    def string(self, token: lark.Token, offset: int = 0) -> str:
        """The JSON string that starts `offset` characters into `token`."""
        text = str(token)[offset:]
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            pos = e.pos - 1 if text[e.pos - 1:e.pos] == "\\" and e.pos < len(text) and text[e.pos] == "u" else e.pos
            ch = text[pos] if pos < len(text) else ""
            if "control character" in e.msg and ch:
                message = (f"raw control character U+{ord(ch):04X} in a quoted string; "
                           f"write it as \\u{ord(ch):04x}")
            elif "escape" in e.msg:
                escape = text[pos:pos + (6 if text[pos + 1:pos + 2] == "u" else 2)]
                message = f"invalid escape '{escape}' in a quoted string (escapes: {_JSON_ESCAPES})"
            else:
                message = f"malformed quoted string ({e.msg})"
            raise self.error_at(message, token, offset + pos) from None

    def name_of(self, token: lark.Token) -> str:
        s = str(token)
        offset = 1 if s.startswith("%") else 0
        return self.string(token, offset) if s[offset:].startswith('"') else s[offset:]

    def symbol(self, tree) -> str:
        return self.name_of(tree.children[0])

    def integer(self, token: lark.Token, lo: int = INT64_MIN, hi: int = INT64_MAX, what: str = "integer",
                text: str | None = None, offset: int = 0) -> int:
        """An integer literal that lies in [lo, hi] (by default int64's range)."""
        text = str(token) if text is None else text
        if len(text.lstrip("+-").lstrip("0")) <= _MAX_INT64_DIGITS:
            value = int(text)
            if lo <= value <= hi:
                return value
        if (lo, hi) == (INT64_MIN, INT64_MAX):
            limit = "does not fit int64"
        else:
            limit = f"is outside [{lo}, {hi}]"
        raise self.error_at(f"{what} {_short(text)} {limit}", token, offset)

    def floating(self, token: lark.Token, dtype: np.dtype = F32, what: str = "") -> np.floating:
        """A float (or integer) literal as `dtype`; a finite literal that would round to infinity is an error."""
        text = str(token)
        with np.errstate(over="ignore"):
            value = dtype.type(text) if token.type == "FLOAT" else dtype.type(self.integer(token))
        if np.isinf(value) and "inf" not in text:
            name = {2: "f16", 4: "f32", 8: "f64"}[dtype.itemsize]
            raise self.error_at(f"{_short(text)} is beyond the {name} range{what} (it would become "
                                f"{'-' if value < 0 else ''}inf; write inf if that is meant)", token)
        return value

    def scalar(self, node) -> Any:
        """An attribute literal: an int64, a float32 (as a Python float) or a string."""
        kind = node.data
        tok = node.children[0]
        if kind == "int_lit":
            return self.integer(tok)
        if kind == "float_lit":
            return float(self.floating(tok))
        return self.string(tok)

    def element_value(self, node, t: TensorType) -> Any:
        """One element of an inline constant of type `t`, checked against its element type."""
        tok = node.children[0]
        dtype = t.dtype
        if node.data == "str_lit":
            raise self.error_at(f"inline constant of type {t}: a string literal where a number belongs", tok)
        if dtype.kind == "f":
            return self.floating(tok, dtype, f" of {t}")
        if node.data == "float_lit":
            what = "a bool constant takes 0 or 1" if dtype.kind == "b" else f"an integer constant ({t}) takes integers"
            raise self.error_at(f"float literal {_short(str(tok))} in an inline constant: {what}", tok)
        if dtype.kind == "b":
            return self.integer(tok, 0, 1, f"value of a bool constant ({t}):") == 1
        info = np.iinfo(dtype)
        return self.integer(tok, int(info.min), int(info.max), f"value of {t.storage} constant ({t}):")

    def type(self, tree) -> ValueType:
        head = tree.children[0]
        if isinstance(head, lark.Token) and head.type in ("WRAPPER", "MAP"):
            if head.type == "MAP":
                return MapType(str(tree.children[1]), self.type(tree.children[2]))
            inner = self.type(tree.children[1])
            return SequenceType(inner) if str(head) == "!seq" else OptionalType(inner)
        dims_tok = tree.children[0]
        dims: list[Dim] = []
        unranked = dims_tok is not None and str(dims_tok) == "*x"
        if dims_tok is not None and not unranked:
            for d, offset in _split_dims(str(dims_tok)):
                if d == "?":
                    dims.append(None)
                elif d.startswith("["):
                    dims.append(d[1:-1])
                else:
                    dims.append(self.integer(dims_tok, 0, INT64_MAX, "dimension", text=d, offset=offset))
        element = self.element(tree.children[1])
        try:
            return TensorType(None if unranked else tuple(dims), element)
        except ValueError as e:
            raise self.error(str(e), tree) from None

    def element(self, node):
        if isinstance(node, lark.Token):
            return str(node)
        if node.data == "plain_element":
            return str(node.children[0])
        storage = str(node.children[0])
        try:
            if node.data == "quant_tensor":
                scale = float(self.floating(node.children[1], what=" of a scale"))
                return QuantType.per_tensor(storage, scale, self.integer(node.children[2], what="zero point"))
            axis = self.integer(node.children[1], what="axis")
            pairs = node.children[2:]
            scales = [float(self.floating(p.children[0], what=" of a scale")) for p in pairs]
            zps = [self.integer(p.children[1], what="zero point") for p in pairs]
            return QuantType.per_axis(storage, scales, zps, axis)
        except ValueError as e:
            raise self.error(str(e), node) from None

    def dense(self, tree, t: TensorType | None) -> np.ndarray:
        items = [c for c in tree.children if c is not None]
        if t is None:  # an attribute: int64 when every element is an integer, else float32
            if any(c.data == "str_lit" for c in items):
                bad = next(c for c in items if c.data == "str_lit")
                raise self.error_at("an inline tensor holds numbers, not strings", bad.children[0])
            values = [self.scalar(c) for c in items]
            ints = items and all(c.data == "int_lit" for c in items)
            return np.array(values, dtype=np.int64 if ints else np.float32)
        values = [self.element_value(c, t) for c in items]
        if not t.is_static:
            raise self.error(f"inline constant does not fit {t}: an inline constant needs a static shape", tree)
        shape = t.static_shape()
        count = math.prod(shape)
        if len(values) != count:
            raise self.error(f"inline constant does not fit {t}: it has {len(values)} value(s), the type "
                             f"holds {count}", tree)
        try:
            return np.array(values, dtype=t.dtype).reshape(shape)
        except ValueError:  # numpy holds no array with dims this large, even an empty one
            raise self.error(f"inline constant does not fit {t}: no array can have that shape", tree) from None

    def value(self, token: lark.Token) -> Value:
        name = self.name_of(token)
        v = self.scope.get(name)
        if v is None:
            raise self.error(f"use of undefined value %{name}", token)
        return v

    def define(self, token: lark.Token, v: Value) -> None:
        name = self.name_of(token)
        if not name:
            raise self.error('a value needs a name: %"" is empty', token)
        if name in self.scope:
            raise self.error(f"value %{name} is defined twice", token)
        v.name = name
        self.scope[name] = v

    # -- structure --------------------------------------------------------------------------
    def build(self, tree) -> Graph:
        return self.func(tree.children[0], None)

    def func(self, func, parent: Graph | None) -> Graph:
        """The graph of a `func`: the file's function, or (with `parent`) a graph nested in an
        op's attribute, which sees only its own values and shares the parent's weights."""
        name_tree, *rest = func.children
        if parent is None:
            graph = Graph(self.symbol(name_tree))
            if self.weights is not None:
                graph.weights = self.weights
        else:
            graph = parent.nested(self.symbol(name_tree))
        outer_scope, self.scope = self.scope, {}
        args, out_types, stmts, ret = [], [], [], None
        for c in rest:
            if c is None:
                continue
            if c.data == "arg":
                args.append(c)
            elif c.data == "type":
                out_types.append(c)
            elif c.data == "ret":
                ret = c
            else:
                stmts.append(c)
        for a in args:
            v = graph.add_input(as_tensor_type(self.type(a.children[1])))
            self.define(a.children[0], v)
            if a.children[2] is not None:
                attrs = self.attrs(a.children[2], graph)
                for k in attrs:
                    if not is_discardable(k):
                        raise self.error(f"graph inputs take only discardable attributes (with a dot), not {k!r}", a)
                graph.input_attrs[id(v)] = {k: normalize_discardable(x) for k, x in attrs.items()}
        for s in stmts:
            graph.append(self.stmt(s, graph))
        if ret is None:
            raise self.error("the function has no return", func)
        outs = [self.value(t) for t in ret.children if t is not None]
        declared = [self.type(t) for t in out_types]
        if len(declared) != len(outs):
            raise self.error(f"the function declares {len(declared)} results but returns {len(outs)}", ret)
        for t, v, node in zip(declared, outs, out_types):
            if t != v.type:
                raise self.error(f"result declared as {t} but %{v.name} is {v.type}", node)
        graph.set_outputs(outs)
        self.scope = outer_scope
        return graph

    def stmt(self, tree, graph: Graph) -> Op:
        results_tree = tree.children[0]
        if tree.data == "const_stmt":
            body, type_tree = tree.children[1], tree.children[2]
            t = self.type(type_tree)
            if not isinstance(t, TensorType):
                raise self.error(f"a constant is a tensor, not {t}", type_tree)
            if body.data == "symbol":
                key = self.symbol(body)
                self.check_weight(key, t, body)
                op = Op("const", (), [t], {"ref": key})
            else:
                op = Op("const", (), [t], {"value": self.dense(body, t)})
            result_tokens = results_tree.children
            if len(result_tokens) != 1:
                raise self.error("const has exactly one result", results_tree)
            self.define(result_tokens[0], op.results[0])
            return op

        opname_tok = tree.children[1].children[0]
        opname = self.name_of(opname_tok) if opname_tok.type == "STRING" else str(opname_tok)
        children = tree.children[2:]
        operand_toks = [c for c in children if isinstance(c, lark.Token) and c.type == "VALUE"]
        attr_tree = next((c for c in children if isinstance(c, lark.Tree) and c.data == "attr_dict"), None)
        type_trees = [c for c in children if isinstance(c, lark.Tree) and c.data == "type"]
        try:
            defn = get_op(opname)
        except VerifyError as e:
            raise self.error(str(e), opname_tok) from None
        operands = [self.value(t) for t in operand_toks]
        attrs = self.attrs(attr_tree, graph) if attr_tree is not None else {}
        types = [as_tensor_type(self.type(t)) for t in type_trees]
        try:
            op = Op(defn.name, operands, types, attrs)
        except VerifyError as e:
            raise self.error(str(e), attr_tree or opname_tok) from None
        result_tokens = results_tree.children
        if len(result_tokens) != len(types):
            raise self.error(f"{len(result_tokens)} results but {len(types)} result types", results_tree)
        for tok, v in zip(result_tokens, op.results):
            self.define(tok, v)
        from .verifier import verify_op

        try:
            verify_op(op, graph)
        except VerifyError as e:
            raise self.error(str(e), opname_tok) from None
        return op

    def check_weight(self, key: str, t: TensorType, node) -> None:
        """`const @key : t` needs an entry `key` of the weights store holding a `t` array."""
        where = self.weights_file or "the weights file"
        if self.weights is None:
            if self.weights_file is not None:
                raise self.error(f"const @{key} needs its weights file, but {self.weights_file} is missing", node)
            return  # parse_text without weights: the caller provides them later
        if key not in self.weights:
            raise self.error(f"weight @{key} is not in {where}", node)
        arr = self.weights[key]
        shape = getattr(arr, "shape", None)
        dtype = getattr(arr, "dtype", None)
        fits = (shape is not None and dtype == t.dtype and len(shape) == t.rank
                and all(not isinstance(d, int) or d == s for d, s in zip(t.dims, shape)))
        if not fits:
            held = f"{dtype} of shape {list(shape)}" if shape is not None else type(arr).__name__
            raise self.error(f"weight @{key} in {where} is {held}, but the constant declares {t} "
                             f"({t.dtype} of shape [{', '.join(map(str, t.dims))}])", node)

    def attrs(self, tree, graph: Graph) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in tree.children:
            if entry is None:
                continue
            key_tok, val = entry.children
            key = str(key_tok)
            if key in out:
                raise self.error(f"attribute {key!r} given twice", key_tok)
            if val.data == "list":
                out[key] = tuple(self.scalar(c) for c in val.children if c is not None)
            elif val.data == "dense":
                out[key] = self.dense(val, None)
            elif val.data == "typed_dense":
                t = self.type(val.children[1])
                if not isinstance(t, TensorType):
                    raise self.error(f"an inline tensor is a tensor, not {t}", val.children[1])
                out[key] = self.dense(val.children[0], t)
            elif val.data == "func":
                out[key] = self.func(val, graph)
            elif val.data == "func_list":
                out[key] = tuple(self.func(f, graph) for f in val.children)
            elif val.data == "type_attr":
                out[key] = self.type(val.children[0])
            elif val.data == "elem_attr":
                out[key] = str(val.children[0])
            else:
                out[key] = self.scalar(val)
        return out


def _split_dims(text: str) -> list[tuple[str, int]]:
    """'1x[N]x?x' -> [('1', 0), ('[N]', 2), ('?', 6)]: each dim and where it starts (names inside
    brackets may contain 'x')."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "[":
            j = text.index("]", i)
            out.append((text[i:j + 1], i))
            i = j + 2
        else:
            j = text.index("x", i)
            out.append((text[i:j], i))
            i = j + 1
    return out


def parse_text(text: str, filename: str = "<text>", weights: Weights | None = None,
               weights_file: str | None = None) -> Graph:
    """Parse one function from `text`.

    With `weights`, `const @name : T` must name an entry of it holding an array of T's dtype
    (its storage type when quantized) and fixed dims. `weights_file` names the weights in
    messages; given without `weights`, any `const @name` is an error saying that file is missing.
    """
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        raise SourceError(f"unexpected character {text[e.pos_in_stream or 0]!r}", filename, text,
                          e.line, e.column) from None
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            lines = text.split("\n")
            if len(lines) > 1 and lines[-1] == "":
                lines.pop()
            raise SourceError("unexpected end of file", filename, text, len(lines), len(lines[-1]) + 1) from None
        raise SourceError(f"unexpected {str(tok)!r}, expected {_describe_expected(e.expected)}",
                          filename, text, tok.line, tok.column) from None
    except lark.exceptions.UnexpectedInput as e:  # pragma: no cover - other lark errors
        raise SourceError(str(e).splitlines()[0], filename, text, e.line, e.column) from None
    return _Builder(text, filename, weights, weights_file).build(tree)


def element_dtype(name: str) -> np.dtype:
    return ELEMENT_DTYPES[name]
