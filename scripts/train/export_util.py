"""Export a trained torch module to a single small ONNX file (opset 13, dynamic batch axis)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import onnx
import torch

PLAIN_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "Concat", "GlobalAveragePool",
             "Gemm", "MatMul", "Reshape", "Flatten", "MaxPool", "AveragePool", "Softmax", "Sigmoid",
             "Transpose", "Constant"}


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, output_names: list[str]) -> onnx.ModelProto:
    """Export with the TorchScript-based exporter into memory, check it, write it atomically.

    The exporter writes into a BytesIO, so it cannot spill weights into external data files; the
    check below makes sure no initializer refers to one anyway.
    """
    model.eval()
    buf = io.BytesIO()
    axes = {name: {0: "N"} for name in ["input", *output_names]}
    torch.onnx.export(model, (example,), buf, dynamo=False, opset_version=13, input_names=["input"],
                      output_names=output_names, dynamic_axes=axes, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError(f"initializer {init.name} uses external data")
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    if ops - PLAIN_OPS:
        raise RuntimeError(f"unexpected ONNX ops {sorted(ops - PLAIN_OPS)}")
    proto.producer_name = "irc-examples"
    proto.producer_version = ""
    data = proto.SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files
    os.replace(tmp, path)
    return proto
