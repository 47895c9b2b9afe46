"""Error sites, their groups and their harm, on a small residual block."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irc.ir.compare import graph_difference
from irc.ir.verifier import verify_graph
from irc.passes import PassContext
from irc.passes.clone import clone_graph
from irc.ir.evaluator import get_evaluator
from irc.passes.quantize import Quantize
from irc.passes.budget.sensitivity import (ActivationCache, cumulative_sqnr, harm_interpreter, harm_local, harm_onnxruntime,
                                    variant_graph)
from irc.passes.budget.sites import find_sites, macs, quantized_copy

from .graphs import residual_batches, residual_graph


def _copy(g):
    return quantized_copy(g, lambda c: Quantize().run(c, PassContext()))


def test_clone_is_equal_and_independent():
    g = residual_graph()
    c, ops = clone_graph(g)
    assert graph_difference(g, c) is None
    assert [o.label for o in ops] == [o.label for o in g.ops]
    Quantize().run(c, PassContext())
    verify_graph(c)
    assert not any(r.type.is_quantized for op in g.ops for r in op.results)


def test_sites_and_their_groups():
    q = _copy(residual_graph())
    sites = {(s.kind, s.name): s.group for s in find_sites(q)}
    assert sites == {
        ("activation", "x"): ("a",),
        ("activation", "a"): ("a", "b", "s"),     # produced by a, read by b and by the add
        ("activation", "b"): ("b", "s"),
        ("activation", "s"): ("s", "y"),
        ("activation", "y"): ("y",),              # the int8 output before its dequantize
        ("weights", "a"): ("a",), ("weights", "b"): ("b",), ("weights", "y"): ("y",),
    }


def test_fallback_marked_ops_leave_the_groups():
    g = residual_graph()
    g.find("s").attrs["q.fallback"] = "manual"
    sites = {(s.kind, s.name): s.group for s in find_sites(_copy(g))}
    assert ("activation", "s") not in sites or "s" not in sites[("activation", "s")]
    assert all("s" not in grp for grp in sites.values())


def test_engines_agree_and_rank_the_wide_tensors_first():
    g = residual_graph()
    q = _copy(g)
    sites = find_sites(q)
    batches = residual_batches()
    cache = ActivationCache(g, batches, get_evaluator("interpreter"))
    interp = [harm_interpreter(cache, s) for s in sites]
    ev = get_evaluator("onnxruntime-qdq", level="disabled")
    ref = [[ev.run(g, f, g.outputs)[v] for v in g.outputs] for f in batches]
    ort = [harm_onnxruntime(g, s, batches, ref, lambda: get_evaluator("onnxruntime-qdq", level="disabled"))
           for s in sites]
    assert np.allclose(interp, ort, rtol=1e-3, atol=1e-12)
    local = [harm_local(cache, s) for s in sites]
    assert all(h > 0 for h in interp + local)
    worst = sites[int(np.argmax(interp))]
    assert (worst.kind, worst.name) in {("activation", "b"), ("activation", "s")}


def test_variant_graph_quantizes_only_the_site():
    g = residual_graph()
    site = next(s for s in find_sites(_copy(g)) if s.kind == "activation" and s.name == "s")
    v = variant_graph(g, site)
    verify_graph(v)
    casts = [op.name for op in v.ops if op.name in ("quantize", "dequantize")]
    assert casts == ["quantize", "dequantize"]
    assert v.find("y").operands[0].producer.name == "dequantize"


def test_cumulative_sqnr_is_infinite_where_nothing_is_quantized_yet():
    g = residual_graph()
    g.find("a").attrs["q.fallback"] = "manual"
    q = _copy(g)
    cache = ActivationCache(g, residual_batches(1), get_evaluator("interpreter"))
    sq = cumulative_sqnr(cache, q, get_evaluator("interpreter"), ["a", "b", "s", "y"])
    assert math.isinf(sq["a"]) and sq["a"] > 0
    assert 0 < sq["y"] < 80


@pytest.mark.parametrize("label, expected", [("a", 2 * 16 * 2), ("s", 2 * 16)])
def test_macs_per_sample(label, expected):
    assert macs(residual_graph().find(label)) == expected


def test_activation_cache_keeps_to_its_memory_limit():
    g = residual_graph()
    batches = residual_batches(n=4)
    full = ActivationCache(g, batches, get_evaluator("interpreter"))
    assert len(full.batches) == 4 and full.samples == 32
    small = ActivationCache(g, batches, get_evaluator("interpreter"), max_bytes=full.bytes // 3)
    assert 1 <= len(small.batches) < 4 and small.bytes <= full.bytes // 3
    tiny = ActivationCache(g, batches, get_evaluator("interpreter"), max_bytes=1)
    assert len(tiny.batches) == 1  # always one batch


def test_engine_cost_estimates():
    from irc.passes.budget.sensitivity import estimate_seconds

    g = residual_graph()
    sites = find_sites(_copy(g))
    est = estimate_seconds(g, sites, residual_batches(), get_evaluator("interpreter"),
                           lambda: get_evaluator("onnxruntime-qdq", level="disabled"))
    assert set(est) == {"interpreter", "onnxruntime"} and all(v > 0 for v in est.values())
