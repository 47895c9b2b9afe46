"""What the accuracy-budget search found, as data for the summary, the JSON and the HTML report.

`build_result` gathers the search's numbers, the sites, the onnxruntime kernels and the
cumulative SQNR of every candidate op into a BudgetResult (specs/accuracy-budget.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OpReport:
    """One quantizable op in the report."""

    name: str
    kind: str
    macs: int
    fp32: bool                      # in fp32 in the final model
    reason: str                     # why (or why not)
    harm: float                     # largest harm among the sites it belongs to
    rank: int | None                # 1-based place of its first site in the search order
    metric_without: float | None    # fp32 ops only: metric of the evaluated model just before it went fp32
    metric_with: float | None       # fp32 ops only: metric of the first evaluated model with it in fp32
    kernel_int8: str | None = None  # onnxruntime kernel in the full int8 model
    kernel_final: str | None = None  # onnxruntime kernel in the final model
    sqnr_int8: float | None = None  # cumulative SQNR (dB) of its result, full int8
    sqnr_final: float | None = None  # the same in the final model


@dataclass
class BudgetResult:
    """The outcome of one budget run; the JSON report is this, field by field."""

    metric_name: str
    higher_is_better: bool
    fp32_metric: float
    int8_metric: float
    final_metric: float
    allowed_drop: float
    budget: str
    met: bool
    fp32_ops: list[str]
    ops: list[OpReport]
    sites: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    evaluations: int
    seconds: dict[str, float]
    engine: str
    objective: str
    ranking_samples: int
    validation: str
    int8_ops: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def drop(self) -> float:
        """How much the final model loses against fp32 (positive = worse)."""
        return drop_of(self.fp32_metric, self.final_metric, self.higher_is_better)

    @property
    def int8_drop(self) -> float:
        """How much the fully quantized model loses against fp32."""
        return drop_of(self.fp32_metric, self.int8_metric, self.higher_is_better)


def drop_of(fp32: float, metric: float, higher_is_better: bool) -> float:
    """How much `metric` is worse than `fp32` (negative when better)."""
    return fp32 - metric if higher_is_better else metric - fp32


def build_result(budget, fp32, int8, final_metric, allowed, met, chosen, infos, sites, sr, k_int8, k_final,
                 sqnr_int8, sqnr_final, evaluations, seconds, notes, n_cand, engine) -> BudgetResult:
    """The BudgetResult of one run (see run_with_budget for the arguments)."""
    v = budget.validation
    order = sr.order if sr is not None else []
    rank_of: dict[str, int] = {}
    harm_of: dict[str, float] = {}
    for i, s in enumerate(order, 1):
        for o in s.group:
            rank_of.setdefault(o, i)
    for s in sites:
        for o in s.group:
            harm_of[o] = max(harm_of.get(o, 0.0), s.harm)
    evaluated: dict[int, float] = {}
    if sr is not None:
        evaluated = {t.level: t.metric for t in sr.trials if t.level is not None}
        evaluated[0] = int8
    ops = []
    for name, info in sorted(infos.items(), key=lambda kv: kv[1].index):
        fp32_now = name in chosen
        without = with_ = None
        if sr is not None and fp32_now and name in sr.first_level:
            lv = sr.first_level[name]
            below = [k for k in evaluated if k < lv]
            above = [k for k in evaluated if k >= lv]
            without = evaluated[max(below)] if below else None
            with_ = evaluated[min(above)] if above else None
        if fp32_now:
            why = [s.label for s in order if name in s.group and set(s.group) <= chosen]
            reason = "removes the error of " + "; ".join(why[:3]) if why else "chosen by the search"
        else:
            reason = "int8"
        ops.append(OpReport(name, info.kind, info.macs, fp32_now, reason, harm_of.get(name, 0.0),
                            rank_of.get(name), without, with_, k_int8.get(name), k_final.get(name),
                            sqnr_int8.get(name), sqnr_final.get(name)))
    site_rows = []
    pos = {id(s): i for i, s in enumerate(order, 1)}
    for s in sorted(sites, key=lambda s: -s.harm):
        site_rows.append({"site": s.label, "kind": s.kind, "harm": s.harm, "sqnr_db": s.sqnr_db,
                          "ops": list(s.group), "order": pos.get(id(s)),
                          "removed": bool(s.group) and set(s.group) <= chosen})
    trials = [{"phase": "fp32", "fp32_ops": n_cand, "metric": fp32, "met": True},
              {"phase": "int8", "fp32_ops": 0, "metric": int8, "met": drop_of(fp32, int8, v.higher_is_better)
               <= allowed + 1e-12}]
    if sr is not None:
        trials += [{"phase": t.phase, "fp32_ops": len(t.ops), "metric": t.metric, "met": t.met,
                    "seconds": round(t.seconds, 3), "ops": sorted(t.ops)} for t in sr.trials]
    if not met:
        notes.append(f"the budget (drop <= {allowed:.6g}) was not met; the model written is the best found")
    return BudgetResult(v.metric_name, v.higher_is_better, fp32, int8, final_metric, allowed, budget.describe(),
                        met, sorted(chosen, key=lambda n: infos[n].index if n in infos else 0), ops, site_rows,
                        trials, evaluations, {k: round(t, 3) for k, t in seconds.items()}, engine,
                        budget.objective, budget.ranking_samples, v.description, n_cand - len(chosen), notes)
