"""bias-correct: the int8 model's per-channel output means move onto the float model's."""

from __future__ import annotations

import numpy as np
import pytest

from irc.passes import PassContext, PassManager
from irc.passes.base import PassError
from irc.passes.clone import clone_graph
from irc.passes.bias_correct import _channel_means, _waves, correctable

from .graphs import batches, conv_graph, samples


def _conv_results(g):
    return [op.results[0] for op in g.ops if op.name in ("conv", "gemm")]


def _mean_errors(graph, data, reference):
    """Per conv: max |E[int8] - E[float]| per channel, quantizing a copy of `graph`; the float
    means are the `reference` graph's."""
    ref, _ = clone_graph(reference)
    outs = _conv_results(ref)
    ref.set_outputs(list(ref.outputs) + outs)
    f = _channel_means(ref, lambda: iter(data), {str(k): v for k, v in enumerate(outs)})
    q, _ = clone_graph(graph)
    PassManager("quantize").run(q, PassContext())
    qouts = _conv_results(q)
    q.set_outputs(list(q.outputs) + qouts)
    m = _channel_means(q, lambda: iter(data), {str(k): v for k, v in enumerate(qouts)})
    return [float(np.abs(m[k] - f[k]).max()) for k in f]



def test_bias_correct_moves_int8_means_onto_float_ones():
    x = samples(64) * 0.5 + 1.5                          # a nonzero input mean
    data = batches(x, 16)
    g = conv_graph()
    PassManager("calibrate").run(g, PassContext(calib=data, quiet=True))
    original, _ = clone_graph(g)
    before = _mean_errors(g, data, original)
    weights = [g.const_value(op.operands[1]).copy() for op in g.ops if op.name == "conv"]
    ctx = PassContext(calib=data, quiet=True)
    PassManager("bias-correct").run(g, ctx)
    after = _mean_errors(g, data, original)
    assert ctx.stats["bias-correct"]["ops corrected"] == 2
    assert ctx.stats["bias-correct"]["waves"] == 2
    # the weights are untouched, each conv got a bias
    convs = [op for op in g.ops if op.name == "conv"]
    for op, w in zip(convs, weights):
        assert np.array_equal(g.const_value(op.operands[1]), w)
        assert len(op.operands) == 3 and op.operands[2].name.endswith("_corrected")
    assert max(after) < 0.5 * max(before), (before, after)


def test_bias_correct_needs_ranges_and_leaves_float_only_graphs_alone():
    g = conv_graph()
    with pytest.raises(PassError, match="run calibrate first"):
        PassManager("bias-correct").run(g, PassContext(calib=batches(samples(4), 4)))


def test_waves_follow_the_chain_of_convs():
    g = conv_graph()
    order = list(g.ops)
    targets = [i for i, op in enumerate(order) if correctable(g, op)]
    waves = _waves(g, order, targets)
    assert [[order[i].results[0].name for i in w] for w in waves] == [["c1"], ["c2"]]
