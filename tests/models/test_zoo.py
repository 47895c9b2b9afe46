"""The benchmark zoo: eleven fp32 CNNs that pass onnx.checker, have a symbolic batch and run.

The three big fully-connected nets (vgg19, bvlc_alexnet, zfnet512: 240-580 MB) are only built
and checked here; the others also run once at batch 1 in onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from irc.zoo import LIGHT_MODELS, ZOO_MODELS, mobilenet_v2, modernize, realistic_light_model, ssdlite, zoo_model

BIG = {"vgg19", "bvlc_alexnet", "zfnet512"}

EXPECTED_OUTPUTS = {
    "mobilenetv2": [("logits", (1, 1000))],
    "ssdlite": [("scores", (1, 3234, 91)), ("boxes", (1, 3234, 4))],
}


def _dims(vi) -> list:
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_is_valid_and_runs(name):
    model = zoo_model(name)
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13
    assert len(model.graph.input) == 1
    assert _dims(model.graph.input[0])[0] == "N"
    assert all(_dims(o)[0] == "N" for o in model.graph.output)
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Dropout", "Sum", "ConstantOfShape"}, ops
    assert {"Conv"} <= ops
    if name in BIG:
        return
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert inferred.graph.value_info  # every intermediate shape is known
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    shape = [1, *_dims(model.graph.input[0])[1:]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    outs = sess.run(None, {model.graph.input[0].name: x})
    for o in outs:
        assert np.isfinite(o).all()
        assert o.shape[0] == 1 and float(np.std(o)) > 0
    if name in EXPECTED_OUTPUTS:
        assert [(o.name, tuple(v.shape)) for o, v in zip(sess.get_outputs(), outs)] == EXPECTED_OUTPUTS[name]


def test_coded_models_are_deterministic_by_seed():
    a, b, c = mobilenet_v2(seed=3), mobilenet_v2(seed=3), mobilenet_v2(seed=4)
    assert a.SerializeToString() == b.SerializeToString()
    assert a.SerializeToString() != c.SerializeToString()
    assert ssdlite(seed=1).SerializeToString() == ssdlite(seed=1).SerializeToString()


def test_mobilenet_structure():
    ops = [n.op_type for n in mobilenet_v2().graph.node]
    assert ops.count("Conv") == 52 and ops.count("Gemm") == 1
    assert ops.count("Add") == 10  # the stride-1, same-width inverted residuals
    assert ops.count("Clip") == 35
    convs = [n for n in mobilenet_v2().graph.node if n.op_type == "Conv"]
    assert sum(1 for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)) == 17  # depthwise


def test_ssdlite_heads_are_depthwise_separable():
    model = ssdlite()
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    heads = [n for n in convs if n.name.startswith(("cls_", "box_"))]
    assert len(heads) == 24  # 6 maps x (class, box) x (depthwise, pointwise)
    inits = {t.name: t for t in model.graph.initializer}
    cls_out = sorted(inits[n.input[1]].dims[0] for n in heads if n.name.startswith("cls_") and "dw" not in n.name)
    assert cls_out == [6 * 91] * 6


def test_modernize_keeps_numbers():
    """Dropout removal, dynamic batch and the opset upgrade (Softmax 9 -> 13) do not change what the model computes."""
    old = realistic_light_model("squeezenet")
    new = modernize(old)
    assert old.opset_import[0].version == 9 and new.opset_import[0].version == 13
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    def run(m):
        return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
            None, {m.graph.input[0].name: x})[0]
    np.testing.assert_allclose(run(new), run(old), rtol=1e-5, atol=1e-7)


def test_modernize_folds_weight_reshape_and_keeps_the_input_model():
    old = realistic_light_model("inception_v1")
    before = old.SerializeToString()
    new = modernize(old)
    assert old.SerializeToString() == before
    gemm = next(n for n in new.graph.node if n.op_type == "Gemm")
    inits = {t.name for t in new.graph.initializer}
    assert gemm.input[1] in inits  # the classifier weight is an initializer, not a Reshape output


def test_unknown_zoo_name():
    with pytest.raises(ValueError, match="unknown zoo model 'resnet51'"):
        zoo_model("resnet51")
    assert set(LIGHT_MODELS) < set(ZOO_MODELS)
