"""The report of one quantization run (`irc quantize --report r.html`, with or without a budget).

    data = run_report(result)                # result of irc.quantize(..., keep_calibrated=True)
    write_run_report(data, "r.html")         # r.html (plots embedded) + r.json; or a .json path

What it holds:
  - tensors: every int8 activation of the quantized graph, its producer, its type (scale, zero
    point), the range that type covers, the calibrated float range, and its SQNR on the first
    calibration batch: 10 log10(sum x^2 / sum (x - x_int8)^2), x the value in the fp32 graph,
    x_int8 the same value in the emitted int8 model (both in onnxruntime, the int8 model with
    the value exposed as an output); plus a histogram of x with the quantized range marked;
  - ops: every quantizable op (conv, gemm, matmul, add, pools, concat) with irc's decision (int8
    or float) and why float (a fallback mark and who set it, skip, no calibrated range, NaN/inf
    values, a speed-check region, a kind quantize does not take);
  - kernels: what onnxruntime's optimized graph runs (level EXTENDED and ALL): int8 kernels by
    type, float compute nodes left and, for each, the irc op it belongs to and why it is float
    (irc kept it float, or irc made it int8 and onnxruntime did not fuse the group).
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from irc.budget_report import json_safe, write_json_and_html

QUANTIZABLE = ("conv", "conv_transpose", "gemm", "matmul", "add", "average_pool", "global_average_pool", "concat")
HIST_BINS = 64


def _float_name(v) -> str | None:
    """The name of the fp32 value a quantized value stands for."""
    p = v.producer
    if p is not None and p.name == "quantize":
        return p.operands[0].name
    return v.name


def _int8_values(graph) -> list:
    out, seen = [], set()
    for op in graph.ops:
        if op.name in ("const", "dequantize"):
            continue
        for r in op.results:
            if r.type.is_quantized and r.type.quant.axis is None and id(r) not in seen:
                seen.add(id(r))
                out.append(r)
    return out


def _sqnr(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    noise = float(np.sum((x - y) ** 2))
    signal = float(np.sum(x ** 2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def _run_with_outputs(graph, values, feeds, qdq: bool) -> list[np.ndarray]:
    """The values (as real numbers) when `graph` (a copy is made) runs in onnxruntime."""
    from irc.backends.onnx import export_onnx
    from irc.backends.onnx.ort_check import default_session
    from irc.backends.onnx.qdq import export_qdq
    from irc.passes.clone import clone_graph

    g, ops = clone_graph(graph)
    where = {id(op): k for k, op in enumerate(graph.ops)}
    mapped = [ops[where[id(v.producer)]].results[v.result_index] if v.producer is not None
              else g.inputs[list(graph.inputs).index(v)] for v in values]
    outs = list(g.outputs)
    positions = []
    for v in mapped:
        if v not in outs:
            outs.append(v)
        positions.append(outs.index(v))
    g.set_outputs(outs)
    model = export_qdq(g, warn=lambda m: None) if qdq else export_onnx(g)
    session = default_session(model)
    names = [o.name for o in session.get_outputs()]
    wanted = {i.name for i in session.get_inputs()}
    got = session.run([names[p] for p in positions], {k: v for k, v in feeds.items() if k in wanted})
    return got


def _op_reasons(result) -> list[dict[str, Any]]:
    from irc.passes.fallback import FALLBACK_KEY

    graph = result.graph
    skip = set(result.skipped)
    speed_fp32 = set()
    if result.speed is not None:
        for r in result.speed.kept_fp32:
            speed_fp32.update(r.ops)
    rows = []
    for op in graph.ops:
        if op.name not in QUANTIZABLE:
            continue
        int8 = any(r.type.is_quantized for r in op.results)
        why = ""
        if not int8:
            if op.label in speed_fp32:
                why = "speed check: int8 was not faster in this region"
            elif FALLBACK_KEY in op.attrs:
                why = f"returned to fp32 ({op.attrs[FALLBACK_KEY]})"
            elif op.attrs.get("q.nonfinite"):
                why = "NaN/inf values seen in calibration"
            elif op.label in skip:
                why = "skip="
            elif not op.attrs.get("q.range"):
                why = "no calibrated range"
            else:
                why = "quantize does not take this form (see specs/pipeline.md)"
        rows.append({"op": op.label, "kind": op.name, "int8": int8, "why_float": why})
    return rows


def _kernels(result, ops: list[dict[str, Any]]) -> dict[str, Any]:
    from irc.backends.onnx.ort_kernels import ort_kernel_report

    report = ort_kernel_report(result.model)
    by_label = {r["op"]: r for r in ops}
    for level in ("extended", "all"):
        for node in report[level]["float_compute_nodes"]:
            label = node["name"].removeprefix("n_").removesuffix("_float")
            row = by_label.get(label) or by_label.get(label.removesuffix("_q"))
            if row is None:
                node["why"] = "not an op irc quantizes"
            elif not row["int8"]:
                node["irc_op"] = row["op"]
                node["why"] = f"irc kept it float: {row['why_float']}"
            else:
                node["irc_op"] = row["op"]
                node["why"] = "irc made it int8; onnxruntime did not fuse its Q/DQ group"
    return report


def run_report(result, title: str = "") -> dict[str, Any]:
    """The report data of a QuantizeResult made with keep_calibrated=True."""
    if result.calibrated is None:
        raise ValueError("run_report needs irc.quantize(..., keep_calibrated=True)")
    feeds = result.sample_batch or {}
    values = _int8_values(result.graph)
    known = {v.name: v for v in result.calibrated.inputs}
    for op in result.calibrated.ops:
        for r in op.results:
            if r.name:
                known[r.name] = r
    pairs = []
    for v in values:
        name = _float_name(v)
        f = known.get(name) or known.get((name or "").removesuffix("_q"))
        if f is not None and f.type.is_float:
            pairs.append((v, f))
    tensors: list[dict[str, Any]] = []
    if pairs and feeds:
        floats = _run_with_outputs(result.calibrated, [f for _, f in pairs], feeds, qdq=False)
        int8s = _run_with_outputs(result.graph, [v for v, _ in pairs], feeds, qdq=True)
        from irc.ir.ranges import get_range

        for (v, f), x, y in zip(pairs, floats, int8s):
            qt = v.type.quant
            s, z = float(qt.scale), int(qt.zero_point)
            rng = get_range(result.calibrated, f)
            counts, edges = np.histogram(np.asarray(x, np.float64).ravel(), bins=HIST_BINS)
            tensors.append({
                "value": f.name, "producer": f.producer.name if f.producer is not None else "input",
                "type": str(qt), "scale": s, "zero_point": z,
                "covers": [s * (qt.qmin - z), s * (qt.qmax - z)],
                "calibrated_range": list(rng) if rng is not None else None,
                "observed": [float(np.min(x)), float(np.max(x))] if np.size(x) else None,
                "sqnr_db": _sqnr(x, y),
                "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
            })
    ops = _op_reasons(result)
    return {"title": title, "samples": int(next(iter(feeds.values())).shape[0]) if feeds else 0,
            "tensors": tensors, "ops": ops, "kernels": _kernels(result, ops),
            "speed": result.speed.to_json() if result.speed is not None else None}


def write_run_report(data: dict[str, Any], path: str | Path) -> list[Path]:
    """path.json only for a .json path, else the HTML page and its .json twin. Returns the files."""
    return write_json_and_html(path, json_safe(data), lambda: render_html(data))


def _histograms(tensors) -> tuple[str | None, str | None]:
    """(base64 PNG of the histograms, or None; a note when matplotlib is missing)."""
    if not tensors:
        return None, None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "histograms need matplotlib: pip install 'irc[report]'"
    cols = 4
    rows = math.ceil(len(tensors) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.1 * rows), squeeze=False)
    for ax in axes.ravel()[len(tensors):]:
        ax.axis("off")
    for ax, t in zip(axes.ravel(), tensors):
        h = t["histogram"]
        edges = np.asarray(h["edges"])
        ax.bar(edges[:-1], h["counts"], width=np.diff(edges), align="edge", color="#1f77b4")
        ax.set_yscale("log")
        lo, hi = t["covers"]
        for xv in (lo, hi):
            ax.axvline(xv, color="#d62728", lw=1)
        sq = t["sqnr_db"]
        ax.set_title(f"{t['value'][-38:]}\n{'inf' if math.isinf(sq) else f'{sq:.1f}'} dB", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode(), None


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.4g}"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return html.escape(str(x))


def render_html(data: dict[str, Any]) -> str:
    esc = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>irc quantize report {esc(data['title'])}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px}.low{background:#fdd}</style>",
             f"<h1>irc quantize: {esc(data['title'])}</h1>"]
    k = data["kernels"]
    for level in ("extended", "all"):
        lv = k[level]
        parts.append(f"<h2>onnxruntime kernels (level {level.upper()})</h2><p>int8 kernels: "
                     + (", ".join(f"{esc(n)} {c}" for n, c in lv["int8_kernels"].items()) or "none")
                     + f"; float compute nodes: {lv['float_total']}; QuantizeLinear {lv['quantize_linear']}, "
                       f"DequantizeLinear {lv['dequantize_linear']}</p>")
        if lv["float_compute_nodes"]:
            parts.append("<table><tr><th>node</th><th>type</th><th>why float</th></tr>" + "".join(
                f"<tr><td>{esc(n['name'])}</td><td>{esc(n['op_type'])}</td><td>{esc(n.get('why', ''))}</td></tr>"
                for n in lv["float_compute_nodes"]) + "</table>")
    if data.get("speed"):
        parts.append("<h2>speed check</h2><table><tr><th>region ops</th><th>int8 speedup</th><th>kept fp32</th></tr>"
                     + "".join(f"<tr><td>{len(r['ops'])} ({esc(', '.join(f'{n} {kk}' for kk, n in r['kinds'].items()))})"
                               f"</td><td>{r['speedup']:.2f}x</td><td>{'yes' if r['kept_fp32'] else 'no'}</td></tr>"
                               for r in data["speed"]["regions"]) + "</table>")
    parts.append("<h2>ops</h2><table><tr><th>op</th><th>kind</th><th>int8</th><th>why float</th></tr>" + "".join(
        f"<tr><td>{esc(r['op'])}</td><td>{esc(r['kind'])}</td><td>{'yes' if r['int8'] else 'no'}</td>"
        f"<td>{esc(r['why_float'])}</td></tr>" for r in data["ops"]) + "</table>")
    parts.append(f"<h2>tensors (SQNR on {data['samples']} calibration sample(s))</h2>"
                 "<table><tr><th>value</th><th>producer</th><th>type</th><th>covers</th><th>calibrated</th>"
                 "<th>observed</th><th>SQNR dB</th></tr>")
    for t in sorted(data["tensors"], key=lambda t: t["sqnr_db"]):
        low = " class='low'" if t["sqnr_db"] < 20 else ""
        parts.append(f"<tr{low}><td>{esc(t['value'])}</td><td>{esc(t['producer'])}</td><td>{esc(t['type'])}</td>"
                     f"<td>{_fmt(t['covers'])}</td><td>{_fmt(t['calibrated_range'])}</td>"
                     f"<td>{_fmt(t['observed'])}</td><td>{_fmt(t['sqnr_db'])}</td></tr>")
    parts.append("</table>")
    png, note = _histograms(data["tensors"])
    parts.append("<h2>histograms (fp32 values; red: the range the int8 type covers)</h2>")
    if png:
        parts.append(f"<img src='data:image/png;base64,{png}'>")
    elif note:
        parts.append(f"<p>{esc(note)}</p>")
    return "\n".join(parts)
