"""The fallback search on synthetic sites: a metric that is a known function of the fp32 set."""

from __future__ import annotations

import math

from irc.passes.budget.search import greedy_order, prefix_levels, search
from irc.passes.budget.sites import Site


def _sites():
    # two sites whose error only goes away together with a shared op (t1 needs a, b; t2 needs b, c)
    return [Site("activation", "t1", ("a", "b"), harm=0.5), Site("activation", "t2", ("b", "c"), harm=0.3),
            Site("weights", "d", ("d",), harm=0.05), Site("weights", "e", ("e",), harm=0.01),
            Site("weights", "f", ("f",), harm=0.001), Site("activation", "g", ("g", "h"), harm=0.0)]


def _metric(sites):
    """1 - sum of the harm of the sites whose ops are not all fp32."""
    def evaluate(ops):
        return 1.0 - sum(s.harm for s in sites if not set(s.group) <= ops)
    return evaluate


ALL = frozenset("abcdefgh")


def test_greedy_order_prefers_harm_per_new_op_and_skips_harmless_sites():
    order = greedy_order(_sites(), lambda o: 1.0)
    assert [s.name for s in order] == ["t1", "t2", "d", "e", "f"]
    levels, creators, counts = prefix_levels(order)
    assert levels[1] == {"a", "b"} and levels[2] == {"a", "b", "c"}
    assert creators == [-1, 0, 1, 2, 3, 4] and counts[-1] == 5


def test_free_sites_come_first():
    sites = [Site("activation", "big", ("a", "b"), harm=1.0), Site("weights", "w", ("a",), harm=0.01),
             Site("weights", "x", ("x",), harm=0.2)]
    order = greedy_order(sites, lambda o: 1.0)
    # after `big`, the weights of `a` cost nothing more and come before x
    assert [s.name for s in order] == ["big", "w", "x"]
    levels, _, counts = prefix_levels(order)
    assert len(levels) == 3 and counts[1] == 2


def test_finds_the_smallest_set_with_few_evaluations():
    sites = _sites()
    full = _metric(sites)(frozenset())
    calls = []

    def evaluate(ops):
        calls.append(ops)
        return _metric(sites)(ops)

    r = search(sites, ALL, lambda o: 1.0, evaluate, lambda m: 1.0 - m <= 0.07, full)
    assert r.met and r.ops == {"a", "b", "c"}
    assert math.isclose(r.metric, 1 - 0.061)
    assert r.evaluations == len(calls) <= 4
    assert len(set(calls)) == len(calls)  # never the same set twice


def test_refinement_returns_ops_the_prefix_did_not_need():
    # ordered first by harm per op, `cheap` is taken before `big`, but `big` alone meets the budget
    sites = [Site("weights", "cheap", ("x",), harm=0.3), Site("activation", "big", ("a", "b", "c"), harm=0.6)]
    r = search(sites, frozenset("abcxy"), lambda o: 1.0, _metric(sites), lambda m: 1.0 - m <= 0.35, 0.1)
    assert r.met and r.ops == {"a", "b", "c"}
    assert [t.phase for t in r.trials][-1] == "refine"


def test_an_all_fp32_answer_is_not_a_met_budget():
    sites = [Site("weights", "p", ("p",), harm=0.2), Site("weights", "q", ("q",), harm=0.1)]
    r = search(sites, frozenset("pq"), lambda o: 1.0, _metric(sites), lambda m: m >= 1.0, 0.7)
    assert not r.met
    # the best model that still has an int8 op: p in fp32 (metric 0.9)
    assert r.ops == {"p"} and math.isclose(r.metric, 0.9)
    assert all(t.ops != {"p", "q"} for t in r.trials)


def test_lower_is_better_metrics_pick_the_lowest():
    sites = [Site("weights", "p", ("p",), harm=0.2), Site("weights", "q", ("q",), harm=0.1)]

    def loss(ops):
        return sum(s.harm for s in sites if not set(s.group) <= ops)

    r = search(sites, frozenset("pq"), lambda o: 1.0, loss, lambda m: m <= 0.0, 0.3, higher_is_better=False)
    assert not r.met and r.ops == {"p"} and math.isclose(r.metric, 0.1)


def test_speed_cost_takes_cheap_ops_first():
    sites = [Site("weights", "conv", ("conv",), harm=0.5), Site("weights", "add", ("add",), harm=0.4)]
    cost = {"conv": 0.9, "add": 0.01}
    order = greedy_order(sites, lambda o: cost[o])
    assert [s.name for s in order] == ["add", "conv"]


def test_unnamed_and_repeated_op_names_get_unique_ones():
    from irc.ir import parse_text
    from irc.passes.budget.run import _name_ops

    g = parse_text("""func @main(%x: tensor<2xf32>) -> (tensor<2xf32>) {
  %a = relu(%x) : tensor<2xf32>
  %b = relu(%a) : tensor<2xf32>
  %y = relu(%b) : tensor<2xf32>
  return %y
}
""")
    g.ops[1].results[0].name = "a"   # a repeated name hint
    g.ops[0].results[0].name = None  # and an unnamed result
    _name_ops(g)
    labels = [op.label for op in g.ops]
    assert len(set(labels)) == 3 and labels[2] == "y" and labels[1] == "a"
