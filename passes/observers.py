"""Streaming observers: what the calibrate pass learns about a tensor, in bounded memory.

An observer sees the values of one tensor batch after batch (`update(array)`) and keeps only a
summary, never the values themselves:

    MinMaxObserver      the smallest and largest finite value
    HistogramObserver   the same, plus a histogram with at most `bins` bins

Non-finite values (NaN, +-inf, e.g. log(0) inside a model) are counted and otherwise ignored.

The histogram's bin grid is anchored at zero with a power-of-two bin width w:

    bin k holds the values in [k*w, (k+1)*w)        (k may be negative)

w is the smallest power of two for which the bins from the one holding min(lo, 0) to the one
holding max(hi, 0) number at most `bins`; so at least about bins/2 of them span the observed
range. When new data falls outside, w doubles (several times if needed) and each pair of bins
2j, 2j+1 merges into bin j at the new width: nothing is re-read and no count is approximated.
Because w depends only on the overall smallest and largest value, and x/w is exact in floating
point for a power of two, the final histogram is the same however the samples were split into
batches, and in whatever order they came. (The grid is chosen by the data's extremes, so a
single outlier coarsens it for everyone: at `bins=4096` an outlier 100x the typical magnitude
still leaves about 20 bins across the typical range. The entropy and mse methods work at that
resolution.)

Zero sits on a bin edge, so folding the histogram onto |x| (bin -k-1 onto bin k) is exact too.
"""

from __future__ import annotations

import math

import numpy as np

from irc.ir.evaluator import finite_minmax

CHUNK = 1 << 20
"""Elements binned at a time: bounds the temporary arrays of a huge tensor to a few MB."""


class MinMaxObserver:
    """The running minimum and maximum of the finite values seen."""

    def __init__(self) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self.nonfinite = 0

    @property
    def seen(self) -> bool:
        return self.min <= self.max

    def update(self, a: np.ndarray) -> None:
        a = np.asarray(a)
        mn, mx, bad = finite_minmax(a)
        self.update_minmax(mn, mx, a.size - bad, bad)

    def update_minmax(self, mn: float, mx: float, count: int = 0, nonfinite: int = 0) -> None:
        """Merge a batch's own finite min and max (as computed by a backend; +inf, -inf when the
        batch had no finite value)."""
        self.min = min(self.min, float(mn))
        self.max = max(self.max, float(mx))
        self.count += count
        self.nonfinite += nonfinite


class Histogram:
    """A histogram on the zero-anchored power-of-two grid: counts[i] is bin `offset + i`, width 2**exp.

    `zeros` of the values in bin 0 were exactly 0 (a ReLU's output is often half zeros; zero is
    always exactly representable, so range methods may leave those out).
    """

    def __init__(self, counts: np.ndarray, offset: int, exp: int, zeros: int = 0) -> None:
        self.counts = counts
        self.offset = offset
        self.exp = exp
        self.zeros = zeros

    @property
    def width(self) -> float:
        return math.ldexp(1.0, self.exp)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def edges(self) -> np.ndarray:
        """The len(counts) + 1 bin edges, as float64."""
        k = np.arange(self.offset, self.offset + len(self.counts) + 1, dtype=np.float64)
        return k * self.width

    def nonzero_counts(self) -> np.ndarray:
        """The counts without the exact zeros."""
        counts = self.counts.copy()
        counts[-self.offset] -= self.zeros
        return counts

    def folded(self, counts: np.ndarray | None = None) -> np.ndarray:
        """Counts of |x| (of `counts`, default self.counts): element j covers [j*w, (j+1)*w),
        negative bin -j-1 added onto bin j."""
        counts = self.counts if counts is None else counts
        neg = counts[:max(0, -self.offset)][::-1]             # bins -1, -2, ... as j = 0, 1, ...
        pos = counts[max(0, -self.offset):]                   # bins 0, 1, ...
        n = max(len(neg), len(pos))
        out = np.zeros(n, dtype=np.int64)
        out[:len(neg)] += neg
        out[:len(pos)] += pos
        return out

    def coarsened(self, max_bins: int) -> "Histogram":
        """The same data with the width doubled until at most `max_bins` bins remain."""
        h = self
        while len(h.counts) > max_bins:
            h = _merge(h, h.exp + 1)
        return h


def _bin_index(x: float, exp: int) -> int:
    """The global index of the bin holding `x` at width 2**exp (floor(x / w), exact)."""
    return math.floor(math.ldexp(x, -exp))


def _span(lo: float, hi: float, exp: int) -> int:
    return _bin_index(hi, exp) - _bin_index(lo, exp) + 1


def _merge(h: Histogram, exp: int) -> Histogram:
    """Re-bin `h` at the coarser width 2**exp: bin k at the old width goes to floor(k / 2^d)."""
    shift = exp - h.exp
    k = np.arange(h.offset, h.offset + len(h.counts), dtype=np.int64) >> shift
    new_offset = int(k[0])
    counts = np.bincount(k - new_offset, weights=h.counts, minlength=int(k[-1]) - new_offset + 1)
    return Histogram(np.rint(counts).astype(np.int64), new_offset, exp, h.zeros)


class HistogramObserver(MinMaxObserver):
    """Min/max plus a histogram of at most `bins` bins (see the module docstring for the grid)."""

    def __init__(self, bins: int = 4096) -> None:
        super().__init__()
        if bins < 16:
            raise ValueError(f"a histogram needs at least 16 bins, got {bins}")
        self.bins = bins
        self.hist: Histogram | None = None
        self.zeros = 0
        """Values seen while everything so far was exactly 0 (no grid can be chosen yet)."""
        self.exact_zeros = 0

    def _fit_exp(self, lo: float, hi: float, start: int | None) -> int:
        """The smallest exponent >= start whose grid holds [lo, hi] in at most `bins` bins."""
        # below this exponent the range alone needs more than `bins` bins
        e = math.frexp((hi - lo) / self.bins)[1] - 2
        if start is not None:
            e = max(e, start)
        while _span(lo, hi, e) > self.bins:
            e += 1
        return e

    def update(self, a: np.ndarray) -> None:
        a = np.asarray(a)
        mn, mx, bad = finite_minmax(a)
        self.update_minmax(mn, mx, a.size - bad, bad)
        if mn > mx:             # nothing finite in this batch
            return
        lo, hi = min(self.min, 0.0), max(self.max, 0.0)
        if lo == hi:            # all zeros so far
            self.zeros += a.size - bad
            self.exact_zeros += a.size - bad
            return
        if self.hist is None:
            e = self._fit_exp(lo, hi, None)
            first = _bin_index(lo, e)
            counts = np.zeros(_bin_index(hi, e) - first + 1, dtype=np.int64)
            self.hist = Histogram(counts, first, e)
        else:
            self._grow(self.hist, lo, hi)
        h = self.hist
        if self.zeros:
            h.counts[-h.offset] += self.zeros  # bin 0 = [0, w)
            self.zeros = 0
        values = a.reshape(-1)
        if bad:
            values = values[np.isfinite(values)]
        self._add(h, values)

    def _grow(self, h: Histogram, lo: float, hi: float) -> None:
        """Widen (and if needed coarsen) the stored window h so that it covers [lo, hi]."""
        e = self._fit_exp(lo, hi, h.exp)
        if e != h.exp:
            h = _merge(h, e)
        first, last = _bin_index(lo, e), _bin_index(hi, e)
        if first < h.offset or last >= h.offset + len(h.counts):
            counts = np.zeros(last - first + 1, dtype=np.int64)
            counts[h.offset - first:h.offset - first + len(h.counts)] = h.counts
            h = Histogram(counts, first, e)
        self.hist = h

    def _add(self, h: Histogram, values: np.ndarray) -> None:
        """Count `values` into h (the stored histogram, which covers them)."""
        n = len(h.counts)
        # x * 2**-exp is exact (a power-of-two scaling), so floor() gives the true bin
        dtype = np.float32 if values.dtype == np.float32 and -120 < h.exp < 120 else np.float64
        scale, offset = dtype(math.ldexp(1.0, -h.exp)), dtype(h.offset)
        buf = np.empty(min(CHUNK, values.size), dtype=dtype)
        idx = np.empty(len(buf), dtype=np.intp)
        for start in range(0, values.size, CHUNK):
            chunk = values[start:start + CHUNK]
            b, i = buf[:len(chunk)], idx[:len(chunk)]
            np.multiply(chunk, scale, out=b, casting="unsafe")
            np.floor(b, out=b)
            np.subtract(b, offset, out=b)
            i[...] = b
            self.exact_zeros += int(np.count_nonzero(chunk == 0))
            # the top edge hi can land exactly on a bin boundary only if it is that bin's start,
            # so every index is already in [0, n)
            h.counts += np.bincount(i, minlength=n)

    def histogram(self) -> Histogram | None:
        """The histogram of all finite values seen (None before any was seen)."""
        if self.hist is None:
            if not self.zeros:
                return None
            # only zeros: a one-bin histogram [0, 1)
            return Histogram(np.array([self.zeros], dtype=np.int64), 0, 0, self.exact_zeros)
        self.hist.zeros = self.exact_zeros
        return self.hist
