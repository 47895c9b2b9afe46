"""equalize: the float model computes the same, and the paired weight ranges meet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import export_onnx
from irc.passes import PassContext, PassManager
from irc.passes.clone import clone_graph
from irc.passes.equalize import find_pairs
from irc.model_files import load_model

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.mark.parametrize("name", ["digits_resnet", "digits_densenet", "digits_inception"])
def test_equalized_model_computes_the_same(name):
    g, _ = load_model(MODELS / f"{name}.onnx")
    PassManager("fold,fuse,dce").run(g, PassContext())
    before, _ = clone_graph(g)
    pairs, _ = find_pairs(g)
    assert pairs
    ctx = PassContext()
    PassManager("equalize").run(g, ctx)
    assert ctx.stats["equalize"]["pairs equalized"] == len(pairs)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 1, 32, 32)).astype(np.float32)
    a = run_graph(before, {"input": x})["logits"]
    b = run_graph(g, {"input": x})["logits"]
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
    # onnxruntime runs the rewritten float model too
    import onnxruntime as ort

    sess = ort.InferenceSession(export_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


def test_paired_ranges_meet():
    g, _ = load_model(MODELS / "digits_resnet.onnx")
    PassManager("fold,fuse,dce,equalize").run(g, PassContext())
    for first, second in find_pairs(g)[0]:
        w1, w2 = g.const_value(first.operands[1]), g.const_value(second.operands[1])
        r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
        r2 = np.abs(w2).transpose(1, 0, 2, 3).reshape(w2.shape[1], -1).max(axis=1)
        np.testing.assert_allclose(r1, r2, rtol=1e-4)
