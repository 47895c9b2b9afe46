"""The fallback search: the fewest ops to return to fp32 so that the metric meets the budget.

Input: the sites (passes/budget/sites.py) with their harm (passes/budget/sensitivity.py) and group, a cost per op, and
`evaluate(ops) -> metric`, one full evaluation of the graph with `ops` in fp32. The full int8
graph (no op in fp32) has been evaluated and misses the budget.

1. Order. Sites are taken greedily by harm per unit of cost of the ops they add: a site whose
   ops are already in fp32 comes for free, one that needs two new ops must remove twice the
   harm of a one-op site to come first. Cost is 1 per op (objective `fewest-ops`) or the op's
   share of the multiply-accumulates that run in int8 kernels (objective `speed`: an op that
   onnxruntime does not run as an int8 kernel costs nothing to return, a big conv costs most).
   The prefixes of this order give nested fp32 sets P_0 = {} < P_1 < ... < P_L (one per site
   that adds ops); P_L holds every op any site needs.
2. Search over the prefixes for the smallest k whose P_k meets the budget, assuming that more
   fp32 ops never make the metric worse: galloping (P_1, P_2, P_4, ... until one meets it),
   then bisection between the last failing and the first passing probe — about 2 log2 k
   evaluations, few when few ops are enough, never more than ~2 log2 L. P_0 is known to fail.
   An all-fp32 P_L is not evaluated (it is the fp32 graph) and does not count as meeting the
   budget: a model without int8 ops is not a quantized model.
3. Refinement: the sites of P_k other than the last one are ranked from least to most harm per
   cost; a second bisection finds the most of them that can be dropped (their ops return to
   int8 unless another kept site needs them) with the budget still met. At most
   ceil(log2 k) + 1 evaluations.

Every evaluated set is remembered (an identical set is never evaluated twice). When no
evaluated set meets the budget, the best one found is returned (highest metric, then fewest
fp32 ops).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .sites import Site


@dataclass
class Trial:
    """One full evaluation during the search."""

    phase: str                 # "prefix" or "refine"
    ops: frozenset[str]
    metric: float
    met: bool
    seconds: float
    level: int | None = None   # prefix index (phase "prefix")


@dataclass
class SearchResult:
    ops: frozenset[str]            # the ops to keep in fp32
    metric: float                  # its measured metric
    met: bool
    order: list[Site]              # sites in the order the search took them
    levels: list[frozenset[str]]   # P_0 .. P_L
    trials: list[Trial] = field(default_factory=list)
    first_level: dict[str, int] = field(default_factory=dict)   # op -> index of the first P_k holding it

    @property
    def evaluations(self) -> int:
        return len(self.trials)


def greedy_order(sites: Sequence[Site], cost: Callable[[str], float]) -> list[Site]:
    """Sites with harm > 0, by harm per cost of the ops each adds to those before it."""
    left = [s for s in sites if s.harm > 0]
    covered: set[str] = set()
    order: list[Site] = []
    while left:
        def key(s: Site) -> tuple[float, float]:
            new = [o for o in s.group if o not in covered]
            c = sum(cost(o) for o in new)
            ratio = float("inf") if not new or c <= 0 else s.harm / c
            return (ratio, s.harm)

        best = max(left, key=key)
        left.remove(best)
        order.append(best)
        covered.update(best.group)
    return order


def prefix_levels(order: Sequence[Site]) -> tuple[list[frozenset[str]], list[int], list[int]]:
    """The distinct nested fp32 sets of the order's prefixes; for each level the index (in the
    order) of the site that made it and the number of sites it covers (sites after that one
    whose ops it already holds come with it)."""
    levels: list[frozenset[str]] = [frozenset()]
    creators = [-1]
    counts = [0]
    cur: set[str] = set()
    for i, s in enumerate(order):
        if set(s.group) <= cur:
            counts[-1] = i + 1
            continue
        cur.update(s.group)
        levels.append(frozenset(cur))
        creators.append(i)
        counts.append(i + 1)
    return levels, creators, counts


def union(sites: Sequence[Site]) -> frozenset[str]:
    out: set[str] = set()
    for s in sites:
        out.update(s.group)
    return frozenset(out)


def search(sites: Sequence[Site], all_ops: frozenset[str], cost: Callable[[str], float],
           evaluate: Callable[[frozenset[str]], float], meets: Callable[[float], bool],
           int8_metric: float, higher_is_better: bool = True,
           on_trial: Callable[[Trial], None] | None = None) -> SearchResult:
    """Galloping and bisection over the greedy prefixes, then refinement (module docstring)."""
    order = greedy_order(sites, cost)
    levels, creators, counts = prefix_levels(order)
    result = SearchResult(frozenset(), int8_metric, False, order, levels)
    for k, lv in enumerate(levels):
        for o in lv:
            result.first_level.setdefault(o, k)
    known: dict[frozenset[str], float] = {frozenset(): int8_metric}

    def trial(ops: frozenset[str], phase: str, level: int | None = None) -> bool:
        if ops not in known:
            t0 = time.perf_counter()
            known[ops] = evaluate(ops)
            t = Trial(phase, ops, known[ops], meets(known[ops]), time.perf_counter() - t0, level)
            result.trials.append(t)
            if on_trial:
                on_trial(t)
        return meets(known[ops])

    def usable(ops: frozenset[str]) -> bool:
        return ops != all_ops  # some op must stay int8

    top = len(levels) - 1
    if top == 0:
        return _best(result, known, all_ops, higher_is_better)
    # galloping: P_1, P_2, P_4, ... until one meets the budget (few ops are usually enough, so
    # this costs ~log2 k evaluations, not log2 L), then bisection between the last two probes
    lo, hi, step = 0, None, 1
    while hi is None:
        k = min(step, top)
        if k == top and not usable(levels[k]):
            hi = k  # all-fp32: meets any budget but is not a quantized model; not evaluated
        elif trial(levels[k], "prefix", k):
            hi = k
        elif k == top:
            return _best(result, known, all_ops, higher_is_better)
        else:
            lo = k
            step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if trial(levels[mid], "prefix", mid):
            hi = mid
        else:
            lo = mid
    if not usable(levels[hi]):
        return _best(result, known, all_ops, higher_is_better)

    # refinement: drop the least valuable sites of the prefix while the budget holds
    last = order[creators[hi]]
    rest = sorted((s for s in order[:counts[hi]] if s is not last), key=lambda s: _value(s, cost))

    def kept_without(m: int) -> frozenset[str]:
        return union(rest[m:] + [last])

    sets: list[frozenset[str]] = []
    for m in range(len(rest) + 1):
        ops = kept_without(m)
        if not sets or ops != sets[-1]:
            sets.append(ops)
    # sets[0] is levels[hi] (meets); find the last index that still meets
    lo2, hi2 = 0, len(sets)
    while hi2 - lo2 > 1:
        mid = (lo2 + hi2) // 2
        if trial(sets[mid], "refine"):
            lo2 = mid
        else:
            hi2 = mid
    result.ops = sets[lo2]
    result.metric = known[sets[lo2]]
    result.met = True
    return result


def _value(s: Site, cost: Callable[[str], float]) -> float:
    c = sum(cost(o) for o in s.group)
    return s.harm / c if c > 0 else float("inf")


def _best(result: SearchResult, known: dict[frozenset[str], float], all_ops: frozenset[str],
          higher_is_better: bool) -> SearchResult:
    """The budget cannot be met with some op in int8: return the best set evaluated."""
    sign = 1.0 if higher_is_better else -1.0
    usable = [(sign * m, -len(ops), ops) for ops, m in known.items() if ops != all_ops]
    _, _, ops = max(usable, key=lambda t: (t[0], t[1]))
    result.ops = ops
    result.metric = known[ops]
    result.met = False
    return result
