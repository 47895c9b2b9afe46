"""How much a plain full-int8 quantization by onnxruntime costs each example classifier.

    python scripts/train/ort_int8_baseline.py [--models examples/models/digits_*.onnx] [--json]

For each model: onnxruntime.quantization.quantize_static with QDQ format, per-channel int8
weights, uint8 activations, MinMax calibration on examples/data/digits-cls/calib (all 300
images), every op quantized; then top-1 of the fp32 and the int8 model on
examples/data/digits-cls/val, both measured by irc's evaluator. The int8 files go to a
temporary folder (or --keep DIR). Needs only the runtime dependencies (no torch).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)

from irc.data import Preprocess, calibration_batches, open_dataset
from irc.evaluation import evaluate
from irc.model_runner import open_model

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data" / "digits-cls"
PRE = Preprocess(channels="GRAY", scale=1.0, mean=(0.5,), std=(0.5,))


class Reader(CalibrationDataReader):
    """Feeds the calibration split to onnxruntime's calibrator through irc.data."""

    def __init__(self, model: Path) -> None:
        spec = open_model(model).inputs[0]
        self.it = calibration_batches(DATA / "calib", spec.name, spec.shape, batch_size=32, limit=None,
                                      preprocess=PRE)

    def get_next(self):
        return next(self.it, None)


def measure(model: Path, out_dir: Path) -> dict:
    q = out_dir / (model.stem + ".ort-int8.onnx")
    quantize_static(str(model), str(q), Reader(model), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    ds = open_dataset(DATA / "val", preprocess=PRE)
    fp32 = evaluate(model, ds, ["top1"], progress=False).values["top1"]
    ds = open_dataset(DATA / "val", preprocess=PRE)
    int8 = evaluate(q, ds, ["top1"], progress=False).values["top1"]
    return {"model": model.name, "fp32_top1": fp32, "ort_int8_top1": int8, "drop_points": 100 * (fp32 - int8)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", type=Path,
                    default=sorted((REPO / "examples" / "models").glob("digits_[!s]*.onnx")))
    ap.add_argument("--keep", type=Path, help="keep the int8 models in this folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = [measure(m, out) for m in args.models]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return
    print(f"{'model':<34} {'fp32 top-1':>10} {'ORT int8':>10} {'drop (points)':>14}")
    for r in rows:
        print(f"{r['model']:<34} {100 * r['fp32_top1']:>9.2f}% {100 * r['ort_int8_top1']:>9.2f}% "
              f"{r['drop_points']:>14.2f}")


if __name__ == "__main__":
    main()
