"""Data-movement ops on quantized tensors: the stored integers move, the parameters stay.

Every op runs on u8 and i8 storage and must give exactly what numpy gives on the integers;
max_pool pads with qmin (checked on all-negative i8 data, and against onnxruntime, which runs
MaxPool on uint8 once the QDQ pair around it is dropped); a result declared with other
parameters is an error, not a silent reinterpretation.
"""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.numpy_interp.kernels.int8_movement import MOVEMENT_OPS
from irc.ir import Graph, Op, verify_graph
from irc.ir.registry import get_op
from irc.ir.types import QuantType, TensorType

from .qdq_models import act, qdq_model, run_qdq

PARAMS = {"u8": QuantType.per_tensor("u8", 0.05, 131), "i8": QuantType.per_tensor("i8", 0.02, 0)}


def one_op_graph(name, x_type, attrs, extra=(), result_element=None):
    """x (and constant `extra` operands) -> op; result types inferred, with x's quantized type."""
    g = Graph()
    x = g.add_input(x_type, "x")
    operands = [x]
    for array in extra:
        c = Op("const", (), [TensorType(array.shape, "i64")], {"value": array})
        g.append(c)
        operands.append(c.result)
    inferred = get_op(name).infer_types([v.type for v in operands], attrs)
    if result_element is not None:
        inferred = [t.with_element(result_element) for t in inferred]
    else:  # the shape family carries the quantized type itself (a per-axis one follows its axis)
        inferred = [t if t.is_quantized else t.with_element(x_type.element) for t in inferred]
    op = Op(name, operands, inferred, attrs, result_names=[f"y{i}" for i in range(len(inferred))])
    g.append(op)
    g.set_outputs(op.results)
    return g


CASES = [  # op, attrs, input shape, numpy equivalent, extra constant operands
    ("reshape", {"shape": [2, -1]}, (2, 3, 4), lambda x: x.reshape(2, -1), ()),
    ("flatten", {"axis": 2}, (2, 3, 4, 5), lambda x: x.reshape(6, 20), ()),
    ("transpose", {"perm": [0, 2, 3, 1]}, (2, 3, 4, 5), lambda x: x.transpose(0, 2, 3, 1), ()),
    ("squeeze", {"axes": [1]}, (2, 1, 4), lambda x: x[:, 0], ()),
    ("unsqueeze", {"axes": [0, 3]}, (2, 4), lambda x: x[None, :, :, None], ()),
    ("slice", {"starts": [1, 0], "ends": [3, 9], "axes": [1, 2], "steps": [1, 2]}, (2, 4, 9),
     lambda x: x[:, 1:3, 0:9:2], ()),
    ("split", {"axis": 1, "split": [1, 3]}, (2, 4, 3), lambda x: (x[:, :1], x[:, 1:]), ()),
    ("gather", {"axis": 1}, (2, 5, 3), lambda x: x[:, [4, 0, 4]], (np.array([4, 0, -1]),)),
    ("expand", {"shape": [3, 1, 4]}, (2, 1), lambda x: np.broadcast_to(x, (3, 2, 4)), ()),
    ("tile", {"repeats": [2, 1, 3]}, (2, 3, 2), lambda x: np.tile(x, (2, 1, 3)), ()),
    ("identity", {}, (3, 4), lambda x: x, ()),
    ("max_pool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, (1, 2, 7, 7), None, ()),
    ("global_max_pool", {}, (2, 3, 4, 5), lambda x: x.max(axis=(2, 3), keepdims=True), ()),
]


def test_every_movement_op_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(MOVEMENT_OPS)


def max_pool_reference(x):
    """3x3 / stride 2 / pad 1 max pool with the padding below every stored value."""
    lo = np.iinfo(x.dtype).min
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=lo)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    return windows.max(axis=(-1, -2))


@pytest.mark.parametrize("storage", ["u8", "i8"])
@pytest.mark.parametrize("name, attrs, shape, expect, extra", CASES, ids=[c[0] for c in CASES])
def test_movement_ops_move_stored_integers(storage, name, attrs, shape, expect, extra):
    qt = PARAMS[storage]
    g = one_op_graph(name, TensorType(shape, qt), attrs, extra)
    verify_graph(g)
    rng = np.random.default_rng(len(shape))
    info = np.iinfo(qt.storage_dtype)
    x = rng.integers(info.min, info.max + 1, shape).astype(qt.storage_dtype)
    got = run_graph(g, {"x": x})
    want = expect(x) if expect is not None else max_pool_reference(x)
    want = want if isinstance(want, tuple) else (want,)
    for i, w in enumerate(want):
        assert got[f"y{i}"].dtype == qt.storage_dtype
        np.testing.assert_array_equal(got[f"y{i}"], w)


def test_max_pool_pads_with_qmin():
    """All-negative i8 data: a zero (or zero point) padding would show up at the borders."""
    qt = QuantType.per_tensor("i8", 0.1, -20)
    x = np.random.default_rng(0).integers(-128, -100, (1, 2, 7, 7)).astype(np.int8)
    g = one_op_graph("max_pool", TensorType(x.shape, qt), CASES[-2][1])
    got = run_graph(g, {"x": x})["y0"]
    assert got.max() < -100
    np.testing.assert_array_equal(got, max_pool_reference(x))


def test_max_pool_matches_onnxruntime_on_uint8(tmp_path):
    sx, zx = np.float32(0.04), 128
    q = np.random.default_rng(1).integers(0, 256, (2, 4, 9, 9))
    x = ((q - zx) * sx).astype(np.float32)
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    ort_run = run_qdq(qdq_model("MaxPool", [act("x", x, sx, zx)], (sx, zx), attrs), {"x": x}, tmp_path)
    assert ort_run.op_types.count("DequantizeLinear") == 1, ort_run.op_types  # only the output's
    g = one_op_graph("max_pool", TensorType(q.shape, QuantType.per_tensor("u8", sx, zx)), attrs)
    np.testing.assert_array_equal(run_graph(g, {"x": ort_run.outputs["x_q"]})["y0"], ort_run.outputs["y_q"])


def test_per_axis_type_follows_its_axis_through_transpose():
    qt = QuantType.per_axis("i8", [0.1, 0.2, 0.3], [0, 0, 0], 0)
    g = one_op_graph("transpose", TensorType((3, 2), qt), {"perm": [1, 0]})
    assert g.outputs[0].type.quant.axis == 1
    x = np.arange(6, dtype=np.int8).reshape(3, 2)
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y0"], x.T)


def test_a_result_with_other_parameters_is_an_error():
    g = one_op_graph("reshape", TensorType((2, 3), PARAMS["u8"]), {"shape": [6]},
                     result_element=QuantType.per_tensor("u8", 0.1, 131))
    with pytest.raises(Exception, match="cannot requantize"):
        run_graph(g, {"x": np.zeros((2, 3), np.uint8)})
    g = one_op_graph("max_pool", TensorType((1, 1, 3, 3), PARAMS["u8"]), {"kernel_shape": [2, 2]},
                     result_element="f32")
    with pytest.raises(Exception, match="must give a quantized result"):
        run_graph(g, {"x": np.zeros((1, 1, 3, 3), np.uint8)})
