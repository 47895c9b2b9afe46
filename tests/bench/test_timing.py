"""Alternating rounds and per-round ratios (irc.bench.timing), with a fake clock."""

from __future__ import annotations

import statistics

import pytest

from irc.bench.timing import alternate, round_order, summarize


class FakeClock:
    """Time advances only when a run says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _runs(clock, durations, log):
    def make(name):
        def run():
            k = sum(1 for n in log if n == name)
            log.append(name)
            clock.now += durations[name][k % len(durations[name])]
        return run
    return {name: make(name) for name in durations}


def test_rounds_rotate_and_warmup_is_not_recorded():
    clock, log = FakeClock(), []
    runs = _runs(clock, {"a": [1.0], "b": [2.0], "c": [3.0]}, log)
    times = alternate(runs, max_rounds=4, min_rounds=4, budget_seconds=1e9, warmup=1, clock=clock)
    assert log[:3] == ["a", "b", "c"]  # warm-up
    assert log[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert times == {"a": [1.0] * 4, "b": [2.0] * 4, "c": [3.0] * 4}
    assert round_order(["a", "b", "c"], 5) == ["c", "a", "b"]


def test_budget_stops_after_min_rounds_and_max_rounds_caps():
    clock, log = FakeClock(), []
    times = alternate(_runs(clock, {"a": [1.0], "b": [1.0]}, log), max_rounds=100, min_rounds=3,
                      budget_seconds=0.5, warmup=0, clock=clock)
    assert len(times["a"]) == 3  # the budget ran out in round 1; the minimum still holds
    clock2, log2 = FakeClock(), []
    times = alternate(_runs(clock2, {"a": [1.0], "b": [1.0]}, log2), max_rounds=7, min_rounds=3,
                      budget_seconds=1e9, warmup=0, clock=clock2)
    assert len(times["b"]) == 7
    clock3 = FakeClock()
    times = alternate(_runs(clock3, {"a": [1.0], "b": [1.0]}, []), max_rounds=100, min_rounds=2,
                      budget_seconds=9.5, warmup=0, clock=clock3)
    assert len(times["a"]) == 5  # 2 s per round: rounds start at 0, 2, 4, 6, 8


def test_speedup_is_the_median_of_per_round_ratios():
    # a slow moment (round 2) hits both variants of that round; the ratio stays 2
    times = {"fp32": [0.010, 0.010, 0.100, 0.010, 0.010],
             "int8": [0.005, 0.005, 0.050, 0.005, 0.006]}
    s = summarize(times, "fp32")
    assert s["rounds"] == 5
    assert s["variants"]["fp32"]["speedup"] == 1.0
    assert s["variants"]["int8"]["speedup"] == pytest.approx(2.0)
    assert s["variants"]["int8"]["median_ms"] == pytest.approx(5.0)
    # not the ratio of the medians, nor of the means
    times = {"fp32": [1.0, 2.0, 3.0], "int8": [1.0, 0.5, 6.0]}
    s = summarize(times, "fp32")
    assert s["variants"]["int8"]["speedup"] == pytest.approx(statistics.median([1.0, 4.0, 0.5]))
    assert s["variants"]["int8"]["speedup"] != pytest.approx(2.0 / 1.0)
    assert s["variants"]["int8"]["ms"] == [1000.0, 500.0, 6000.0]


def test_summarize_rejects_uneven_rounds():
    with pytest.raises(ValueError, match="rounds"):
        summarize({"fp32": [1.0, 2.0], "x": [1.0]}, "fp32")
