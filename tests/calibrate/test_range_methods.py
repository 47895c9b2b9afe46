"""Range selection on histograms against numpy references on known distributions."""

from __future__ import annotations

import numpy as np
import pytest

from irc.passes.observers import HistogramObserver, MinMaxObserver
from irc.passes.range_methods import (AUTO_CHOICES, choose_range, entropy_range, histogram_error,
                                      kl_threshold_bins, mse_range, percentile_range, quantization_error,
                                      select_range)


def _observe(x: np.ndarray, bins: int = 4096) -> HistogramObserver:
    obs = HistogramObserver(bins)
    for part in np.array_split(x, 7):
        obs.update(part)
    return obs


def _sample(dist: str, n: int = 200_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return {"normal": rng.standard_normal(n),
            "relu": np.maximum(rng.standard_normal(n) + 0.3, 0),
            "laplace": rng.laplace(0.5, 1.0, n),
            "uniform": rng.uniform(-1.0, 3.0, n)}[dist].astype(np.float32)


@pytest.mark.parametrize("dist", ["normal", "relu", "laplace", "uniform"])
@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_matches_numpy_within_a_bin(dist, p):
    x = _sample(dist)
    obs = _observe(x)
    lo, hi = percentile_range(obs.histogram(), p)
    xs = np.sort(x.astype(np.float64))
    w = obs.histogram().width
    for got, q in ((lo, 100 - p), (hi, p)):
        ref = np.percentile(xs, q)
        # in a sparse tail neighbouring samples can lie further apart than a bin
        k = q / 100 * (len(xs) - 1)
        gap = xs[min(int(k) + 2, len(xs) - 1)] - xs[max(int(k) - 1, 0)]
        assert abs(got - ref) <= w + gap, (q, got, ref)


def test_minmax_and_every_range_contains_zero_within_the_observed_extremes():
    x = _sample("uniform") + 5.0                      # all positive: [4, 8]
    obs = _observe(x)
    for method in ("minmax", "percentile", "entropy", "mse", "auto"):
        lo, hi = select_range(obs, method)
        assert lo == 0.0 and 0.0 < hi <= float(x.max()), method
    assert select_range(obs, "minmax") == (0.0, float(x.max()))
    assert select_range(MinMaxObserver(), "minmax") is None
    assert select_range(HistogramObserver(64), "entropy") is None


# -- entropy ------------------------------------------------------------------------------------

def _kl_reference(h: np.ndarray, levels: int) -> int:
    """The same criterion written out plainly: a loop over candidates and over groups (a group
    of Q that would be empty where P is not gets half a count)."""
    h = h.astype(np.float64)
    total = h.sum()
    best, best_i = np.inf, len(h)
    for i in range(levels, len(h) + 1):
        p = h[:i].copy()
        p[-1] += h[i:].sum()
        q = np.zeros(i)
        for g in range(levels):
            a, b = g * i // levels, (g + 1) * i // levels
            nz = p[a:b] > 0
            if nz.any():
                mass = h[a:b].sum() or 0.5
                q[a:b][nz] = mass / nz.sum()
        if h[:i].sum() == 0:
            continue
        pn, qn = p / total, q / q.sum()
        m = pn > 0
        kl = float(np.sum(pn[m] * np.log(pn[m] / qn[m])))
        if kl < best - 1e-12:
            best, best_i = kl, i
    return best_i


@pytest.mark.parametrize("seed", range(4))
def test_kl_threshold_equals_the_plain_reference(seed):
    rng = np.random.default_rng(seed)
    # a noisy heavy-tailed histogram, some empty bins
    h = np.floor(rng.exponential(1.0, 300) * 200 * np.exp(-np.arange(300) / 40)).astype(np.int64)
    h[rng.choice(300, 30, replace=False)] = 0
    assert kl_threshold_bins(h, 32) == _kl_reference(h, 32)


def test_entropy_keeps_smooth_data_and_clips_outliers():
    # uniform data: nothing to clip
    x = _sample("uniform")
    lo, hi = select_range(_observe(x), "entropy")
    assert hi > 0.97 * x.max() and lo < 0.97 * x.min()
    # a Gaussian with a few far outliers: the threshold stays near the bulk
    rng = np.random.default_rng(5)
    y = np.concatenate([rng.standard_normal(200_000), [80.0, -90.0, 120.0]]).astype(np.float32)
    lo, hi = select_range(_observe(y), "entropy")
    assert 3.0 < hi < 10.0 and -10.0 < lo < -3.0


def test_entropy_never_clips_every_value():
    x = -np.abs(np.random.default_rng(6).standard_normal(12)).astype(np.float32) - 0.5
    obs = _observe(x)
    lo, hi = select_range(obs, "entropy")
    assert lo <= x.max() and hi == 0.0


def test_entropy_ignores_the_relu_spike_at_zero():
    x = _sample("relu")
    obs = _observe(x)
    lo, hi = entropy_range(obs.histogram(), obs.min, obs.max, "u8")
    assert lo == 0.0 and hi > 0.6 * x.max()


def _spiky_relu6(seed: int = 0) -> np.ndarray:
    """A ReLU6 output of digit-like images: half exact zeros, four values repeated very often
    (constant background patches), the rest spread over [0, 6]."""
    rng = np.random.default_rng(seed)
    spikes = np.repeat(np.float32([0.359375, 0.41, 0.55, 0.82]), 110_000)
    spread = np.minimum(rng.exponential(1.2, 960_000), 6.0).astype(np.float32)
    return np.concatenate([spikes, spread, np.zeros(1_200_000, np.float32)])


def test_entropy_does_not_clip_into_a_spike():
    obs = _observe(_spiky_relu6())
    h = obs.histogram()
    # the KL optimum alone clips a quarter of the values onto the spike at 0.82
    kl_only = kl_threshold_bins(h.nonzero_counts()[-h.offset:], 256) * h.width
    assert kl_only < 1.0
    assert select_range(obs, "entropy", entropy_keep=0.0) == (0.0, kl_only)
    # the threshold keeps at least 99.9% of the nonzero values
    lo, hi = select_range(obs, "entropy")
    x = _spiky_relu6()
    nz = x[x > 0]
    assert lo == 0.0 and np.mean(nz <= hi) >= 0.999


def test_entropy_keeps_an_outlier_channel():
    # a residual stream: most channels near 0, one channel (2% of the values) about 1000x larger
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(490_000), rng.normal(0, 400, 10_000)]).astype(np.float32)
    obs = _observe(x)
    assert kl_threshold_bins(obs.histogram().folded(obs.histogram().nonzero_counts()), 128) \
        * obs.histogram().width < 200
    lo, hi = select_range(obs, "entropy")
    assert hi > 600 and lo < -600


@pytest.mark.parametrize("dist", ["normal", "relu", "laplace", "uniform"])
def test_auto_takes_the_smallest_histogram_error(dist):
    x = _sample(dist)
    x[:20] *= 40.0                                  # a few outliers
    obs = _observe(x)
    h = obs.histogram()
    (lo, hi), how = choose_range(obs, "auto")
    assert how in AUTO_CHOICES
    ranges = [select_range(obs, m) for m in AUTO_CHOICES]
    err = histogram_error(h, ranges, "u8")
    assert (lo, hi) == ranges[AUTO_CHOICES.index(how)]
    assert err[AUTO_CHOICES.index(how)] == err.min()
    # outliers make minmax the worst choice
    assert how != "minmax"


def test_auto_prefers_minmax_on_a_tie():
    # uniform data on a bin-aligned range: every method keeps [0, 4]
    x = np.repeat(np.arange(1, 4097, dtype=np.float32) / 1024, 3)
    obs = _observe(x)
    assert choose_range(obs, "auto", percentile=100.0) == ((0.0, 4.0), "minmax")


# -- mse ----------------------------------------------------------------------------------------

def _quantize(x: np.ndarray, lo: float, hi: float, activations: str) -> np.ndarray:
    """The spec's fake quantization of x over [lo, hi] (specs/quantization.md sections 1-2)."""
    if activations in ("u8", "i8"):
        qmin = 0 if activations == "u8" else -128
        s = (hi - lo) / 255.0
        z = np.clip(np.rint(qmin - lo / s), qmin, qmin + 255)
        q = np.clip(np.rint(x / s) + z, qmin, qmin + 255)
    else:
        s = max(abs(lo), abs(hi)) / 127.0
        z = 0.0
        q = np.clip(np.rint(x / s), -128, 127)
    return (q - z) * s


@pytest.mark.parametrize("activations", ["u8", "i8", "i8-sym"])
def test_expected_error_matches_quantizing_the_samples(activations):
    x = _sample("laplace", 400_000).astype(np.float64)
    obs = _observe(x.astype(np.float32))
    h = obs.histogram()
    edges = h.edges()
    lows = np.array([-3.0, -6.0, -1.5])
    highs = np.array([4.0, 8.0, 12.0])
    if activations == "i8-sym":
        lows = -highs
    predicted = quantization_error(edges[:-1], edges[1:], h.counts, lows, highs, activations) / x.size
    for lo, hi, pred in zip(lows, highs, predicted):
        actual = np.mean((x - _quantize(x, lo, hi, activations)) ** 2)
        assert pred == pytest.approx(actual, rel=0.03), (lo, hi)


@pytest.mark.parametrize("dist", ["normal", "laplace", "relu"])
@pytest.mark.parametrize("activations", ["u8", "i8", "i8-sym"])
def test_mse_range_is_close_to_the_brute_force_optimum(dist, activations):
    x = _sample(dist, 100_000).astype(np.float64)
    obs = _observe(x.astype(np.float32))
    lo, hi = mse_range(obs.histogram(), obs.min, obs.max, activations)
    chosen = np.mean((x - _quantize(x, min(lo, 0), max(hi, 0), activations)) ** 2)
    mn, mx = min(x.min(), 0), max(x.max(), 0)
    grid = np.linspace(0.05, 1.0, 40)
    if activations == "i8-sym":
        m = max(-mn, mx)
        candidates = [(-t * m, t * m) for t in grid]
    else:
        candidates = [(a * mn, b * mx) for a in grid for b in grid]
    best = min(np.mean((x - _quantize(x, a, b, activations)) ** 2) for a, b in candidates if b > a)
    full = np.mean((x - _quantize(x, mn, mx, activations)) ** 2)
    assert chosen <= best * 1.03
    assert chosen <= full
