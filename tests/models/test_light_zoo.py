"""The light CNN topologies with realistic random weights, against onnxruntime.

For each model: import -> interpreter equals onnxruntime on the original; import -> emit ->
onnxruntime equals onnxruntime on the original; the text form obeys the round-trip laws
(print(parse(t)) == t, and the reparsed graph computes the same), and `fold,fuse,dce` keeps the
outputs while folding every batch_norm after a conv and fusing every relu after a conv.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import export_onnx, import_onnx
from irc.ir import load_ir, print_graph, save_ir
from irc.passes import PassManager
from irc.zoo import LIGHT_MODELS, realistic_light_model


def ort_run(model: onnx.ModelProto, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _input(model: onnx.ModelProto, seed: int = 1) -> dict[str, np.ndarray]:
    vi = model.graph.input[0]
    shape = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
    return {vi.name: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


def _close(actual, expected, what):
    # deep fp32 nets accumulate rounding differently in each runtime: compare relative to the
    # output's scale, and require the same top class
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4 * scale, err_msg=what)
    assert np.argmax(actual.reshape(actual.shape[0], -1), 1).tolist() == \
        np.argmax(expected.reshape(expected.shape[0], -1), 1).tolist(), what


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_realistic_light_model_matches_onnxruntime(name, tmp_path):
    model = realistic_light_model(name)
    feeds = _input(model)
    (expected,) = ort_run(model, feeds)

    graph = import_onnx(model)
    (got,) = run_graph(graph, feeds).values()
    _close(got, expected, "interpreter vs onnxruntime")

    exported = export_onnx(graph)
    onnx.checker.check_model(exported)
    (again,) = ort_run(exported, feeds)
    _close(again, expected, "onnxruntime on the exported model")

    # the text form: save, load, print is stable and the reloaded graph computes the same
    path = tmp_path / f"{name}.ir"
    save_ir(graph, path)
    text = path.read_text()
    reloaded = load_ir(path)
    assert print_graph(reloaded) == text
    (from_text,) = run_graph(reloaded, feeds).values()
    np.testing.assert_array_equal(from_text, got)

    PassManager("fold,fuse,dce").run(reloaded)
    (folded,) = run_graph(reloaded, feeds).values()
    _close(folded, expected, "after fold,fuse,dce")
    assert not _after_single_use_conv(reloaded, ("batch_norm", "relu")), "conv + batch_norm/relu left unfused"
    assert not any(op.name == "sum" for op in reloaded.ops)


def _after_single_use_conv(graph, kinds):
    """Ops of `kinds` reading a conv result that nothing else reads."""
    return [op for op in graph.ops if op.name in kinds and op.operands[0].producer is not None
            and op.operands[0].producer.name == "conv" and len(op.operands[0].uses) == 1]
