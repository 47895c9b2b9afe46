"""speed_check: int8 regions, and which of them go back to fp32 (timings injected: no test
depends on how fast this machine runs anything)."""

from __future__ import annotations

import numpy as np

import irc
from irc.passes import PassContext, PassManager
from irc.passes.clone import clone_graph
from irc.passes.quantize import Quantize
from irc.speed_check import int8_regions, is_int8, speed_check

from .graphs import batches, conv_graph, samples


def _calibrated():
    g = conv_graph()
    PassManager("calibrate").run(g, PassContext(calib=batches(samples(8), 8), quiet=True))
    return g


def _quantized(g, skip=("s",)):
    q, _ = clone_graph(g)
    p = Quantize(skip=skip)
    p.run(q, PassContext())
    return q, p


def test_regions_are_connected_int8_ops():
    q, _ = _quantized(_calibrated())
    names = [sorted(op.label for op in r) for r in int8_regions(q)]
    # the add in float splits the graph: c1 -> relu -> c2 before it, pool -> flatten -> matmul after
    assert names == [["c1", "c2", "r1"], ["f", "p", "y"]]  # the matmul keeps a float result


def test_a_region_that_is_not_faster_goes_back_to_fp32():
    g = _calibrated()
    q, p = _quantized(g)
    speedups = iter([1.4, 0.8, 1.2])            # first region faster, second slower, final model
    final, report = speed_check(g, q, p, {"x": samples(1)}, timer=lambda *a: next(speedups))
    assert [r.kept_fp32 for r in report.regions] == [False, True]
    assert report.regions[1].kinds == {"flatten": 1, "global_average_pool": 1, "matmul": 1}
    assert {op.label for op in final.ops if is_int8(op)} == {"c1", "r1", "c2"}
    assert ("kept fp32 for speed: 3 ops (1 flatten, 1 global_average_pool, 1 matmul; int8 0.80x)"
            in report.summary())


def test_no_region_faster_says_so():
    g = _calibrated()
    q, p = _quantized(g, skip=())
    final, report = speed_check(g, q, p, {"x": samples(1)}, timer=lambda *a: 0.9)
    assert report.regions and all(r.kept_fp32 for r in report.regions)
    assert not any(is_int8(op) for op in final.ops)
    assert "no region gains from int8: the model stays fp32 there" in report.summary()


def test_quantize_runs_the_speed_check_and_reports_it():
    r = irc.quantize(conv_graph(), {"x": samples(8)}, batch_size=8, speed_check=True)
    assert r.speed is not None and r.speed.regions
    assert r.summary().count("speed:") == 1
    assert "speed" in r.to_json()
    assert np.isfinite(r.speed.regions[0].speedup)
