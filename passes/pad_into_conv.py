"""Zero padding folded into the conv that reads it (a rewrite rule of `fuse`).

    conv(pad(x) {pads=p, mode="constant", value=0.0}) {pads=q}  ->  conv(x) {pads=q + p[spatial]}

when the pad only pads (no crop), only the spatial axes, with zeros, and the conv is its only
reader and has no `auto_pad`. Exporters write such padding as a separate Pad node (TorchScript's
explicit `F.pad` before a convolution, TensorFlow's "same" padding); between Q/DQ pairs
onnxruntime cannot fold it into the conv as it does in fp32, so each Pad would run on
dequantized floats between a DequantizeLinear and a QuantizeLinear.
"""

from __future__ import annotations

from irc.ir.op import Op

from .rewrite import RewriteRule, Rewriter


class PadIntoConv(RewriteRule):
    roots = ("conv",)

    def apply(self, op: Op, rw: Rewriter) -> bool:
        x = op.operands[0]
        pad = x.producer
        if pad is None or pad.name != "pad" or len(x.uses) != 1 or x in rw.graph.outputs:
            return False
        if pad.attr("mode") != "constant" or pad.attr("value") != 0.0 or op.attr("auto_pad") not in ("", "NOTSET"):
            return False
        rank = x.type.rank
        p = list(pad.attr("pads"))
        begin, end = p[:rank], p[rank:]
        if any(begin[:2]) or any(end[:2]) or min(p) < 0:
            return False
        n = rank - 2
        q = list(op.attr("pads")) or [0] * (2 * n)
        attrs = dict(op.attrs)
        attrs["pads"] = tuple([q[i] + begin[2 + i] for i in range(n)] + [q[n + i] + end[2 + i] for i in range(n)])
        op.attrs = op.defn.normalize_attrs(attrs)
        op.set_operand(0, pad.operands[0])
        rw.erase(pad)
        return True
