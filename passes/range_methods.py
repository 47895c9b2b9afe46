"""Choosing the range [lo, hi] a tensor is quantized over, from what its observer saw.

    minmax       [min, max] of every finite value seen
    percentile   [q(100 - p), q(p)] of the histogram, linear inside a bin (two-sided: each tail
                 loses (100 - p)% of the values); default p = 99.99
    entropy      the clipping threshold t whose 128-level quantization of the histogram of |x|
                 loses the least information (KL divergence), TensorRT-style; range
                 [max(min, -t), min(max, t)]
    mse          the range whose quantization (u8 asymmetric or i8 symmetric, specs/quantization.md)
                 has the smallest expected squared error, rounding plus clipping, over the histogram
    auto         per tensor, whichever of minmax / percentile / mse gives the smallest expected
                 squared error over the full-resolution histogram (ties: the earlier in that order)

Every range is clipped to the observed [min, max] and then widened to contain 0.
"""

from __future__ import annotations

import numpy as np

from .observers import Histogram, HistogramObserver, MinMaxObserver

METHODS = ("minmax", "percentile", "entropy", "mse", "auto")
AUTO_CHOICES = ("minmax", "percentile", "mse")


def contain_zero(lo: float, hi: float) -> tuple[float, float]:
    return min(float(lo), 0.0), max(float(hi), 0.0)


def select_range(obs: MinMaxObserver, method: str = "minmax", *, percentile: float = 99.99,
                 activations: str = "u8", entropy_keep: float | None = None) -> tuple[float, float] | None:
    """The range to quantize over, or None when the observer saw no finite value."""
    found = choose_range(obs, method, percentile=percentile, activations=activations, entropy_keep=entropy_keep)
    return None if found is None else found[0]


def choose_range(obs: MinMaxObserver, method: str = "minmax", *, percentile: float = 99.99,
                 activations: str = "u8", entropy_keep: float | None = None,
                 ) -> tuple[tuple[float, float], str] | None:
    """(range, the method that chose it): `method` itself, or for auto the one it picked."""
    if method not in METHODS:
        raise ValueError(f"unknown range method {method!r} (known: {', '.join(METHODS)})")
    if method == "minmax" or not isinstance(obs, HistogramObserver):
        if not obs.seen:
            return None
        return contain_zero(obs.min, obs.max), "minmax"
    hist = obs.histogram()
    if hist is None:
        return None
    mn, mx = obs.min, obs.max

    def one(m: str) -> tuple[float, float]:
        if m == "minmax":
            lo, hi = mn, mx
        elif m == "percentile":
            lo, hi = percentile_range(hist, percentile)
        elif m == "entropy":
            keep = ENTROPY_KEEP if entropy_keep is None else entropy_keep
            lo, hi = entropy_range(hist, mn, mx, activations, keep)
        else:
            lo, hi = mse_range(hist, mn, mx, activations)
        return contain_zero(max(lo, mn), min(hi, mx))

    if method != "auto":
        return one(method), method
    ranges = [one(m) for m in AUTO_CHOICES]
    err = histogram_error(hist, ranges, activations)
    # the first of equal errors (the sums may differ in the last bits)
    best = int(np.flatnonzero(err <= err.min() * (1 + 1e-9))[0])
    return ranges[best], AUTO_CHOICES[best]


def histogram_error(hist: Histogram, ranges: list[tuple[float, float]], activations: str) -> np.ndarray:
    """Expected total squared quantization error of the histogram's values for each range."""
    edges, counts = hist.edges(), hist.nonzero_counts()
    keep = counts > 0
    if not keep.any():
        return np.zeros(len(ranges))
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    return quantization_error(edges[:-1][keep], edges[1:][keep], counts[keep], lo, hi, activations)


# -- percentile -------------------------------------------------------------------------------

def histogram_quantile(hist: Histogram, q: float) -> float:
    """The value below which a fraction q of the histogram lies, linear within the bin."""
    counts = hist.counts.astype(np.float64)
    cum = np.cumsum(counts)
    target = q * cum[-1]
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(i, len(counts) - 1)
    before = cum[i] - counts[i]
    frac = 0.0 if counts[i] == 0 else (target - before) / counts[i]
    edges = hist.edges()
    return float(edges[i] + min(max(frac, 0.0), 1.0) * (edges[i + 1] - edges[i]))


def percentile_range(hist: Histogram, p: float) -> tuple[float, float]:
    if not 50.0 < p <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], got {p}")
    tail = (100.0 - p) / 100.0
    return histogram_quantile(hist, tail), histogram_quantile(hist, 1.0 - tail)


# -- entropy (KL divergence) ------------------------------------------------------------------

PSEUDO_COUNT = 0.5


def kl_threshold_bins(h: np.ndarray, levels: int) -> int:
    """How many leading bins of the one-sided histogram `h` to keep (the KL-optimal threshold).

    For a candidate i (levels <= i <= len(h)) the reference distribution P is h[:i] with every
    count beyond bin i-1 added onto bin i-1 (what clipping does to the data). The candidate Q
    quantizes h[:i] alone to `levels` levels: the i bins are split into `levels` groups of
    near-equal size (group g = bins [g*i//L, (g+1)*i//L)), and each group's mass M_g is spread
    evenly over the n_g bins of the group where P is nonzero. Q leaves the clipped mass out, so
    clipping costs divergence. With S the total, C_i = sum(h[:i]) and G_g the mass of P in group g:

        KL(P/S || Q/C_i) = (1/S) * (sum_j p_j log p_j - sum_g G_g log(M_g / n_g)) + log(C_i / S)

    Prefix sums of h, of [h > 0] and of h log h give it for all candidates at once. A candidate
    whose Q would be zero where P is not (a clipped last group that held no data) gives that
    group PSEUDO_COUNT instead (and C_i grows by as much); one that clips every value is not a
    candidate.
    """
    h = h.astype(np.float64)
    n = len(h)
    total = h.sum()
    if n <= levels or total == 0:
        return n
    cum = np.concatenate([[0.0], np.cumsum(h)])
    nonzero = np.concatenate([[0], np.cumsum(h > 0)])
    hlogh = np.where(h > 0, h * np.log(np.where(h > 0, h, 1.0)), 0.0)
    cum_hlogh = np.concatenate([[0.0], np.cumsum(hlogh)])

    cand = np.arange(levels, n + 1)                                   # bins kept, [C]
    g = np.arange(levels + 1)
    edges = (g[None, :] * cand[:, None]) // levels                    # [C, L+1], edges[:, -1] == cand
    q_mass = cum[edges[:, 1:]] - cum[edges[:, :-1]]                   # [C, L] of h[:i] alone
    count = (nonzero[edges[:, 1:]] - nonzero[edges[:, :-1]]).astype(np.float64)
    kept = cum[cand]
    outliers = total - kept
    last = h[cand - 1]
    p_mass = q_mass.copy()
    p_mass[:, -1] += outliers
    count[:, -1] += (last == 0) & (outliers > 0)
    p_last = last + outliers
    plogp = (cum_hlogh[cand - 1]
             + np.where(p_last > 0, p_last * np.log(np.where(p_last > 0, p_last, 1.0)), 0.0))
    # a clipped last group that held no data of its own would give Q no mass where P has the
    # clipped values: it gets half a count, so clipping into empty space costs, but finitely
    starved = (p_mass > 0) & (q_mass == 0)
    q_mass = np.where(starved, PSEUDO_COUNT, q_mass)
    q_total = kept + starved.sum(axis=1) * PSEUDO_COUNT
    ok = q_mass > 0
    per_bin = np.where(ok, q_mass, 1.0) / np.where(count > 0, count, 1.0)
    cross = np.where(ok, p_mass * np.log(per_bin), 0.0).sum(axis=1)
    kl = (plogp - cross) / total + np.log(q_total / total)
    # clipping everything leaves P and Q both all in the last bin, a perfect but empty match
    kl = np.where(kept > 0, kl, np.inf)
    if not np.isfinite(kl).any():
        return n
    return int(cand[int(np.argmin(kl))])


ENTROPY_LEVELS = 128
"""Levels per side of the KL criterion's quantized distribution for data of both signs (or i8),
as TensorRT's; one-signed data quantized to u8 has the whole 256-level grid on its one side."""

ENTROPY_KEEP = 99.9
"""Default share (%) of the nonzero values that an entropy threshold keeps at least."""


def entropy_levels(one_signed: bool, activations: str) -> int:
    return 2 * ENTROPY_LEVELS if one_signed and activations in ("u8", "i8") else ENTROPY_LEVELS


def keep_bins(h: np.ndarray, keep: float) -> int:
    """The fewest leading bins of `h` that hold at least `keep`% of its mass."""
    cum = np.cumsum(h, dtype=np.float64)
    if not len(cum) or cum[-1] == 0:
        return len(h)
    return min(int(np.searchsorted(cum, keep / 100.0 * cum[-1], side="left")) + 1, len(h))


def entropy_range(hist: Histogram, mn: float, mx: float, activations: str = "u8",
                  keep: float = ENTROPY_KEEP) -> tuple[float, float]:
    """KL-optimal clipping: one-sided for data of one sign, else a symmetric threshold on |x|.

    Exact zeros are left out: zero is always represented exactly, so they tell nothing about
    where to clip (left in, a ReLU's spike at 0 drags the threshold far down). The quantized
    distribution has as many levels as the activation type gives the kept side (entropy_levels).
    The criterion sees quantization loss only at bin resolution, so it works on the observer's
    histogram as is (the default 4096 bins put 2048 to 4096 of them over [0, max|x|]).

    The threshold keeps at least `keep`% of the nonzero values. KL weighs a value by its mass
    only, never by how far clipping moves it: activations of repeated inputs (a constant image
    background) are a few tall spikes, and a threshold just past a spike merges every clipped
    value into the spike's level for almost no divergence (a ReLU6 output of [0, 6] clipped to
    [0, 0.36], 78% of its values clipped); a residual stream whose one outlier channel is 1000x
    the others is clipped to the bulk, destroying that channel. Below the `keep` share the KL
    optimum is not trusted.
    """
    counts = hist.nonzero_counts()
    if mn >= 0:
        one_sided = counts[max(0, -hist.offset):]
    else:
        one_sided = hist.folded(counts)
    one_signed = mn >= 0 or mx <= 0
    bins = max(kl_threshold_bins(one_sided, entropy_levels(one_signed, activations)),
               keep_bins(one_sided, keep))
    t = bins * hist.width
    if mn >= 0:
        return 0.0, t
    if mx <= 0:
        return -t, 0.0
    return -t, t


# -- mse --------------------------------------------------------------------------------------

MSE_MAX_BINS = 512
"""The mse search works on the histogram coarsened to at most this many bins (values are taken
as spread evenly within a bin, so the error is still integrated exactly per bin)."""

CANDIDATES = 100
"""Candidate ends per search, at 1/CANDIDATES steps of the observed extreme."""


def _sawtooth_antiderivative(u: np.ndarray) -> np.ndarray:
    """H(u) = integral from -1/2 to u of (t - round(t))^2 dt (each whole cell adds 1/12)."""
    m = np.floor(u + 0.5)
    r = u - m
    return m / 12.0 + (r ** 3 + 0.125) / 3.0


def quantization_error(lower: np.ndarray, upper: np.ndarray, counts: np.ndarray, lo: np.ndarray,
                       hi: np.ndarray, activations: str) -> np.ndarray:
    """Expected total squared error of quantizing a histogram over each candidate [lo, hi].

    Bins [lower[j], upper[j]) hold counts[j] values each, uniform within the bin; lo, hi [C]
    (lo <= 0 <= hi). The grid is s * k for the integers k whose stored value fits the storage
    type (u8 and i8 with a zero point: s = (hi-lo)/255, z = round(-lo/s) counted from the
    storage minimum, representable [-z s, (255-z) s]; i8-sym: s = max(|lo|,|hi|)/127,
    representable [-128 s, 127 s]). Inside it a value costs its
    squared distance to the nearest grid point; outside, its squared distance to the nearer end.
    """
    lo = np.asarray(lo, dtype=np.float64)[:, None]
    hi = np.asarray(hi, dtype=np.float64)[:, None]
    if activations in ("u8", "i8"):
        s = (hi - lo) / 255.0
        s = np.where(s > 0, s, 1.0)
        z = np.clip(np.rint(-lo / s), 0, 255)
        q_lo, q_hi = -z * s, (255.0 - z) * s
    elif activations == "i8-sym":
        s = np.maximum(np.abs(lo), np.abs(hi)) / 127.0
        s = np.where(s > 0, s, 1.0)
        q_lo, q_hi = -128.0 * s, 127.0 * s
    else:
        raise ValueError(f"activations are u8, i8 or i8-sym, not {activations!r}")
    a, b = lower[None, :], upper[None, :]
    # inside the representable range: integral of the squared distance to the grid
    ia, ib = np.clip(a, q_lo, q_hi), np.clip(b, q_lo, q_hi)
    inside = s ** 3 * (_sawtooth_antiderivative(ib / s) - _sawtooth_antiderivative(ia / s))
    # above and below it: integral of (x - end)^2
    above = ((np.maximum(b, q_hi) - q_hi) ** 3 - (np.maximum(a, q_hi) - q_hi) ** 3) / 3.0
    below = ((q_lo - np.minimum(a, q_lo)) ** 3 - (q_lo - np.minimum(b, q_lo)) ** 3) / 3.0
    per_value = (inside + above + below) / (b - a)
    return per_value @ counts.astype(np.float64)


def mse_range(hist: Histogram, mn: float, mx: float, activations: str = "u8") -> tuple[float, float]:
    """Search the range with the smallest expected squared quantization error.

    i8-sym: a symmetric threshold t in (0, max|x|]. u8, i8: both ends shrunk together by a common
    factor, then the lower end refined with the upper fixed, then the upper with the lower
    fixed. Exact zeros cost nothing (0 is on every grid) and are left out; so are empty bins.
    """
    h = hist.coarsened(MSE_MAX_BINS)
    edges, counts = h.edges(), h.nonzero_counts()
    keep = counts > 0
    lower, upper, counts = edges[:-1][keep], edges[1:][keep], counts[keep]
    lo0, hi0 = min(mn, 0.0), max(mx, 0.0)
    if not len(counts):
        return lo0, hi0
    frac = np.arange(1, CANDIDATES + 1) / CANDIDATES

    def best(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
        err = quantization_error(lower, upper, counts, lo, hi, activations)
        i = int(np.argmin(err))
        return float(lo[i]), float(hi[i])

    if activations == "i8-sym":
        t = np.arange(1, 2 * CANDIDATES + 1) / (2 * CANDIDATES) * max(-lo0, hi0)
        return best(-t, t)
    lo, hi = best(frac * lo0, frac * hi0)
    if lo0 < 0:
        lo, _ = best(frac * lo0, np.full(CANDIDATES, hi))
    if hi0 > 0:
        _, hi = best(np.full(CANDIDATES, lo), frac * hi0)
    return lo, hi
