"""Literal values the parser refuses where they stand, with the column of the literal.

Python's int() refuses more than 4300 digits, numpy casts overflow to inf with a warning, json
rejects control characters: none of that may escape parse_text as anything but a SourceError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from irc.ir import parse_text, print_graph
from irc.ir.diagnostics import SourceError


def const(values: str, t: str) -> str:
    return f"func @main() -> (tensor<{t}>) {{\n  %c = const dense<[{values}]> : tensor<{t}>\n  return %c\n}}\n"


def unary(attrs: str) -> str:
    return f"func @main(%x: tensor<2xf32>) -> (tensor<2xf32>) {{\n  %y = leaky_relu(%x) {{{attrs}}} : tensor<2xf32>\n  return %y\n}}\n"


LONG = "9" * 5000
CASES = [  # (id, text, line, where the caret goes: the first occurrence of this text on the line, message)
    ("dimension of 5000 digits", f"func @main(%x: tensor<2x{LONG}xf32>) -> () {{\n  return\n}}\n",
     1, "999", "dimension 999999999999...999999 (5000 characters) is outside [0, 9223372036854775807]"),
    ("dimension above int64", f"func @main(%x: tensor<{2**63}xf32>) -> () {{\n  return\n}}\n",
     1, "922", "dimension 9223372036854775808 is outside"),
    ("integer above int64", const(f"1, {2**63}", "2xi64"), 2, "922", "9223372036854775808 does not fit int64"),
    ("integer of 5000 digits", const(LONG, "1xi64"), 2, "999", "(5000 characters) does not fit int64"),
    ("integer above u8", const("256", "1xu8"), 2, "256", "value of u8 constant (tensor<1xu8>): 256 is outside [0, 255]"),
    ("integer above the i8 storage", const("128", "1x!q.i8<0.5:0>"), 2, "128", "value of i8 constant"),
    ("inf into an integer", const("inf", "1xi32"), 2, "inf", "float literal inf in an inline constant"),
    ("1e300 into an integer", const("1e300", "1xi32"), 2, "1e300", "float literal 1e300 in an inline constant"),
    ("0.5 into an integer", const("7, 0.5", "2xi32"), 2, "0.5", "an integer constant (tensor<2xi32>) takes integers"),
    ("nan into a bool", const("nan", "1xbool"), 2, "nan", "a bool constant takes 0 or 1"),
    ("2 into a bool", const("2", "1xbool"), 2, "2]", "2 is outside [0, 1]"),
    ("a string into a float", const('"a"', "1xf32"), 2, '"a"', "a string literal where a number belongs"),
    ("1e999 into f32", const("1e999", "1xf32"), 2, "1e999", "1e999 is beyond the f32 range"),
    ("-1e999 into f64", const("-1e999", "1xf64"), 2, "-1e999", "-1e999 is beyond the f64 range of tensor<1xf64> "
     "(it would become -inf"),
    ("70000.0 into f16", const("70000.0", "1xf16"), 2, "70000.0", "70000.0 is beyond the f16 range"),
    ("70000 into f16", const("70000", "1xf16"), 2, "70000", "70000 is beyond the f16 range"),
    ("too few values", const("1.0", "2xf32"), 2, "dense", "it has 1 value(s), the type holds 2"),
    ("an empty constant of an impossible shape", const("", f"{2**63 - 1}x{2**63 - 1}x0xf32"), 2, "dense",
     "no array can have that shape"),
    ("an empty value name", 'func @main(%"": tensor<f32>) -> () {\n  return\n}\n', 1, '%""',
     'a value needs a name: %"" is empty'),
    ("1e999 in an attribute", unary("alpha=1e999"), 2, "1e999", "1e999 is beyond the f32 range"),
    ("integer of 5000 digits in an attribute", unary(f"alpha={LONG}"), 2, "999", "does not fit int64"),
    ("integer above int64 in a list", unary(f"q.l=[1, {2**64}]"), 2, "184", "18446744073709551616 does not fit int64"),
    ("string in an attribute tensor", unary('q.t=dense<[1, "x"]>'), 2, '"x"', "an inline tensor holds numbers"),
    ("scale beyond f32", "func @main(%x: tensor<2xf32>) -> (tensor<2x!q.u8<1e39:0>>) {\n"
     "  %y = quantize(%x) : tensor<2x!q.u8<1e39:0>>\n  return %y\n}\n", 2, "1e39", "1e39 is beyond the f32 range of a scale"),
    ("zero point beyond int64", f"func @main(%x: tensor<2x!q.u8<0.5:{LONG}>>) -> () {{\n  return\n}}\n",
     1, "999", "zero point 999999999999"),
    ("invalid escape in a value name", 'func @main(%"a\\q": tensor<f32>) -> () {\n  return\n}\n',
     1, "\\q", "invalid escape '\\q' in a quoted string"),
    ("invalid \\u escape in a function name", 'func @"\\u12G4"() -> () {\n  return\n}\n',
     1, "\\u", "invalid escape '\\u12G4'"),
    ("control character in a name", 'func @"a\x01b"() -> () {\n  return\n}\n',
     1, "\x01", "raw control character U+0001 in a quoted string; write it as \\u0001"),
    ("control character in a string attribute", unary('q.n="tab\there"'), 2, "\t", "raw control character U+0009"),
    ("carriage return in a weight key", 'func @main() -> (tensor<f32>) {\n  %w = const @"a\rb" : tensor<f32>\n'
     '  return %w\n}\n', 2, "\r", "raw control character U+000D"),
]


@pytest.mark.parametrize("text, line, marker, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_literal_is_a_located_error(text, line, marker, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning may leak either
        with pytest.raises(SourceError) as info:
            parse_text(text, "t.ir")
    e = info.value
    assert message in e.message, e.message
    assert (e.line, e.column) == (line, text.split("\n")[line - 1].index(marker) + 1), str(e)


@pytest.mark.parametrize("text", [
    const("inf, -inf, nan, 3.4028235e38, 1e-45", "5xf32"),
    const("6.55e4, -6.55e4, inf", "3xf16"),
    const("1e308, -inf", "2xf64"),
    const("-9223372036854775808, 9223372036854775807", "2xi64"),
    const("0, 255", "2xu8"),
    const("-127, 127", "2x!q.i8<0.5:0>"),
    const("1, 0, 1", "3xbool"),
    'func @"\\u00e9\\t\\"x\\"\\ud800"() -> () {\n  return\n}\n',
], ids=["f32 extremes", "f16 extremes", "f64 extremes", "int64 extremes", "u8 extremes", "i8 storage", "bool",
        "escapes"])
def test_values_at_the_limits_are_kept_exactly(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert print_graph(parse_text(text)) == text


def test_integers_into_float_constants_are_converted():
    g = parse_text(const("1, -2", "2xf32"))
    (op,) = g.ops
    assert op.attrs["value"].dtype == np.float32 and op.attrs["value"].tolist() == [1.0, -2.0]


def test_a_long_line_is_shown_around_the_column():
    with pytest.raises(SourceError) as info:
        parse_text(const(", ".join(["1"] * 400 + ["0.5"] + ["1"] * 400), "801xi32"))
    _, shown, caret = str(info.value).split("\n")
    assert len(shown) < 120 and shown.startswith("  ...") and shown.endswith("...")
    assert shown[len(caret) - 1:len(caret) + 2] == "0.5"


def test_control_characters_are_not_echoed():
    with pytest.raises(SourceError) as info:
        parse_text('func @"\x1b[2J"() -> () {\n  return\n}\n')
    assert "\x1b" not in str(info.value) and "U+001B" in str(info.value)
