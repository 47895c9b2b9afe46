"""NNCF's nncf.quantize on a bundled digit classifier, measured like irc's rows of
docs/range-methods.md.

    python scripts/compare/nncf_quantize_row.py [--model examples/models/digits_mobilenetv2_outlier.onnx]

Both start from the fp32 ONNX model and the 300 calibration images of examples/data/digits-cls;
NNCF runs with its defaults (fast bias correction on) in its two presets, performance
(symmetric activations) and mixed (asymmetric activations). The written models are measured with
irc's evaluator (onnxruntime, top-1 on the 450 validation images), and the quantizable ops
onnxruntime still runs in float are counted (level EXTENDED). NNCF is optional (never a
dependency of irc).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import onnx

from irc.model_runner import open_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from budget_vs_nncf import MODEL, _samples, _stdout_to_stderr, float_ops, top1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    args = ap.parse_args()
    import nncf

    spec = open_model(args.model).inputs[0]
    cx, _ = _samples("calib", spec)
    with tempfile.TemporaryDirectory(prefix="irc-nncf-") as d:
        for preset in ("performance", "mixed"):
            with _stdout_to_stderr():
                q = nncf.quantize(onnx.load(args.model), nncf.Dataset([{spec.name: x} for x in cx]),
                                  subset_size=len(cx),
                                  preset=nncf.QuantizationPreset.MIXED if preset == "mixed"
                                  else nncf.QuantizationPreset.PERFORMANCE)
            ops = float_ops(q)
            print(f"nncf.quantize ({preset}): top-1 {100 * top1(q, Path(d), preset):.2f}%, "
                  f"quantizable ops left float {ops['float']}, int8 kernels {ops['int8']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
