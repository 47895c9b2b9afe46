"""smooth: SmoothQuant — move activation outliers of a LayerNorm's output into the weights.

A layer_norm whose result feeds matmuls with constant weights (a transformer's Q, K, V
projections, or its first FFN matmul) hands them activations with a few channels much larger
than the rest; per-tensor activation scales then waste most of the u8 range. With a positive
vector s over the normalized axis (the matmuls' K axis):

    y  = layer_norm(x, g, b)                  ->  y' = layer_norm(x, g / s, b / s) = y / s
    matmul(y, W)                              ->  matmul(y', s[:, None] * W)       (equal)
    any other reader r(y)  (a residual add)   ->  r(mul(y', s))                    (equal)

so the float graph computes the same (up to float32 rounding) while the matmuls' input is
flatter and their weights take the difference, per row of W (weights are quantized per column,
so a row scale costs them little). Per channel j, with A_j = max |y_j| over the calibration data
and W_j = max |W[j, :]| over every weight the layer_norm feeds:

    s_j = clip(A_j^alpha / W_j^(1 - alpha), 1e-5, 1e5)      (1 where A_j or W_j is 0)

alpha (option `alpha`, in [0, 1]) is given, or (`alpha` < 0, the default) searched per
layer_norm over `alphas`: the one whose simulated int8 matmuls (u8 per-tensor input over the
range of y / s on the sample rows, i8 weights per column) are closest to the float matmuls in
squared error on up to `rows` sampled rows — and the layer_norm is left alone when none beats
s = 1. Needs calibration data (PassContext.calib) and runs before `calibrate`:

    fold,fuse,dce,smooth,calibrate,quantize

A layer_norm is a candidate when it normalizes the last axis only, its scale (and bias) are
constants, its result is not a graph output, and at least one reader is such a matmul (operand
0, constant 2-D weight of K rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from irc.ir.evaluator import get_evaluator
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

from .base import Pass, PassContext, PassError, register_pass
from .calibration_stream import CalibrationStream
from .qparams import activation_type, quantize_with_scales, weight_scales

S_MIN, S_MAX = np.float32(1e-5), np.float32(1e5)


@dataclass
class _Group:
    ln: Op
    matmuls: list[Op]
    others: list  # uses of the result that are not smoothable matmuls
    absmax: np.ndarray | None = None
    rows: list = field(default_factory=list)  # sampled rows of y, as float32 arrays of shape (n, K)

    @property
    def k(self) -> int:
        k = self.ln.results[0].type.dims[-1]
        assert isinstance(k, int), 'groups are made for a static last axis only'
        return k


def _const_vector(g: Graph, v: Value | None, k: int) -> np.ndarray | None:
    if v is None:
        return None
    a = g.const_value(v)
    if a is None or a.dtype.kind != "f" or a.size != k:
        return None
    return a.reshape(-1).astype(np.float32)


def find_groups(g: Graph) -> list[_Group]:
    """The layer_norms SmoothQuant can rewrite, with the matmuls that read them."""
    out = []
    returned = {id(v) for v in g.outputs}
    for op in g.ops:
        if op.name != "layer_norm" or op.attrs.get("stats") or len(op.results) != 1:
            continue
        y = op.results[0]
        t = y.type
        if id(y) in returned or not t.is_float or t.rank < 1 or not isinstance(t.dims[-1], int):
            continue
        axis = op.attr("axis")
        if axis not in (-1, t.rank - 1):
            continue
        k = t.dims[-1]
        if _const_vector(g, op.operands[1], k) is None:
            continue
        if len(op.operands) > 2 and _const_vector(g, op.operands[2], k) is None:
            continue
        matmuls, others = [], []
        for u in y.uses:
            w = g.const_value(u.op.operands[1]) if u.op.name == "matmul" and u.index == 0 else None
            if w is not None and w.ndim == 2 and w.shape[0] == k and w.dtype.kind == "f" and not u.op.attrs.get(
                    "activation"):
                matmuls.append(u.op)
            else:
                others.append(u)
        if matmuls and len({id(m) for m in matmuls}) == len(matmuls):
            out.append(_Group(op, matmuls, others))
    return out


def smoothing_scales(absmax: np.ndarray, wmax: np.ndarray, alpha: float) -> np.ndarray:
    """s_j = clip(A_j^alpha / W_j^(1-alpha), 1e-5, 1e5), 1 where either is 0."""
    a = absmax.astype(np.float64)
    w = wmax.astype(np.float64)
    ok = (a > 0) & (w > 0)
    s = np.ones_like(a)
    s[ok] = a[ok] ** alpha / w[ok] ** (1.0 - alpha)
    return np.clip(s, S_MIN, S_MAX).astype(np.float32)


def _fake_u8(x: np.ndarray) -> np.ndarray:
    qt = activation_type(float(x.min()), float(x.max()), "u8")
    s, z = np.float32(qt.scales[0]), np.float32(qt.zero_points[0])
    return (np.clip(np.rint(x / s) + z, 0, 255) - z) * s


def _fake_weights(w: np.ndarray) -> np.ndarray:
    scales = weight_scales(w, 1)
    return quantize_with_scales(w, scales, 1).astype(np.float32) * scales[None, :]


def quant_error(x: np.ndarray, weights: list[np.ndarray], s: np.ndarray) -> float:
    """Squared error of the simulated int8 matmuls of x / s and s W against the float x W."""
    xs = _fake_u8((x / s[None, :]).astype(np.float32))
    err = 0.0
    for w in weights:
        ref = x @ w
        got = xs @ _fake_weights((w * s[:, None]).astype(np.float32))
        err += float(np.square(ref - got).sum())
    return err


def choose_scales(group: _Group, weights: list[np.ndarray], alpha: float,
                  alphas: tuple[float, ...]) -> tuple[np.ndarray | None, float | None]:
    """(s, alpha) for the group, or (None, None) when smoothing would not lower the error."""
    wmax = np.max(np.stack([np.abs(w).max(axis=1) for w in weights]), axis=0)
    if group.absmax is None:
        raise PassError(f"pass 'smooth': {group.ln.label} was never observed on the calibration data")
    if alpha >= 0:
        return smoothing_scales(group.absmax, wmax, alpha), alpha
    x = np.concatenate(group.rows).astype(np.float32)
    ones = np.ones(group.k, np.float32)
    best_s, best_a, best_e = None, None, quant_error(x, weights, ones)
    for a in alphas:
        s = smoothing_scales(group.absmax, wmax, a)
        e = quant_error(x, weights, s)
        if e < best_e:
            best_s, best_a, best_e = s, a, e
    return best_s, best_a


def apply_scales(g: Graph, group: _Group, s: np.ndarray) -> None:
    """The rewrite of the module docstring for one layer_norm and its scale vector s."""
    ln = group.ln
    y = ln.results[0]
    k = group.k
    name = y.name or "ln"
    gamma = _const_vector(g, ln.operands[1], k)
    shape1 = ln.operands[1].type.shape
    new = [ln.operands[0], g.const((gamma / s).astype(np.float32).reshape(shape1), f"{name}_smooth_scale",
                                   before=ln)]
    if len(ln.operands) > 2:
        beta = _const_vector(g, ln.operands[2], k)
        new.append(g.const((beta / s).astype(np.float32).reshape(ln.operands[2].type.shape), f"{name}_smooth_bias",
                           before=ln))
    ln.set_operands(new)
    for mm in group.matmuls:
        w_val = mm.operands[1]
        w = g.const_array(w_val).astype(np.float32)
        mm.set_operand(1, g.const((w * s[:, None]).astype(np.float32), f"{w_val.name or 'w'}_smooth", before=mm))
    if group.others:
        sv = g.const(s, f"{name}_smooth_undo", before=ln)
        back = g.create("mul", [y, sv], names=[f"{name}_unsmoothed"], after=ln).result
        for u in group.others:
            u.op.set_operand(u.index, back)


@register_pass
@dataclass(frozen=True)
class Smooth(Pass):
    """SmoothQuant: per-channel scales moved from each layer_norm's output into the matmul weights."""

    name: ClassVar[str] = "smooth"
    alpha: float = -1.0
    """Migration strength in [0, 1]; negative: searched per layer_norm over `alphas`."""
    alphas: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    """The alphas the search tries."""
    samples: int = 64
    """Calibration samples to measure activations on (0: all)."""
    rows: int = 2048
    """Rows of each layer_norm's output kept for the alpha search."""
    batch_size: int = 16
    backend: Literal["onnxruntime", "interpreter"] = "onnxruntime"

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        if self.alpha > 1:
            raise PassError(f"pass 'smooth': alpha must be at most 1 (or negative: searched), got {self.alpha}")
        if any(not 0 <= a <= 1 for a in self.alphas) or not self.alphas:
            raise PassError("pass 'smooth': alphas must be values in [0, 1]")
        groups = find_groups(graph)
        if not groups:
            return False
        ctx.record(self.name, "layer norms found", len(groups))
        if ctx.calib is None:
            raise PassError("pass 'smooth' needs calibration data (the activations' per-channel maxima): give "
                            "`--calib FILE.npz`, or set PassContext.calib")
        self._observe(graph, ctx, groups)
        weights = {id(gr.ln): [graph.const_array(m.operands[1]).astype(np.float32) for m in gr.matmuls]
                   for gr in groups}
        changed = 0
        chosen = []
        for gr in groups:
            s, a = choose_scales(gr, weights[id(gr.ln)], self.alpha, self.alphas)
            if s is None:
                continue
            apply_scales(graph, gr, s)
            chosen.append(a)
            changed += 1
        ctx.record(self.name, "layer norms smoothed", changed)
        if chosen:
            ctx.record(self.name, "alphas", ",".join(f"{a:g}" for a in chosen))
        return changed > 0

    def _observe(self, graph: Graph, ctx: PassContext, groups: list[_Group]) -> None:
        values = [gr.ln.results[0] for gr in groups]
        by_value = {id(gr.ln.results[0]): gr for gr in groups}
        keep = self.rows if self.alpha < 0 else 0
        stream = CalibrationStream(ctx.calib, graph, batch_size=self.batch_size, limit=self.samples)
        ev = get_evaluator(self.backend)
        if ev.unsupported(graph) is not None:
            ev.close()
            ev = get_evaluator("interpreter")
        rng = np.random.default_rng(0)

        def sink(v: Value, a: np.ndarray) -> None:
            gr = by_value[id(v)]
            rows = np.asarray(a, dtype=np.float32).reshape(-1, gr.k)
            m = np.abs(rows).max(axis=0)
            gr.absmax = m if gr.absmax is None else np.maximum(gr.absmax, m)
            have = sum(len(r) for r in gr.rows)
            if have < keep:
                take = rows if len(rows) <= keep - have else rows[rng.choice(len(rows), keep - have, replace=False)]
                gr.rows.append(take.copy())

        try:
            for feeds in stream:
                ev.stream(graph, feeds, values, sink)
        finally:
            ev.close()
