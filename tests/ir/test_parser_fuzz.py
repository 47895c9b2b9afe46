"""Fuzzing the text format: the only exception parsing may raise is SourceError, and every text
it accepts prints to a text that parses back to the same graph and prints to itself.

Two sources of texts:

* the grammar (ir/grammar.lark) through hypothesis' lark strategy, its terminals drawn from
  the op registry's names and attribute keys and from literals at and beyond every limit
  (int64, element ranges, float32 overflow, escapes, control characters, huge dimensions);
* real .ir files (random graphs of tests/ir/random_ir.py and an imported example model, each
  with its weights sidecar) with bytes flipped, inserted and deleted, numbers replaced and lines
  dropped, doubled and swapped, read through load_ir as a user's file would be; now and then
  the sidecar's bytes are damaged too.

numpy warnings count as failures: a literal that overflows must be refused, not cast with a
warning. Runs are derandomized so that CI sees the same cases every time; IRC_FUZZ_EXAMPLES
raises the number of cases per property for a longer local run.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from irc.ir import load_ir, parse_text, print_graph, save_ir
from irc.ir.compare import graph_difference
from irc.ir.diagnostics import IRError, SourceError
from irc.ir.graph import Weights
from irc.ir.parser import _parser
from irc.ir.registry import OP_REGISTRY, lookup_op
from irc.ir.weights_io import weights_path

from .random_ir import random_graph

EXAMPLES = int(os.environ.get("IRC_FUZZ_EXAMPLES", "700"))
"""Cases per property (the grammar's whole functions get half as many: they are long)."""
ROOT = Path(__file__).resolve().parents[2]

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

LONG = "9" * 5000
INTS = ["0", "1", "-1", "2", "3", "4", "16", "127", "128", "255", "256", "-128", "-129", "65504", "65536",
        "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "18446744073709551616", "9" * 30, LONG, "+1", "007", "-0"]
FLOATS = ["0.5", "1.0", "-2.5", "0.0", "-0.0", "1e-05", "inf", "-inf", "nan", "1e999", "-1e999", "1e300",
          "3.4028235e38", "3.5e38", "-3.5e38", "65504.0", "70000.0", "1e-50", "1e-46", "1.5e-45", "6e-8",
          "1.7976931348623157e308", "2e308", "1." + "0" * 5000, "1e" + "9" * 30]
STRINGS = ['"constant"', '"relu"', '""', '"a b"', '"in:0"', '"\\q"', '"\x01"', '"\x1b[2J"', '"\t"', '"\r"',
           '"\\u00e9"', '"\\ud800"', '"\\u12G4"', '"a\\"b"', '"\\\\"', '"\\/"', '"\\u0000"']
DIMS = ["1", "2", "3", "4", "0", "?", "[N]", "[a x]", "[]", "9" * 25, str(2**63), str(2**63 - 1), LONG]


def _joined_dims(dims: list[str]) -> str:
    return "".join(d + "x" for d in dims)


SEPARATORS = [" ", " ", " ", " ", "\n", "  ", ""]
"""After every token: mostly a space, so that neighbouring tokens do not merge into one."""


def _choices(values: list[str], rare: list[str] = ()) -> st.SearchStrategy[str]:
    """One draw: a value followed by a separator; the `rare` ones (thousands of characters) seldom."""
    common = [v + sep for v in values for sep in SEPARATORS]
    return st.sampled_from(common + [v + " " for v in rare])


def _terminals(start: str = "start", favour: dict[str, list[str]] | None = None) -> dict[str, st.SearchStrategy[str]]:
    """Strategies for the terminals that the grammar's rule `start` can reach; `favour` lists
    values drawn more often (each as often as all the others together)."""
    lookup_op("const")  # loads the built-in ops
    favour = favour or {}

    def pool(name: str, values: list[str]) -> list[str]:
        extra = favour.get(name, [])
        return values + extra * max(1, len(values) // max(1, len(extra))) if extra else values

    keys = sorted({k for d in OP_REGISTRY.values() for k in d.attrs} | {"q.range", "q.note", "q.fallback"})
    short = [d for d in DIMS if len(d) < 100]
    dims = ["".join(d + "x" for d in combo) for n in (1, 2, 3) for combo in itertools.product(short, repeat=n)]
    named = {
        "OPNAME": _choices(pool("OPNAME", sorted(OP_REGISTRY) + ["convv", "relux", "a", "x9_"])),
        "KEY": _choices(pool("KEY", keys + ["bogus", "q.x.y"])),
        "VALUE": _choices(pool("VALUE", ["%x", "%y", "%w", "%0", "%1", '%"a b"', '%"in:0"']
                               + [f"%{s}" for s in STRINGS])),
        "NAME": _choices(["main", "w", "v", "weights.w0", "q"]),
        "STRING": _choices(STRINGS),
        "INT": _choices(pool("INT", [i for i in INTS if len(i) < 100]), [i for i in INTS if len(i) >= 100]),
        "FLOAT": _choices(pool("FLOAT", [f for f in FLOATS if len(f) < 100]), [f for f in FLOATS if len(f) >= 100]),
        "ELEMENT": _choices(pool("ELEMENT", ["f32", "f16", "f64", "bool", "i8", "u8", "i16", "u16", "i32", "u32",
                                             "i64", "u64"])),
        "STORAGE": _choices(["i8", "u8", "i16", "u16", "i32"]),
        "DIMS": st.sampled_from([d + " " for d in pool("DIMS", dims)] + [f"2x{d}x" for d in DIMS if len(d) >= 100]),
        "WS": st.sampled_from([" ", "\n", "\t", "\r\n"]),
        "COMMENT": st.sampled_from(["// note\n", "//\n"]),  # a comment ends at its newline
    }
    grammar = _parser()
    terminals, rules, ignored = grammar.grammar.compile([start], ())
    used = {t.name for r in rules for t in r.expansion if t.is_term} | set(ignored)
    literal = {t.name: _choices([t.pattern.value]) for t in terminals if type(t.pattern).__name__ == "PatternStr"}
    return {name: s for name, s in {**literal, **named}.items() if name in used}


WEIGHTS = Weights({"w": np.zeros((2, 2), np.float32), "v": np.arange(3, dtype=np.int8),
                   "weights.w0": np.ones((3, 4), np.float32)})


def check_text(text: str, weights: Weights | None = WEIGHTS) -> str:
    """'rejected' or 'accepted'; anything else (another exception, a warning, a broken law) fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            graph = parse_text(text, "fuzz.ir", weights, weights_file="fuzz.weights.npz")
        except SourceError:
            return "rejected"
        printed = print_graph(graph)
        again = parse_text(printed, "printed.ir", weights, weights_file="fuzz.weights.npz")
        assert print_graph(again) == printed, printed
        assert graph_difference(graph, again) is None, (graph_difference(graph, again), text)
    return "accepted"


def _run(strategy, examples: int, check) -> Counter:
    seen: Counter = Counter()

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def property_(case):
        seen[check(case)] += 1

    property_()
    assert sum(seen.values()) >= examples * 0.9, seen  # hypothesis ran (nearly) every case asked for
    print(f"{sum(seen.values())} cases: {dict(seen)}")
    return seen


def test_functions_from_the_grammar():
    terminals = _terminals()
    favoured = _terminals("start", FAVOURED)
    functions = from_lark(_parser(), explicit=terminals) | from_lark(_parser(), explicit=favoured)
    seen = _run(functions, EXAMPLES // 2, check_text)
    # whole random functions seldom type-check (accepted texts come mostly from the statements and
    # the mutations below); these are here for the syntax, the names and the literals
    assert seen["accepted"] >= 1 and seen["rejected"] >= EXAMPLES * 0.4, seen


HEADER = ("func @main(%x: tensor<2x3xf32>, %y: tensor<2x3xi64>, %w: tensor<[N]x4x!q.u8<0.5:3>>, "
          "%0: tensor<?x3xf32>) -> () {\n")
"""Statements drawn from the grammar go into a function that defines the values they may use."""


def _in_function(statements: list[str]) -> str:
    return HEADER + "".join(f"  {s}\n" for s in statements) + "  return\n}\n"


FAVOURED = {  # what the function around the statements defines, and ops whose result type is easy to get right
    "VALUE": ["%x", "%0", "%1", "%2"], "DIMS": ["2x3x", "?x3x", "3x", "2x"], "ELEMENT": ["f32"],
    "OPNAME": ["relu", "abs", "neg", "identity", "sigmoid", "tanh", "exp", "add", "mul", "max", "leaky_relu",
               "quantize", "dequantize"],
    "KEY": ["alpha", "q.note", "q.range"], "INT": ["0", "1", "2", "3"], "FLOAT": ["0.5", "1.0", "-2.5"],
}


def _rule(start: str) -> st.SearchStrategy[str]:
    return from_lark(_parser(), start=start, explicit=_terminals(start, FAVOURED))


def _statements() -> st.SearchStrategy[str]:
    """Whole statements from the grammar, and statements assembled from the grammar's types,
    attribute dictionaries and inline tensors around an op or a constant (far more of these parse)."""
    grammar_type = _rule("type")
    some_type = st.sampled_from(["tensor<2x3xf32>", "tensor<?x3xf32>"]) | grammar_type
    unary = st.sampled_from(["relu", "abs", "neg", "identity", "sigmoid", "tanh", "exp", "leaky_relu", "gelu"])
    op = st.builds("%1 = {}(%x) {} : {}".format, unary, st.just("") | _rule("attr_dict"), some_type)
    const = st.builds("%1 = const {} : {}".format, _rule("dense"), grammar_type)
    scalar_const = st.builds(lambda d, t: f"%1 = const {d} : tensor<{t}>", _rule("dense"),
                             st.sampled_from(["f32", "f16", "f64", "bool", "i8", "u8", "i32", "i64", "1xf32", "2xi64",
                                              "1x!q.u8<0.5:3>", "2x!q.i8<axis=0, [0.5:0, 0.25:0]>"]))
    numbered = st.lists(_rule("stmt") | op | const | scalar_const, min_size=1, max_size=3).map(
        lambda stmts: [t.replace("%1 =", f"%r{i} =", 1) for i, t in enumerate(stmts)])
    return numbered.map(_in_function)


def test_statements_from_the_grammar():
    seen = _run(_statements(), EXAMPLES, check_text)
    assert seen["accepted"] >= EXAMPLES * 0.03, seen  # the strategy reaches past the syntax


# -- mutations of real files ----------------------------------------------------------------------

def _corpus(folder: Path) -> list[Path]:
    files = []
    for seed in range(0, 48, 4):
        path = folder / f"random{seed}.ir"
        save_ir(random_graph(seed), path)
        files.append(path)
    from irc.backends.onnx import import_onnx

    path = folder / "digits_mobilenetv2.ir"
    save_ir(import_onnx(ROOT / "examples" / "models" / "digits_mobilenetv2.onnx"), path)
    files.append(path)
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    files = _corpus(folder)
    sidecars = {p: weights_path(p).read_bytes() if weights_path(p).exists() else None for p in files}
    return [(p.read_bytes(), sidecars[p]) for p in files], tmp_path_factory.mktemp("mutated")


NUMBER = re.compile(rb"-?\d+(\.\d*)?(e-?\d+)?")
NOISE = [b"9" * 30, LONG.encode(), b"1e999", b"0.5", b"-", b'"', b"\\q", b"\x01", b"\x00", b"\xff\xfe", b"\xc3",
         b"nan", b"inf", b"tensor<", b"?x", b"[N]x", b"%", b"@", b"{", b"}", b"=", b",", b" ", b"\n", b"\r"]


@st.composite
def mutations(draw, count: int):
    """(corpus index, mutated .ir bytes, sidecar bytes or None to keep the original)."""
    index = draw(st.integers(0, count - 1))
    ops = draw(st.lists(st.sampled_from(["flip", "insert", "delete", "number", "drop line", "double line",
                                         "swap lines", "sidecar"]), min_size=1, max_size=4))
    return index, ops, draw(st.randoms(use_true_random=False))


def _mutate(text: bytes, sidecar: bytes | None, ops: list[str], rng) -> tuple[bytes, bytes | None]:
    data = bytearray(text)
    side = bytearray(sidecar) if sidecar is not None else None
    for op in ops:
        if op == "flip" and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == "insert":
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(NOISE)
        elif op == "delete" and data:
            at = rng.randrange(len(data))
            del data[at:at + rng.randrange(1, 40)]
        elif op == "number":
            spans = [m.span() for m in NUMBER.finditer(data)]
            if spans:
                a, b = rng.choice(spans)
                data[a:b] = rng.choice(INTS + FLOATS).encode()
        elif op in ("drop line", "double line", "swap lines"):
            lines = bytes(data).split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if op == "drop line":
                del lines[i]
            elif op == "double line":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif op == "sidecar" and side:
            for _ in range(rng.randrange(1, 4)):
                side[rng.randrange(len(side))] = rng.randrange(256)
            if rng.random() < 0.3:
                del side[rng.randrange(len(side)):]
    return bytes(data), (bytes(side) if side is not None else None)


def check_file(path: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            graph = load_ir(path)
        except IRError:
            return "rejected"
        printed = print_graph(graph)
        again = parse_text(printed, "printed.ir", graph.weights)
        assert print_graph(again) == printed
        assert graph_difference(graph, again) is None
    return "accepted"


def test_mutated_files(corpus):
    files, folder = corpus
    # one folder per corpus file with its sidecar in place, one more for damaged sidecars
    paths = []
    for i, (_, sidecar) in enumerate(files):
        (folder / str(i)).mkdir()
        paths.append(folder / str(i) / "case.ir")
        if sidecar is not None:
            weights_path(paths[-1]).write_bytes(sidecar)
    (folder / "damaged").mkdir()
    damaged = folder / "damaged" / "case.ir"

    def check(case) -> str:
        index, ops, rng = case
        text, sidecar = files[index]
        text, side = _mutate(text, sidecar, ops, rng)
        path = paths[index] if side == sidecar else damaged
        path.write_bytes(text)
        if path == damaged:
            weights_path(path).write_bytes(side)
        return check_file(path)

    seen = _run(mutations(len(files)), EXAMPLES, check)
    assert seen["accepted"] >= EXAMPLES * 0.02 and seen["rejected"] >= EXAMPLES * 0.3, seen


def test_the_corpus_itself_round_trips(corpus):
    files, folder = corpus
    for i, (text, sidecar) in enumerate(files):
        path = folder / f"clean{i}.ir"
        path.write_bytes(text)
        if sidecar is not None:
            weights_path(path).write_bytes(sidecar)
        assert check_file(path) == "accepted"
        assert print_graph(load_ir(path)).encode() == text
