"""The accuracy budget: quantize, then return the fewest ops to fp32 that keep a metric in budget.

    run.py          AccuracyBudget, the Validation interface, run_with_budget (the pass manager
                    hands it the first quantize when PassContext.budget is set)
    sites.py        error sites (where quantization error enters), their groups, op costs
    sensitivity.py  the harm of each site, measured without full evaluations
    search.py       the search over the ranked sites
    result.py       BudgetResult, what the report shows

specs/accuracy-budget.md describes the algorithm.
"""

from .result import BudgetResult
from .run import OBJECTIVES, AccuracyBudget, Validation, parse_max_drop, run_with_budget

__all__ = ["OBJECTIVES", "AccuracyBudget", "BudgetResult", "Validation", "parse_max_drop", "run_with_budget"]
