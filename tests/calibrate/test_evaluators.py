"""The evaluators passes use: the interpreter and onnxruntime give the same values, and the
in-model min/max reduction agrees with reducing the arrays."""

from __future__ import annotations

import numpy as np
import pytest

from irc.ir import IRError, parse_text
from irc.ir.evaluator import get_evaluator
from irc.passes.calibrate import observed_values

from .graphs import conv_graph, samples


def test_both_backends_compute_the_same_intermediate_values():
    g = conv_graph()
    values = observed_values(g)
    feeds = {"x": samples(4)}
    interp = get_evaluator("interpreter").run(g, feeds, values)
    ort = get_evaluator("onnxruntime", threads=1).run(g, feeds, values)
    assert set(interp) == set(ort) == set(values)
    for v in values:
        np.testing.assert_allclose(ort[v], interp[v], rtol=1e-5, atol=1e-5, err_msg=v.name)
    # the graph is left as it was (outputs restored after the export)
    assert [v.name for v in g.outputs] == ["y"]


@pytest.mark.parametrize("backend", ["interpreter", "onnxruntime"])
def test_minmax_agrees_with_reducing_the_arrays(backend):
    g = conv_graph()
    values = observed_values(g)
    ev = get_evaluator(backend)
    for seed in range(2):           # the second batch reuses the prepared session / plan
        feeds = {"x": samples(3, seed)}
        arrays = get_evaluator("interpreter").run(g, feeds, values)
        found = ev.minmax(g, feeds, values)
        for v in values:
            mn, mx, bad = found[v]
            assert bad == 0
            assert mn == pytest.approx(float(arrays[v].min()), rel=1e-5, abs=1e-6)
            assert mx == pytest.approx(float(arrays[v].max()), rel=1e-5, abs=1e-6)
    ev.close()


def test_stream_hands_out_every_value_once():
    g = conv_graph()
    values = observed_values(g)
    seen = []
    get_evaluator("interpreter").stream(g, {"x": samples(2)}, values, lambda v, a: seen.append((v, a.shape)))
    assert [v for v, _ in seen] == values
    assert dict(seen)[values[-1]] == (2, 5)


LOG_GRAPH = """func @main(%x: tensor<[N]x4xf32>) -> (tensor<[N]x4xf32>) {
  %r = relu(%x) : tensor<[N]x4xf32>
  %l = log(%r) : tensor<[N]x4xf32>
  return %l
}
"""


@pytest.mark.parametrize("backend", ["interpreter", "onnxruntime"])
def test_non_finite_activations_are_reduced_over_their_finite_values(backend):
    g = parse_text(LOG_GRAPH)
    values = observed_values(g)
    x = np.array([[-1.0, 1.0, 2.0, np.e]], dtype=np.float32)      # log(relu(-1)) = -inf
    found = get_evaluator(backend).minmax(g, {"x": x}, values)
    mn, mx, bad = found[values[-1]]
    assert bad == 1 and mn == pytest.approx(0.0, abs=1e-6) and mx == pytest.approx(1.0, rel=1e-6)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(IRError, match="unknown evaluator backend 'tvm'.*interpreter, onnxruntime"):
        get_evaluator("tvm")
