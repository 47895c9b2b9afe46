"""Streaming observers: exact min/max, and a histogram whose grid and counts do not depend on
how the data was split into batches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irc.ir.evaluator import finite_minmax
from irc.passes.observers import HistogramObserver, MinMaxObserver


def _splits(x: np.ndarray, rng: np.random.Generator, parts: int) -> list[np.ndarray]:
    cuts = np.sort(rng.choice(np.arange(1, len(x)), size=parts - 1, replace=False))
    return np.split(x, cuts)


def test_minmax_is_exact_and_split_independent():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10_000).astype(np.float32) * 3 + 1
    a, b = MinMaxObserver(), MinMaxObserver()
    a.update(x)
    for part in _splits(x, rng, 17):
        b.update(part)
    assert (a.min, a.max) == (b.min, b.max) == (float(x.min()), float(x.max()))
    assert a.count == b.count == x.size


def test_non_finite_values_are_ignored_and_counted():
    x = np.array([1.0, np.nan, -np.inf, 3.0, np.inf, -2.0], dtype=np.float32)
    assert finite_minmax(x) == (-2.0, 3.0, 3)
    obs = MinMaxObserver()
    obs.update(x)
    obs.update(np.full(4, np.nan, dtype=np.float32))
    assert (obs.min, obs.max, obs.nonfinite) == (-2.0, 3.0, 7)
    h = HistogramObserver(64)
    h.update(x)
    assert h.histogram().total == 3 and h.nonfinite == 3


def _grid_histogram(obs: HistogramObserver, x: np.ndarray) -> np.ndarray:
    """numpy's histogram of x on the observer's own bin edges (the reference)."""
    edges = obs.histogram().edges()
    counts, _ = np.histogram(x.astype(np.float64), bins=edges)
    return counts


@pytest.mark.parametrize("dist", ["normal", "relu", "lognormal", "negative"])
def test_histogram_counts_match_numpy_on_its_grid(dist):
    rng = np.random.default_rng(1)
    x = {"normal": rng.standard_normal(50_000),
         "relu": np.maximum(rng.standard_normal(50_000), 0),
         "lognormal": rng.lognormal(0, 2, 50_000),
         "negative": -rng.exponential(5, 50_000)}[dist].astype(np.float32)
    obs = HistogramObserver(512)
    for part in _splits(x, rng, 9):
        obs.update(part)
    h = obs.histogram()
    assert h.total == x.size
    np.testing.assert_array_equal(h.counts, _grid_histogram(obs, x))
    # the grid: zero on an edge, at most `bins` bins, and at least about half of them spanned
    edges = h.edges()
    assert 0.0 in edges
    assert len(h.counts) <= 512
    lo, hi = min(x.min(), 0), max(x.max(), 0)
    assert (hi - lo) / h.width > 512 / 2 - 2
    if dist == "relu":
        assert h.zeros == int(np.count_nonzero(x == 0))


def test_histogram_is_the_same_however_the_batches_are_cut():
    rng = np.random.default_rng(2)
    # a small first batch forces several coarsenings later
    x = np.concatenate([rng.uniform(-0.01, 0.01, 100), rng.standard_normal(20_000) * 50,
                        rng.standard_normal(5_000) * 1e3]).astype(np.float32)
    results = []
    for parts in (1, 3, 40):
        for order in (False, True):
            pieces = _splits(x, np.random.default_rng(parts), parts) if parts > 1 else [x]
            if order:
                pieces = pieces[::-1]
            obs = HistogramObserver(1024)
            for p in pieces:
                obs.update(p)
            h = obs.histogram()
            results.append((h.exp, h.offset, h.counts.tolist()))
    assert all(r == results[0] for r in results)


def test_zeros_before_any_other_value_land_in_bin_zero():
    obs = HistogramObserver(64)
    obs.update(np.zeros(10, dtype=np.float32))
    h0 = obs.histogram()
    assert (h0.total, h0.zeros) == (10, 10)
    obs.update(np.array([-1.0, 0.01, 2.0], dtype=np.float32))
    h = obs.histogram()
    assert h.total == 13 and h.zeros == 10
    assert h.counts[-h.offset] == 11          # bin [0, w) holds the ten zeros and 0.01
    folded = h.folded()
    assert folded.sum() == 13 and len(folded) == max(-h.offset, len(h.counts) + h.offset)


def test_coarsening_keeps_counts():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(10_000).astype(np.float32)
    obs = HistogramObserver(4096)
    obs.update(x)
    h = obs.histogram()
    c = h.coarsened(100)
    assert len(c.counts) <= 100 and c.total == h.total
    np.testing.assert_array_equal(c.counts, np.histogram(x.astype(np.float64), bins=c.edges())[0])
    assert c.width == h.width * 2 ** (c.exp - h.exp)


def test_tiny_and_huge_magnitudes():
    for scale in (1e-30, 1e30):
        x = (np.random.default_rng(4).standard_normal(1000) * scale).astype(np.float32)
        obs = HistogramObserver(128)
        obs.update(x[:10])
        obs.update(x[10:])
        h = obs.histogram()
        assert h.total == 1000
        np.testing.assert_array_equal(h.counts, _grid_histogram(obs, x))
        assert math.isfinite(h.width)


def test_too_few_bins_is_refused():
    with pytest.raises(ValueError, match="at least 16 bins"):
        HistogramObserver(8)
