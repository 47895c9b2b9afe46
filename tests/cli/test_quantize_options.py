"""QuantizeOptions: the settings of irc quantize / irc.quantize, and the pipeline built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import irc
from irc.ir.diagnostics import IRError
from irc.passes import parse_pipeline
from irc.quantize_options import BudgetOptions, QuantizeOptions


@pytest.mark.parametrize("options, calibrated, text", [
    (QuantizeOptions(), True,
     "fold,fuse,dce,smooth{batch-size=16},calibrate{method=minmax activations=u8 batch-size=32},"
     "quantize{activations=u8 per-channel=true}"),
    (QuantizeOptions(method="percentile", activations="i8", per_channel=False, samples=100, batch_size=8,
                     skip=("conv", "gemm"), equalize=True, bias_correct=True), True,
     "fold,fuse,dce,equalize,smooth{batch-size=8 samples=64},"
     "calibrate{method=percentile activations=i8 batch-size=8 samples=100},"
     "bias-correct{activations=i8 per-channel=false batch-size=8 samples=100},"
     "quantize{activations=i8 per-channel=false skip=conv,gemm}"),
    (QuantizeOptions(mode="dynamic"), True, "fold,fuse,dce,smooth{batch-size=16},quantize{mode=dynamic per-channel=true}"),
    (QuantizeOptions(mode="dynamic", skip=("matmul",)), False, "fold,fuse,dce,quantize{mode=dynamic skip=matmul}"),
    (QuantizeOptions(pipeline="fold,calibrate,quantize"), True, "fold,calibrate,quantize"),
])
def test_the_passes_are_the_pipeline_specs_pipeline_md_writes(options, calibrated, text):
    assert options.passes(calibrated) == parse_pipeline(text).instantiate()


def test_keywords_make_the_same_options():
    o = QuantizeOptions.from_keywords(method="mse", skip=["conv"], val="val.npz", max_drop="1%", val_limit=50)
    assert o == QuantizeOptions(method="mse", skip=("conv",),
                                budget=BudgetOptions(val="val.npz", max_drop="1%", val_limit=50))
    # budget settings without val or max_drop ask for no budget
    assert QuantizeOptions.from_keywords(metric="top1").budget is None


def test_bad_settings_are_one_message():
    with pytest.raises(IRError, match=r"^method must be 'minmax', 'percentile', 'entropy', 'mse' or 'auto', "
                                      r"got 'bogus'$"):
        QuantizeOptions(method="bogus")  # type: ignore[arg-type]
    with pytest.raises(IRError, match=r"^mode must be 'static' or 'dynamic', got 'fast'$"):
        QuantizeOptions.from_keywords(mode="fast")
    with pytest.raises(IRError, match=r"^batch_size must be at least 1, got 0$"):
        QuantizeOptions(batch_size=0)
    with pytest.raises(TypeError, match="unknown setting per_tensor; its settings: activations, "):
        QuantizeOptions.from_keywords(per_tensor=True)


def test_quantize_takes_options_or_keywords():
    model = Path(__file__).resolve().parents[2] / "examples" / "models" / "digits_resnet.onnx"
    calib = {"input": np.random.default_rng(0).standard_normal((8, 1, 32, 32)).astype(np.float32)}
    a = irc.quantize(model, calib, irc.QuantizeOptions(activations="i8", batch_size=4))
    b = irc.quantize(model, calib, activations="i8", batch_size=4)
    assert a.model.SerializeToString() == b.model.SerializeToString()
    with pytest.raises(TypeError, match="options or as keywords, not both"):
        irc.quantize(model, calib, irc.QuantizeOptions(), batch_size=4)
