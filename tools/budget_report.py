"""The accuracy-budget report: a summary table, JSON, and an HTML page with plots.

    print(summary_table(result))
    write_report(result, "report.html")     # report.html (plots embedded) + report.json
    write_report(result, "report.json")     # JSON only

`result` is an irc.passes.budget.result.BudgetResult. Plots need matplotlib (`pip install irc[report]`);
without it the HTML page has the tables only and says so. Files are written atomically.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from irc.ir.weights_io import atomic_write_bytes


def json_safe(x: Any) -> Any:
    """`x` with what JSON cannot hold made plain: NaN -> null, +-inf -> "inf"/"-inf", sets and
    tuples -> lists, numpy scalars -> Python numbers, keys -> str."""
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return json_safe(x.item())
    return x


def report_json(result) -> dict[str, Any]:
    """The result as JSON-ready data (infinities as "inf")."""
    data = dataclasses.asdict(result)
    data["drop"] = result.drop
    data["int8_drop"] = result.int8_drop
    return json_safe(data)


def _f(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def _db(harm: float) -> str:
    return "inf" if harm <= 0 else f"{10 * math.log10(1 / harm):.1f}"


def summary_table(result) -> str:
    """A few lines for the terminal: metrics, budget, ops in fp32, evaluations, time."""
    r = result
    name = r.metric_name
    lines = [
        f"accuracy budget: drop <= {r.allowed_drop:.4g} {name} ({r.budget}); "
        f"{'met' if r.met else 'NOT MET'}",
        f"  {'model':<12} {name:>10} {'drop':>9}",
        f"  {'fp32':<12} {_f(r.fp32_metric):>10} {'':>9}",
        f"  {'full int8':<12} {_f(r.int8_metric):>10} {_f(r.int8_drop):>9}",
        f"  {'final':<12} {_f(r.final_metric):>10} {_f(r.drop):>9}",
        f"  int8 ops {r.int8_ops}, fp32 ops {len(r.fp32_ops)}; full evaluations {r.evaluations}; "
        f"{r.seconds.get('total', 0):.1f} s ({r.seconds.get('full evaluations', 0):.1f} s evaluating, "
        f"{r.seconds.get('sensitivity ranking', 0):.1f} s ranking)",
    ]
    if r.fp32_ops:
        by = {o.name: o for o in r.ops}
        width = min(60, max(len(n) for n in r.fp32_ops))
        lines.append(f"  {'op back in fp32':<{width}}  {'kind':<8} {'rank':>4} {'harm dB':>8}")
        for n in r.fp32_ops:
            o = by.get(n)
            lines.append(f"  {_short(n, width):<{width}}  {o.kind if o else '?':<8} "
                         f"{(o.rank if o and o.rank else '-')!s:>4} {_db(o.harm) if o else '-':>8}")
    for note in r.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def _short(name: str, width: int) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def report_files(path: str | Path) -> list[Path]:
    """The files `write_report` writes for `path`: [path] for a .json path, else [path, its .json twin]."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return [path]
    return [path, path.with_suffix(".json")]


def write_json_and_html(path: str | Path, data: Any, html_page) -> list[Path]:
    """Write `data` (JSON-ready: json_safe) to path's .json twin and, for a non-.json path,
    `html_page()` to path (report_files); returns the files."""
    files = report_files(path)
    blob = json.dumps(data, indent=2).encode()
    if len(files) == 1:
        atomic_write_bytes(files[0], blob)
        return files
    atomic_write_bytes(files[0], html_page().encode())
    atomic_write_bytes(files[1], blob)
    return files


def write_report(result, path: str | Path, title: str = "") -> list[Path]:
    """Write the JSON (path.json) and, for a non-.json path, the HTML page. Returns the files."""
    return write_json_and_html(path, report_json(result), lambda: render_html(result, title))


# -- HTML -------------------------------------------------------------------------------------

def _plots(result) -> tuple[list[tuple[str, str]], str | None]:
    """[(caption, base64 PNG)], or a note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "plots need matplotlib: pip install 'irc[report]'"
    out = []

    def png(fig) -> str:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        return base64.b64encode(buf.getvalue()).decode()

    r = result
    sites = [s for s in r.sites if s["harm"] > 0][:30]
    if sites:
        fig, ax = plt.subplots(figsize=(9, 0.28 * len(sites) + 1.2))
        ys = list(range(len(sites)))[::-1]
        ax.barh(ys, [10 * math.log10(1 / s["harm"]) for s in sites],
                color=["#d62728" if s["removed"] else "#1f77b4" for s in sites])
        ax.set_yticks(ys)
        ax.set_yticklabels([_short(s["site"], 48) for s in sites], fontsize=7)
        ax.set_xlabel("output SQNR with only this site quantized (dB) - shorter bar = more harm")
        ax.set_title("Error sites, most harmful first (red: returned to fp32)")
        out.append(("Which quantized tensors and weights hurt the output most", png(fig)))
    ops = [o for o in r.ops if o.sqnr_int8 is not None]
    if ops:
        def val(x):
            return 80.0 if x is None or (isinstance(x, float) and math.isinf(x)) else x

        fig, ax = plt.subplots(figsize=(9, 3.6))
        xs = range(len(ops))
        ax.plot(xs, [val(o.sqnr_int8) for o in ops], "o-", ms=3, label="full int8")
        ax.plot(xs, [val(o.sqnr_final) for o in ops], "s-", ms=3, label="final (mixed)")
        for i, o in enumerate(ops):
            if o.fp32:
                ax.axvline(i, color="#d62728", alpha=0.25, lw=4)
        ax.set_xlabel("quantizable ops in graph order (red bands: fp32 in the final model)")
        ax.set_ylabel("SQNR of the op's result vs fp32 (dB)")
        ax.set_title("Error building up through the network")
        ax.legend(fontsize=8)
        out.append(("Cumulative SQNR per op (higher is better; 80 dB drawn for exact)", png(fig)))
    if len(r.trials) > 2:
        fig, ax = plt.subplots(figsize=(7, 3.4))
        ms = [t["metric"] for t in r.trials]
        ax.plot(range(1, len(ms) + 1), ms, "-", color="#999999", lw=1)
        for i, t in enumerate(r.trials, 1):
            ax.plot(i, t["metric"], "o", color="#2ca02c" if t["met"] else "#d62728")
            ax.annotate(str(t["fp32_ops"]), (i, t["metric"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        limit = r.fp32_metric - r.allowed_drop if r.higher_is_better else r.fp32_metric + r.allowed_drop
        ax.axhline(limit, color="#d62728", ls="--", lw=1, label="budget")
        ax.set_xlabel("full evaluation (labels: ops in fp32)")
        ax.set_ylabel(r.metric_name)
        ax.set_title("The search: fp32, full int8, then bisection and refinement")
        ax.legend(fontsize=8)
        out.append(("Every full evaluation (green: within budget)", png(fig)))
    return out, None


_CSS = """body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}td.l,th.l{text-align:left}
tr.fp32{background:#fde4e4}.ok{color:#2a7a2a;font-weight:bold}.bad{color:#b22;font-weight:bold}
img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}"""


def _row(cells, cls: str = "") -> str:
    tds = "".join(f'<td class="l">{html.escape(str(c))}</td>' if i == 0 or isinstance(c, str) and not _num(c)
                  else f"<td>{html.escape(str(c))}</td>" for i, c in enumerate(cells))
    return f'<tr class="{cls}">{tds}</tr>'


def _num(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return s in ("-", "inf", "-inf")


def _table(head: list[str], rows: list[str]) -> str:
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def render_html(result, title: str = "") -> str:
    r = result
    e = html.escape
    plots, note = _plots(r)
    status = '<span class="ok">met</span>' if r.met else '<span class="bad">NOT met</span>'
    int8_drop = r.int8_drop
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>irc accuracy budget {e(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Accuracy budget {e(title)}</h1>",
             f"<p>Budget: drop of {e(r.metric_name)} at most {r.allowed_drop:.4g} ({e(r.budget)}) on "
             f"{e(r.validation)} &mdash; {status}.</p>",
             _table(["model", r.metric_name, "drop", "fp32 ops"], [
                 _row(["fp32", _f(r.fp32_metric), "", str(r.int8_ops + len(r.fp32_ops))]),
                 _row(["full int8", _f(r.int8_metric), _f(int8_drop), "0"]),
                 _row(["final", _f(r.final_metric), _f(r.drop), str(len(r.fp32_ops))])]),
             f"<p>{r.evaluations} full evaluations, {r.seconds.get('total', 0):.1f} s in all "
             f"(evaluations {r.seconds.get('full evaluations', 0):.1f} s, ranking "
             f"{r.seconds.get('sensitivity ranking', 0):.1f} s on {r.ranking_samples} samples, engine "
             f"{e(r.engine)}, objective {e(r.objective)}).</p>"]
    for n in r.notes:
        parts.append(f"<p class='bad'>{e(n)}</p>")
    if note:
        parts.append(f"<p><i>{e(note)}</i></p>")
    for caption, data in plots:
        parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{e(caption)}'>"
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    by = {o.name: o for o in r.ops}
    if r.fp32_ops:
        parts.append("<h2>Ops returned to fp32</h2>")
        rows = []
        for n in r.fp32_ops:
            o = by[n]
            rows.append(_row([n, o.kind, str(o.rank or "-"), _db(o.harm), _f(o.metric_without), _f(o.metric_with),
                              o.reason]))
        parts.append(_table(["op", "kind", "rank", "harm (dB)", f"{r.metric_name} before", f"{r.metric_name} with",
                             "why"], rows))
        parts.append("<p>harm: the output SQNR when only this op's worst error site is quantized (lower = more "
                     "harm). before / with: the evaluated models just before and at the point where the search "
                     "put it in fp32.</p>")
    parts.append("<h2>Every quantizable op</h2>")
    rows = []
    for o in r.ops:
        rows.append(_row([o.name, o.kind, f"{o.macs:,}", "fp32" if o.fp32 else "int8", o.kernel_int8 or "-",
                          o.kernel_final or "-", _db(o.harm) if o.harm else "-", _f(o.sqnr_int8, 1),
                          _f(o.sqnr_final, 1)], "fp32" if o.fp32 else ""))
    parts.append(_table(["op", "kind", "MACs/sample", "final", "kernel (int8 model)", "kernel (final)",
                         "harm (dB)", "SQNR int8 (dB)", "SQNR final (dB)"], rows))
    parts.append("<p>kernel: what onnxruntime runs for the op after its QDQ fusions; QLinear*/QGemm are "
                 "int8 kernels. SQNR: the op's result against fp32, with all errors upstream of it.</p>")
    parts.append("<h2>Full evaluations</h2>")
    parts.append(_table(["#", "phase", "fp32 ops", r.metric_name, "budget"], [
        _row([str(i), t["phase"], str(t["fp32_ops"]), _f(t["metric"]), "met" if t["met"] else "missed"])
        for i, t in enumerate(r.trials, 1)]))
    if r.sites:
        parts.append("<h2>Error sites</h2>")
        parts.append(_table(["site", "kind", "SQNR alone (dB)", "search order", "ops to fp32", "removed"], [
            _row([s["site"], s["kind"], _db(s["harm"]), str(s["order"] or "-"), ", ".join(s["ops"]),
                  "yes" if s["removed"] else ""]) for s in r.sites]))
    parts.append("</body></html>")
    return "\n".join(parts)
