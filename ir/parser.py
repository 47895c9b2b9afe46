"""Parser of the text format: lark (LALR) for the syntax, then one walk that builds the graph.

Every error, syntactic or semantic (unknown op, value used before definition, a type that does
not fit the op), is a SourceError naming file:line:col with the offending line.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import lark
import numpy as np

from .attrs import is_discardable, normalize_discardable
from .graph import Graph, Weights
from .op import Op
from .registry import VerifyError, get_op
from .types import ELEMENT_DTYPES, QuantType, TensorType, parse_f32
from .diagnostics import SourceError
from .value import Value


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


_EXPECT_NAMES = {
    "VALUE": "a value (%name)", "OPNAME": "an op name", "KEY": "an attribute name",
    "INT": "an integer", "FLOAT": "a float", "STRING": "a string", "LPAR": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'", "COLON": "':'",
    "COMMA": "','", "EQUAL": "'='", "MORETHAN": "'>'", "LESSTHAN": "'<'", "ELEMENT": "an element type",
    "DIMS": "tensor dimensions", "RETURN": "'return'", "TENSOR": "'tensor'", "AT": "'@'",
}


def _describe_expected(expected) -> str:
    names = sorted({_EXPECT_NAMES.get(e, repr(e.lower()) if e.isupper() else e) for e in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


class _Builder:
    def __init__(self, text: str, filename: str, weights: Weights | None) -> None:
        self.text = text
        self.filename = filename
        self.weights = weights
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

    # -- leaves -----------------------------------------------------------------------------
    @staticmethod
    def name_of(token: lark.Token) -> str:
        s = str(token)
        if s.startswith("%"):
            s = s[1:]
        return json.loads(s) if s.startswith('"') else s

    def symbol(self, tree) -> str:
        return self.name_of(tree.children[0])

    def scalar(self, node, dtype: np.dtype | None = None) -> Any:
        """A literal's value; floats are float32 unless `dtype` says otherwise."""
        kind = node.data
        tok = node.children[0]
        if kind == "int_lit":
            return int(tok)
        if kind == "float_lit":
            return dtype.type(str(tok)) if dtype is not None and dtype.kind == "f" else parse_f32(tok)
        return json.loads(tok)

    def type(self, tree) -> TensorType:
        dims_tok = tree.children[0]
        dims: list | None = []
        if dims_tok is not None and str(dims_tok) == "*x":
            dims = None
        elif dims_tok is not None:
            for d in _split_dims(str(dims_tok)):
                dims.append(None if d == "?" else d[1:-1] if d.startswith("[") else int(d))
        element = self.element(tree.children[1])
        try:
            return TensorType(None if dims is None else tuple(dims), element)
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
                return QuantType.per_tensor(storage, parse_f32(node.children[1]), int(node.children[2]))
            axis = int(node.children[1])
            pairs = node.children[2:]
            scales = [parse_f32(p.children[0]) for p in pairs]
            zps = [int(p.children[1]) for p in pairs]
            return QuantType.per_axis(storage, scales, zps, axis)
        except ValueError as e:
            raise self.error(str(e), node) from None

    def dense(self, tree, t: TensorType | None) -> np.ndarray:
        values = [self.scalar(c, t.dtype if t is not None else None) for c in tree.children if c is not None]
        if t is None:
            arr = np.asarray(values)
            return arr.astype(np.float32) if arr.dtype == np.float64 else arr
        dtype = t.dtype
        try:
            if dtype.kind == "f":
                arr = np.array([dtype.type(v) for v in values], dtype=dtype)
            else:
                arr = np.array(values, dtype=np.int64)
                info = np.iinfo(dtype) if dtype.kind in "iu" else None
                if info is not None and arr.size and (arr.min() < info.min or arr.max() > info.max):
                    raise ValueError(f"a value does not fit {t.storage}")
                arr = arr.astype(dtype)
            if not t.is_static:
                raise ValueError("an inline constant needs a static shape")
            return arr.reshape(t.static_shape())
        except ValueError as e:
            raise self.error(f"inline constant does not fit {t}: {e}", tree) from None

    def value(self, token: lark.Token) -> Value:
        name = self.name_of(token)
        v = self.scope.get(name)
        if v is None:
            raise self.error(f"use of undefined value %{name}", token)
        return v

    def define(self, token: lark.Token, v: Value) -> None:
        name = self.name_of(token)
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
            v = graph.add_input(self.type(a.children[1]))
            self.define(a.children[0], v)
            if a.children[2] is not None:
                attrs = self.attrs(a.children[2], graph)
                for k in attrs:
                    if not is_discardable(k):
                        raise self.error(f"graph inputs take only discardable attributes (with a dot), not {k!r}", a)
                graph.input_attrs[id(v)] = {k: normalize_discardable(x) for k, x in attrs.items()}
        for s in stmts:
            graph.append(self.stmt(s, graph))
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
            if body.data == "symbol":
                key = self.symbol(body)
                if self.weights is not None and key not in self.weights:
                    raise self.error(f"weight @{key} is not in the weights file", body)
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
        types = [self.type(t) for t in type_trees]
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
                out[key] = self.dense(val.children[0], self.type(val.children[1]))
            elif val.data == "func":
                out[key] = self.func(val, graph)
            elif val.data == "func_list":
                out[key] = tuple(self.func(f, graph) for f in val.children)
            elif val.data == "elem_attr":
                out[key] = str(val.children[0])
            else:
                out[key] = self.scalar(val)
        return out


def _split_dims(text: str) -> list[str]:
    """'1x[N]x?x' -> ['1', '[N]', '?'] (names inside brackets may contain 'x')."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "[":
            j = text.index("]", i)
            out.append(text[i:j + 1])
            i = j + 2
        else:
            j = text.index("x", i)
            out.append(text[i:j])
            i = j + 1
    return out


def parse_text(text: str, filename: str = "<text>", weights: Weights | None = None) -> Graph:
    """Parse one function from `text`. With `weights`, `const @name` must name an entry of it."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        raise SourceError(f"unexpected character {text[e.pos_in_stream]!r}", filename, text,
                          e.line, e.column) from None
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            raise SourceError("unexpected end of file", filename, text, len(lines), len(lines[-1]) + 1) from None
        raise SourceError(f"unexpected {str(tok)!r}, expected {_describe_expected(e.expected)}",
                          filename, text, tok.line, tok.column) from None
    except lark.exceptions.UnexpectedInput as e:  # pragma: no cover - other lark errors
        raise SourceError(str(e).splitlines()[0], filename, text, e.line, e.column) from None
    return _Builder(text, filename, weights).build(tree)


def element_dtype(name: str) -> np.dtype:
    return ELEMENT_DTYPES[name]
