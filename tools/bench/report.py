"""The benchmark's result as tables (plain text for the terminal, Markdown for docs) and geomeans.

The result is the JSON-ready dict that irc.bench.run_bench returns (see irc.bench). Two tables
per run: speed per (threads, batch) cell, and per model the file size, peak memory, the int8
kernel check and the output cosine against fp32.
"""

from __future__ import annotations

import math


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def cell_key(threads: int, batch: int) -> str:
    return f"threads={threads} batch={batch}"


def geomeans(result: dict) -> list[dict]:
    """Per (threads, batch) cell and variant: the geomean speedup and the number of models in it."""
    out = []
    variants = [v for v in result["variants"] if v != result["reference"]]
    for threads in result["options"]["threads"]:
        for batch in result["options"]["batches"]:
            cells = [c for m in result["models"] for c in m["timings"]
                     if c["threads"] == threads and c["batch"] == batch and "variants" in c]
            row = {"threads": threads, "batch": batch, "variants": {}}
            for v in [*variants, *(["irc_vs_ort"] if _has_pair(result) else [])]:
                vals = [x for x in (_speedup(c, v) for c in cells) if x is not None]
                g = geomean(vals)
                if g is not None:
                    row["variants"][v] = {"speedup": g, "models": len(vals)}
            out.append(row)
    return out


def _has_pair(result: dict) -> bool:
    return "irc" in result["variants"] and "ort" in result["variants"]


def _speedup(cell: dict, variant: str) -> float | None:
    if variant == "irc_vs_ort":
        return cell.get("irc_vs_ort")
    v = cell.get("variants", {}).get(variant)
    return v["speedup"] if v else None


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    def fmt(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def speed_table(result: dict, threads: int, batch: int, markdown: bool = False) -> str:
    """Median ms and speedup vs fp32 of every variant, one row per model, geomean last."""
    ref = result["reference"]
    others = [v for v in result["variants"] if v != ref]
    pair = _has_pair(result)
    headers = ["model", "rounds", f"{ref} ms"]
    for v in others:
        headers += [f"{v} ms", f"{v} x"]
    if pair:
        headers.append("irc vs ort")
    rows = []
    for m in result["models"]:
        cell = next((c for c in m["timings"] if c["threads"] == threads and c["batch"] == batch), None)
        if cell is None:
            continue
        if "variants" not in cell:
            rows.append([m["name"], "-", f"skipped: {cell.get('skipped', 'no timing')}"] + [""] * (len(headers) - 3))
            continue
        vs = cell["variants"]
        row = [m["name"], str(cell["rounds"]), _f(vs[ref]["median_ms"], 1)]
        for v in others:
            if v in vs:
                row += [_f(vs[v]["median_ms"], 1), _f(vs[v]["speedup"])]
            else:
                row += ["error" if m["variants"].get(v, {}).get("error") else "-", "-"]
        if pair:
            row.append(_f(cell.get("irc_vs_ort")))
        rows.append(row)
    g = next((x for x in result.get("geomean", []) if x["threads"] == threads and x["batch"] == batch), None)
    if g and rows:
        n = len(result["models"])
        row = ["**geomean**" if markdown else "geomean", "", ""]

        def gcell(v):
            e = g["variants"].get(v)
            if not e:
                return "-"
            s = _f(e["speedup"])
            s = s if e["models"] == n else f"{s} ({e['models']}/{n})"
            return f"**{s}**" if markdown else s

        for v in others:
            row += ["", gcell(v)]
        if pair:
            row.append(gcell("irc_vs_ort"))
        rows.append(row)
    return _table(headers, rows, markdown)


def _kernels(k: dict | None) -> str:
    if not k:
        return "-"
    if "error" in k:
        return "error"
    return f"{k['int8_compute']}/{k['quantized']} int8, {k['float_compute']} float, {k['q']}Q {k['dq']}DQ"


def _cos(v: dict) -> str:
    note = v.get("cosine_note")
    return {"all-zero output": "zeros", "non-finite output": "inf/nan"}.get(note, note) if note \
        else _f(v.get("cosine"), 4)


def detail_table(result: dict, markdown: bool = False) -> str:
    """File MB, peak RSS MB, kernel check and output cosine of every variant."""
    vs = result["variants"]
    int8 = [v for v in vs if v not in (result["reference"], "ov-fp32")]
    headers = ["model", "compute"] + [f"{v} MB" for v in vs] + [f"{v} RSS MB" for v in vs]
    headers += [f"{v} kernels" for v in int8 if v != "ov-int8"] + [f"{v} cos" for v in int8]
    rows = []
    for m in result["models"]:
        mv = m["variants"]
        row = [m["name"], str(m.get("compute_nodes", "-"))]
        row += [_f(mv.get(v, {}).get("file_mb"), 1) for v in vs]
        row += [_f(mv.get(v, {}).get("memory", {}).get("peak_mb"), 0) for v in vs]
        row += [_kernels(mv.get(v, {}).get("kernels")) for v in int8 if v != "ov-int8"]
        row += [_cos(mv.get(v, {})) for v in int8]
        rows.append(row)
    return _table(headers, rows, markdown)


def errors(result: dict) -> list[str]:
    return [f"{m['name']} {v}: {e['error']}" for m in result["models"] for v, e in m["variants"].items()
            if e.get("error")]


def environment_line(result: dict) -> str:
    """Versions, CPU and the load average around the run: how far to trust the numbers."""
    env = result.get("environment", {})
    parts = [f"onnxruntime {env.get('onnxruntime', '?')}"]
    parts += [f"{k} {env[k]}" for k in ("openvino", "nncf") if k in env]
    parts.append(f"{env.get('cpu', '?')}, {env.get('cpus', '?')} CPUs")
    if "loadavg_start" in env:
        load = f"load average {env['loadavg_start'][0]:.2f} at start"
        if "loadavg_end" in env:
            load += f", {env['loadavg_end'][0]:.2f} at end"
        parts.append(load)
    if result.get("seconds") is not None:
        parts.append(f"{result['seconds']:.0f} s")
    return "; ".join(parts)


def format_report(result: dict, markdown: bool = False) -> str:
    """All tables of a result, speed cells first."""
    parts = []
    head = "#### " if markdown else ""
    note = "speedup = median over rounds of t(fp32) / t(variant), both times from the same round; >1 is faster"
    for threads in result["options"]["threads"]:
        for batch in result["options"]["batches"]:
            parts.append(f"{head}{cell_key(threads, batch)}\n\n{speed_table(result, threads, batch, markdown)}")
    parts.insert(0, f"{environment_line(result)}\n{note}")
    kernel_note = ("compute: Conv/Gemm/MatMul nodes of the fp32 model. "
                   "kernels: int8 compute kernels / Conv-Gemm-MatMul nodes reading a DequantizeLinear; float "
                   "Conv/Gemm/MatMul left; Q and DQ nodes left (onnxruntime's optimized graph, ORT_ENABLE_ALL). "
                   "RSS: peak resident memory of a fresh process that loaded the model and ran it 5 times. "
                   "cos: output cosine against fp32 on one random batch (a sanity check; the weights are random).")
    parts.append(f"{head}files, memory, kernels\n\n{kernel_note}\n\n{detail_table(result, markdown)}")
    errs = errors(result)
    if errs:
        parts.append("errors:\n" + "\n".join(f"  {e}" for e in errs))
    return "\n\n".join(parts) + "\n"
