"""Model files: which format a path holds, and loading it as a graph.

    graph, size = load_model("model.onnx")      # or "model.ir", an onnx.ModelProto, a Graph

The rule (specs/cli.md, "Model files"): the suffix names the format, in any case: `.onnx` an
ONNX model, `.ir` irc's text IR (with its weights sidecar). A path with neither suffix is an
error; the content is not guessed at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping

import onnx

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph


def model_format(path: str | os.PathLike) -> Literal["onnx", "ir"]:
    """The format a model path names by its suffix; IRError for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".ir":
        return "ir"
    raise IRError(f"{path}: unknown model format (expected .onnx or .ir)")


def load_model(model: Any, input_shapes: Mapping | None = None) -> tuple[Graph, int | None]:
    """(graph, size in bytes of the source ONNX model) from a path (.onnx or .ir), an
    onnx.ModelProto or a Graph; `input_shapes` fixes an ONNX model's input dims before import."""
    from irc.onnx_import import import_onnx

    shapes = dict(input_shapes) if input_shapes else None
    if isinstance(model, Graph):
        if input_shapes:
            raise IRError("input shapes can be fixed for ONNX models only (an IR graph's types are its own)")
        return model, None
    if isinstance(model, onnx.ModelProto):
        return import_onnx(model, input_shapes=shapes), model.ByteSize()
    path = Path(model)
    if model_format(path) == "ir":
        if input_shapes:
            raise IRError("input shapes can be fixed for ONNX models only (an IR graph's types are its own)")
        from irc.ir import load_ir

        return load_ir(path), None
    size = path.stat().st_size if path.is_file() else None
    return import_onnx(path, input_shapes=shapes), size
