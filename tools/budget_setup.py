"""Building an accuracy budget (irc.passes.budget.AccuracyBudget) from user-level settings.

    ctx.budget = make_budget(graph, "val/", "1%", metric="top1", preprocess="cls.toml")

Shared by irc.quantize() and the `irc quantize` / `irc opt` commands.
"""

from __future__ import annotations

from typing import Any, Literal

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph


def make_budget(graph: Graph, val: Any, max_drop: str | float | None, *, metric: str | None = None,
                preprocess: str | None = None, limit: int | None = None, detection: str | None = None,
                objective: Literal["fewest-ops", "speed"] = "fewest-ops", engine: str = "auto", ranking_samples: int = 64,
                labels_file: str | None = None, output: str | None = None, seed: int = 0):
    """An AccuracyBudget for `graph`: `val` is a data path (or a ready Validation object) and
    `max_drop` a number (absolute) or 'N%' (relative)."""
    from irc.passes.budget import AccuracyBudget, parse_max_drop

    if max_drop is None:
        raise IRError("a validation set needs --max-drop: the accuracy drop allowed (0.01, or 1% of fp32)")
    if val is None:
        raise IRError("--max-drop needs a validation set: give --val PATH (an .npz, an image folder or a VOC root)")
    drop, relative = parse_max_drop(max_drop)
    if isinstance(val, (str, bytes)) or hasattr(val, "__fspath__"):
        from irc.validation import DatasetValidation

        val = DatasetValidation.open(str(val), graph, metric=metric, preprocess=preprocess, detection=detection,
                                     labels_file=labels_file, limit=limit, seed=seed, output=output)
    elif metric is not None:
        raise IRError("give the metric to the Validation object, not as metric=, when val is not a path")
    return AccuracyBudget(val, drop, relative, objective=objective, engine=engine, ranking_samples=ranking_samples,
                          seed=seed)
