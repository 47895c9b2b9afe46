"""The variants a model is benchmarked as, and how each one's file is made.

    fp32      the fp32 model, run by onnxruntime (the reference every speedup is against)
    irc       irc.quantize(...) -> its QDQ model, run by onnxruntime
    ort       onnxruntime's own static quantization (ORT's recommended flow: quant_pre_process,
              then quantize_static in QDQ format, per-channel int8 weights, uint8 activations,
              MinMax calibration), run by onnxruntime
    nncf      nncf.quantize (default preset) on the model after quant_pre_process, as for ort,
              run by onnxruntime                                                   [if installed]
    ov-fp32   the fp32 model converted by openvino, run by its CPU plugin in f32    [if installed]
    ov-int8   the OpenVINO model quantized by nncf, run by the CPU plugin           [if installed]

Every quantizer gets the same calibration samples. Files go into the model's work folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from irc.ir.diagnostics import IRError

from .models import BenchModel

ALL_VARIANTS = ("fp32", "irc", "ort", "nncf", "ov-fp32", "ov-int8")
DEFAULT_VARIANTS = ("fp32", "irc", "ort")
REFERENCE = "fp32"
OPTIONAL_MODULES = {"nncf": ("nncf",), "ov-fp32": ("openvino",), "ov-int8": ("openvino", "nncf")}


@dataclass
class Variant:
    """A built variant: its file, the runtime that runs it, and what building it reported."""

    name: str
    path: Path | None = None
    runtime: str = "ort"                 # "ort" or "openvino"
    int8: bool = False
    build_seconds: float = 0.0
    error: str | None = None             # set when building failed; the variant is then skipped
    info: dict = field(default_factory=dict)

    @property
    def file(self) -> Path:
        """The built file (every variant built without an error has one)."""
        if self.path is None:
            raise ValueError(f"variant {self.name} has no file{f' ({self.error})' if self.error else ''}")
        return self.path


def missing_modules(name: str) -> list[str]:
    """Python modules the variant needs that are not importable."""
    return [m for m in OPTIONAL_MODULES.get(name, ()) if importlib.util.find_spec(m) is None]


def default_variants() -> list[str]:
    """fp32, irc, ort, and the NNCF / OpenVINO variants whose packages are installed."""
    extra = [v for v in ("nncf", "ov-fp32", "ov-int8") if not missing_modules(v)]
    return [*DEFAULT_VARIANTS, *extra]


def check_variants(names: list[str]) -> list[str]:
    """The requested variants in table order with fp32 first; errors for unknown or uninstalled ones."""
    unknown = [n for n in names if n not in ALL_VARIANTS]
    if unknown:
        raise IRError(f"unknown variant {unknown[0]!r}; variants: {', '.join(ALL_VARIANTS)}")
    for n in names:
        missing = missing_modules(n)
        if missing:
            raise IRError(f"variant {n!r} needs the Python package {missing[0]!r}, which is not installed")
    return [REFERENCE] + [v for v in ALL_VARIANTS if v in names and v != REFERENCE]


@contextlib.contextmanager
def quiet_logging():
    # onnxruntime.quantization logs advice through the root logger at WARNING; nncf logs through
    # its own logger and draws rich progress bars on stdout, which would land in the tables
    loggers = [logging.getLogger(), logging.getLogger("nncf")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _save(model, path: Path) -> Path:
    from irc.ir.weights_io import atomic_write_bytes

    atomic_write_bytes(path, model.SerializeToString())
    return path


def build_irc(model: BenchModel, folder: Path, calib: dict[str, np.ndarray], quantize: Callable,
              options: dict) -> Variant:
    result = quantize(str(model.fp32_path), calib, **options)
    v = Variant("irc", _save(result.model, folder / "irc.onnx"), int8=True)
    graph = getattr(result, "graph", None)
    if graph is not None:
        v.info["ir_quantized_compute"] = count_ir_quantized_compute(graph)
    return v


def count_ir_quantized_compute(graph) -> int:
    """conv / gemm / matmul ops of a quantized IR graph with a quantized operand or result."""
    compute = {"conv", "conv_transpose", "gemm", "matmul"}
    return sum(1 for op in graph.ops if op.name in compute
               and any(v.type.is_quantized for v in [*op.operands, *op.results]))


def per_sample_feeds(calib: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The calibration data as one feed dict per sample (batch 1)."""
    return [{k: a[i:i + 1] for k, a in calib.items()} for i in range(_count(calib))]


def _count(calib: dict[str, np.ndarray]) -> int:
    return len(next(iter(calib.values())))


def _ort_reader(calib: dict[str, np.ndarray]):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(per_sample_feeds(calib))

        def get_next(self):
            return next(self._it, None)

    return Reader()


def _preprocessed(model: BenchModel, folder: Path, name: str) -> tuple[Path, dict]:
    """onnxruntime's quant_pre_process of the fp32 model (shape inference, BN folding and the
    other ORT graph optimizations that quantizers expect), or the model itself if it fails."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = folder / f"{name}_preprocessed.onnx"
    try:
        with quiet_logging():
            quant_pre_process(str(model.fp32_path), str(pre))
        return pre, {"preprocessed": True}
    except Exception as e:  # pre-processing is best effort; the quantizer then gets the model as is
        return model.fp32_path, {"preprocessed": False, "preprocess_error": f"{type(e).__name__}: {e}"}


def _drop(path: Path, model: BenchModel) -> None:
    if path != model.fp32_path and path.exists():
        path.unlink()


def ort_quantize_static(source: Path, out: Path, calib: dict[str, np.ndarray]) -> None:
    """onnxruntime's quantize_static as the `ort` variant runs it: QDQ, per-channel s8 weights, u8
    activations, MinMax over the calibration samples one at a time."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with quiet_logging():
        quantize_static(str(source), str(out), _ort_reader(calib), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


def build_ort(model: BenchModel, folder: Path, calib: dict[str, np.ndarray]) -> Variant:
    source, info = _preprocessed(model, folder, "ort")
    out = folder / "ort.onnx"
    try:
        ort_quantize_static(source, out, calib)
    finally:
        _drop(source, model)
    return Variant("ort", out, int8=True, info=info)


def build_ort_dynamic(fp32_path: Path, out: Path) -> dict:
    """onnxruntime's quantize_dynamic with its defaults (s8 weights per tensor, IntegerOps) on the
    fp32 model as it is; returns what it did."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_logging():
        quantize_dynamic(str(fp32_path), str(out), weight_type=QuantType.QInt8)
    return {"weight_type": "QInt8"}


def _nncf_dataset(calib: dict[str, np.ndarray]):
    import nncf

    return nncf.Dataset(per_sample_feeds(calib))


def build_nncf(model: BenchModel, folder: Path, calib: dict[str, np.ndarray]) -> Variant:
    """nncf.quantize (default preset) on the same pre-processed model the ort variant starts from:
    without BN folding NNCF's Q/DQ land where onnxruntime cannot fuse them."""
    import nncf
    import onnx

    source, info = _preprocessed(model, folder, "nncf")
    try:
        with quiet_logging():
            q = nncf.quantize(onnx.load(str(source)), _nncf_dataset(calib), subset_size=_count(calib))
    finally:
        _drop(source, model)
    return Variant("nncf", _save(q, folder / "nncf.onnx"), int8=True, info=info)


def build_ov(model: BenchModel, folder: Path, calib: dict[str, np.ndarray], int8: bool) -> Variant:
    import openvino as ov

    ov_model = ov.convert_model(str(model.fp32_path))
    if int8:
        import nncf

        with quiet_logging():
            ov_model = nncf.quantize(ov_model, _nncf_dataset(calib), subset_size=_count(calib))
    name = "ov-int8" if int8 else "ov-fp32"
    path = folder / f"{name}.xml"
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return Variant(name, path, runtime="openvino", int8=int8)


def build_variant(name: str, model: BenchModel, folder: Path, calib: dict[str, np.ndarray],
                  quantize: Callable | None, quantize_options: dict) -> Variant:
    """Build one variant; a failure is recorded in Variant.error rather than raised."""
    t0 = time.perf_counter()
    try:
        if name == "fp32":
            v = Variant("fp32", model.fp32_path)
        elif name == "irc":
            if quantize is None:
                raise ValueError("the irc variant needs a quantizer (run_bench passes irc.quantize)")
            v = build_irc(model, folder, calib, quantize, quantize_options)
        elif name == "ort":
            v = build_ort(model, folder, calib)
        elif name == "nncf":
            v = build_nncf(model, folder, calib)
        elif name in ("ov-fp32", "ov-int8"):
            v = build_ov(model, folder, calib, int8=name == "ov-int8")
        else:
            raise ValueError(name)
    except Exception as e:  # one failing quantizer must not end a many-model benchmark
        v = Variant(name, error=f"{type(e).__name__}: {e}")
    v.build_seconds = time.perf_counter() - t0
    return v
