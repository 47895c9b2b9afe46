"""Importing an ONNX model as users mean it: the node-for-node import, then QDQ groups fused.

`irc.backends.onnx.import_onnx` lowers node for node. A model that is already quantized (QDQ from
onnxruntime's quantizer, a quantization-aware export, irc's own output) then holds float ops
between DequantizeLinear and QuantizeLinear; the `fuse-qdq` pass turns each such group into the
int8 op it stands for (passes/fuse_qdq.py), which is what `irc import`, `irc.quantize` and the
backend API read.
"""

from __future__ import annotations

import os

import onnx

from irc.backends.onnx.importer import import_onnx as import_nodes
from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.ir.registry import VerifyError
from irc.ir.verifier import verify_graph
from irc.passes.fuse_qdq import fuse_qdq_groups


def import_onnx(source: str | os.PathLike | onnx.ModelProto, name: str = "main",
                input_shapes: dict | None = None, fuse_qdq: bool = True) -> Graph:
    """The verified IR graph of an ONNX model (path or ModelProto); `input_shapes` ({input name:
    dims}) fixes input dims first; with `fuse_qdq`, DequantizeLinear -> op -> QuantizeLinear
    groups become int8 ops."""
    graph = import_nodes(source, name, input_shapes)
    if fuse_qdq:
        fuse_qdq_groups(graph)
        try:
            verify_graph(graph)
        except VerifyError as e:
            raise IRError(f"the imported graph does not verify after fusing its QDQ groups: {e}") from None
    return graph
