"""Fuzzing ONNX import: truncated and bit-flipped model files end in IRError, never in another
exception; a damaged model that still imports gives a graph that verifies and whose text round-trips.

The corpus: small models built here (conv net, a shape subgraph exporters emit, an opset-9
Upsample the version converter rewrites, an opset-22 model with Constant / Clip / ReduceMean)
and two example models. Each case truncates the file, flips bits, inserts or deletes bytes (one to
three of these), writes it and imports it from the file as `irc import` would. Derandomized;
IRC_FUZZ_EXAMPLES sets the number of cases.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from irc.backends.onnx import import_onnx
from irc.ir import IRError, parse_text, print_graph
from irc.ir.compare import graph_difference

EXAMPLES = int(os.environ.get("IRC_FUZZ_EXAMPLES", "1200"))
ROOT = Path(__file__).resolve().parents[2]


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _model(nodes, inputs, outputs, inits, opset: int) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _corpus() -> list[bytes]:
    rng = np.random.default_rng(0)
    arr = numpy_helper.from_array
    conv = _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                   helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["p"]),
                   helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("Gemm", ["f", "g"], ["y"], transB=1)],
                  [_f32("x", ["N", 1, 8, 8])], [_f32("y", ["N", 3])],
                  [arr(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w"),
                   arr(rng.standard_normal((3, 4)).astype(np.float32), "g")], 17)
    shapes = _model([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
                     helper.make_node("Unsqueeze", ["n", "ax"], ["nu"]),
                     helper.make_node("Concat", ["nu", "m1"], ["shape"], axis=0),
                     helper.make_node("Reshape", ["x", "shape"], ["y0"]),
                     helper.make_node("Transpose", ["y0"], ["y1"], perm=[1, 0]),
                     helper.make_node("Split", ["y1", "sp"], ["a", "b"], axis=0),
                     helper.make_node("Concat", ["b", "a"], ["y"], axis=0)],
                    [_f32("x", [2, 3, 4])], [_f32("y", [12, 2])],
                    [arr(np.array(0, np.int64), "i0"), arr(np.array([0], np.int64), "ax"),
                     arr(np.array([-1], np.int64), "m1"), arr(np.array([6, 6], np.int64), "sp")], 13)
    upsample = _model([helper.make_node("Upsample", ["x", "sc"], ["u"], mode="nearest"),
                       helper.make_node("MaxPool", ["u"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                      [_f32("x", [1, 2, 4, 4])], [_f32("y", [1, 2, 4, 4])],
                      [arr(np.array([1, 1, 2, 2], np.float32), "sc")], 9)
    newer = _model([helper.make_node("Constant", [], ["k"], value=arr(np.full((1, 2, 1, 1), 0.5, np.float32))),
                    helper.make_node("Mul", ["x", "k"], ["m"]), helper.make_node("Sigmoid", ["m"], ["s"]),
                    helper.make_node("Clip", ["s", "lo", "hi"], ["c"]),
                    helper.make_node("ReduceMean", ["c", "axes"], ["y"], keepdims=1)],
                   [_f32("x", ["N", 2, 4, 4])], [_f32("y", ["N", 2, 1, 1])],
                   [arr(np.float32(0.1), "lo"), arr(np.float32(0.9), "hi"), arr(np.array([2, 3], np.int64), "axes")],
                   22)
    examples = [(ROOT / "examples" / "models" / f"{m}.onnx").read_bytes()
                for m in ("digits_mobilenetv2", "digits_inception")]
    return [conv, shapes, upsample, newer, *examples]


CORPUS = _corpus()


@st.composite
def damaged(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "flip", "flip", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            for _ in range(draw(st.integers(1, 8))):
                data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


def test_the_corpus_imports():
    for data in CORPUS:
        import_onnx(onnx.load_from_string(data))


def test_damaged_models_end_in_irerror(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx_fuzz") / "case.onnx"
    seen: Counter = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(damaged())
    def property_(data):
        path.write_bytes(data)
        try:
            graph = import_onnx(path)
        except IRError:
            seen["rejected"] += 1
            return
        seen["imported"] += 1
        text = print_graph(graph)
        again = parse_text(text, weights=graph.weights)
        assert print_graph(again) == text and graph_difference(graph, again) is None

    property_()
    print(f"{sum(seen.values())} cases: {dict(seen)}")
    assert sum(seen.values()) >= EXAMPLES * 0.9, seen
    assert seen["imported"] >= EXAMPLES * 0.02 and seen["rejected"] >= EXAMPLES * 0.5, seen


@pytest.mark.parametrize("cut", [0, 1, 10, 100])
def test_a_truncated_example_model_is_one_message(tmp_path, cut):
    path = tmp_path / "cut.onnx"
    path.write_bytes(CORPUS[-1][:cut])
    with pytest.raises(IRError, match=str(path)):
        import_onnx(path)
