"""ONNX in and out: the importer (ONNX -> IR) and the exporters (IR -> ONNX)."""

from .exporter import export_onnx, save_onnx
from .importer import import_onnx, load_onnx

from . import ops as _ops  # noqa: F401  (registers the op converters on import)

__all__ = ["export_onnx", "import_onnx", "load_onnx", "save_onnx"]
