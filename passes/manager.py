"""The pass manager: runs a pipeline, verifies the IR after every pass, calls instruments.

Instruments observe the run without passes knowing about them (before_pass, after_pass,
pass_failed); printing the IR after each pass and timing passes are instruments.

With an accuracy budget in the PassContext (`ctx.budget`), the first `quantize` pass runs through
the budget search (passes/budget/run.py): the manager hands it the graph as it is before quantize
and the passes that follow, and the search returns ops to fp32 until the metric is in budget.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import IO, Sequence

from irc.ir.graph import Graph
from irc.ir.printer import print_graph
from irc.ir.registry import VerifyError
from irc.ir.verifier import verify_graph

from .base import Pass, PassContext, PassError
from .pipeline import Pipeline, parse_pipeline


class Instrument:
    def before_pass(self, p: Pass, graph: Graph) -> None: ...
    def after_pass(self, p: Pass, graph: Graph, changed: bool) -> None: ...
    def pass_failed(self, p: Pass, graph: Graph, error: BaseException) -> None: ...
    def finish(self) -> None: ...


class PrintIRAfterAll(Instrument):
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def after_pass(self, p: Pass, graph: Graph, changed: bool) -> None:
        self.stream.write(f"// ----- IR after {p.name}{'' if changed else ' (unchanged)'} -----\n")
        self.stream.write(print_graph(graph))


@dataclass
class TimePasses(Instrument):
    """Seconds each pass took, in order (`times`); when the run ends, the table goes to `stream`
    (default stderr), unless `silent` (for a driver that reports the times itself)."""

    stream: IO[str] | None = None
    times: list[tuple[str, float]] = field(default_factory=list)
    silent: bool = False
    _start: float = 0.0

    def before_pass(self, p: Pass, graph: Graph) -> None:
        self._start = time.perf_counter()

    def after_pass(self, p: Pass, graph: Graph, changed: bool) -> None:
        self.times.append((p.name, time.perf_counter() - self._start))

    def report(self) -> str:
        total = sum(t for _, t in self.times) or 1e-12
        width = max([len(n) for n, _ in self.times] + [4])
        lines = [f"{'pass':<{width}}  {'seconds':>9}  {'share':>6}"]
        for name, t in self.times:
            lines.append(f"{name:<{width}}  {t:9.4f}  {100 * t / total:5.1f}%")
        lines.append(f"{'total':<{width}}  {total:9.4f}  100.0%")
        return "\n".join(lines)

    def finish(self) -> None:
        if not self.silent:
            (self.stream or sys.stderr).write(self.report() + "\n")


class PassManager:
    def __init__(self, pipeline: Pipeline | str | Sequence[Pass], instruments: Sequence[Instrument] = (),
                 verify_each: bool = True) -> None:
        if isinstance(pipeline, str):
            pipeline = parse_pipeline(pipeline)
        self.passes = pipeline.instantiate() if isinstance(pipeline, Pipeline) else list(pipeline)
        self.instruments = list(instruments)
        self.verify_each = verify_each

    def run(self, graph: Graph, ctx: PassContext | None = None) -> Graph:
        ctx = ctx or PassContext()
        budget_at = self._budget_position(ctx)
        try:
            for i, p in enumerate(self.passes):
                for ins in self.instruments:
                    ins.before_pass(p, graph)
                try:
                    if i == budget_at:
                        from .budget.run import run_with_budget

                        changed = run_with_budget(p, self.passes[i + 1:], graph, ctx)
                    else:
                        changed = bool(p.run(graph, ctx))
                except Exception as e:
                    for ins in self.instruments:
                        ins.pass_failed(p, graph, e)
                    if isinstance(e, PassError) or not isinstance(e, VerifyError):
                        raise
                    raise PassError(f"pass {p.name!r}: {e}") from e
                if self.verify_each:
                    try:
                        verify_graph(graph)
                    except VerifyError as e:
                        raise PassError(f"the IR does not verify after pass {p.name!r}: {e}") from e
                for ins in self.instruments:
                    ins.after_pass(p, graph, changed)
        finally:
            for ins in self.instruments:
                ins.finish()
        return graph

    def _budget_position(self, ctx: PassContext) -> int | None:
        """Index of the pass the accuracy budget applies to (the first quantize), if any."""
        if getattr(ctx, "budget", None) is None:
            return None
        for i, p in enumerate(self.passes):
            if p.name == "quantize":
                return i
        raise PassError("an accuracy budget (--max-drop) needs the quantize pass in the pipeline, "
                        "e.g. --pipeline=fold,fuse,calibrate,quantize")
