"""irc's int8 interpreter against onnxruntime on the emitted QDQ model, for zoo models.

    python scripts/compare/int8_agreement.py [MODEL ...]      (default: all eleven zoo CNNs)

Each model is quantized by irc.quantize (8 random-normal calibration samples); every int8 tensor
that leaves the int8 region (each dequantize operand) is made a graph output; both runtimes run
one random input; per tensor the share of identical elements and the largest distance in quanta
are printed, with the worst over the model.
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort

import irc
from irc.backends.numpy_interp import run_graph
from irc.backends.onnx.qdq import export_qdq
from irc.zoo import ZOO_MODELS, zoo_model


def agreement(name: str) -> tuple[float, float, int]:
    model = zoo_model(name)
    inp = model.graph.input[0]
    shape = [d.dim_value if d.dim_value else 1 for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    result = irc.quantize(model, {inp.name: rng.standard_normal([8] + shape[1:]).astype(np.float32)}, batch_size=8)
    graph = result.graph
    exits = [op for op in graph.ops if op.name == "dequantize"]
    graph.set_outputs(list(graph.outputs) + [d.result for d in exits if d.result not in graph.outputs])
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(export_qdq(graph).SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = rng.standard_normal([1] + shape[1:]).astype(np.float32)
    got_ort = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {inp.name: x})))
    got_irc = run_graph(graph, {inp.name: x})
    same, total, worst = 0, 0, 0.0
    for d in exits:
        scale = d.operands[0].type.quant.scale
        quanta = np.abs(got_irc[d.result.name].astype(np.float64) - got_ort[d.result.name]) / scale
        same += int((quanta < 0.5).sum())
        total += quanta.size
        worst = max(worst, float(quanta.max()))
    return same / max(total, 1), worst, total


def main(argv: list[str]) -> int:
    names = argv or list(ZOO_MODELS)
    print(f"{'model':<14} {'int8 exit elements':>18} {'identical':>10} {'max quanta':>10}")
    for name in names:
        share, worst, total = agreement(name)
        print(f"{name:<14} {total:>18} {share:>10.4%} {worst:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
