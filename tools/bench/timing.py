"""Alternating latency measurement: every variant runs once per round, in a rotating order.

Timing variants one after the other (all rounds of A, then all rounds of B) lets a change in the
machine's load between the two blocks show up as a speedup. Here each round runs every variant
once, the starting variant rotating from round to round, and a variant's speedup is the median
over rounds of t_reference / t_variant with both times taken in the same round, so a slow
moment inflates both sides of a ratio rather than one variant's total.

    times = alternate({"fp32": run_a, "int8": run_b}, max_rounds=100, budget_seconds=8)
    stats = summarize(times, reference="fp32")
    # {"rounds": n, "variants": {"int8": {"median_ms": ..., "speedup": ..., "ms": [...]}, ...}}
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping


def round_order(names: list[str], round_index: int) -> list[str]:
    """The order of round `round_index`: the name list rotated left by the round index."""
    k = round_index % len(names)
    return names[k:] + names[:k]


def alternate(runs: Mapping[str, Callable[[], object]], *, max_rounds: int = 100, min_rounds: int = 5,
              budget_seconds: float = 8.0, warmup: int = 2, clock: Callable[[], float] = time.perf_counter,
              on_round: Callable[[int], None] | None = None) -> dict[str, list[float]]:
    """Seconds per call of every run, one entry per round (index i = round i for all variants).

    Rounds continue until `max_rounds`, or until `budget_seconds` of measuring have passed once
    `min_rounds` are done. `warmup` calls of each run come first and are not recorded.
    """
    names = list(runs)
    if not names:
        return {}
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    start = clock()
    done = 0
    while done < max_rounds and (done < min(min_rounds, max_rounds) or clock() - start < budget_seconds):
        for name in round_order(names, done):
            t0 = clock()
            runs[name]()
            times[name].append(clock() - t0)
        done += 1
        if on_round is not None:
            on_round(done)
    return times


def summarize(times: Mapping[str, list[float]], reference: str) -> dict:
    """Median milliseconds of each variant and its speedup: the median of per-round ratios
    t_reference / t_variant (> 1 means faster than the reference)."""
    if reference not in times:
        raise KeyError(f"no times for the reference {reference!r}")
    ref = times[reference]
    out: dict = {"rounds": len(ref), "variants": {}}
    for name, ts in times.items():
        if len(ts) != len(ref):
            raise ValueError(f"{name} has {len(ts)} rounds, the reference {len(ref)}")
        ratios = [r / t for r, t in zip(ref, ts)]
        out["variants"][name] = {
            "median_ms": statistics.median(ts) * 1e3,
            "speedup": statistics.median(ratios),
            "ms": [t * 1e3 for t in ts],
        }
    return out
