"""Bring an old (opset 9, Caffe2-era) light model into the shape a modern exporter writes.

    model = modernize(realistic_light_model("resnet50"))

Quantizers such as onnxruntime's quantize_static expect what a current exporter emits; the light
files differ in ways that are artifacts of their age, not of the networks:

  * Dropout nodes (inference no-ops) are removed, their readers read Dropout's input;
  * a 2-input `Sum` becomes `Add`;
  * a Reshape or Unsqueeze of an initializer by constant arguments (a weight reshaped at run
    time) is folded into a new initializer;
  * the batch dimension becomes symbolic (`N`) on the input and the outputs, and Reshape targets
    that pin it to 1 say 0 ("keep the input's dimension") instead; stale value_info is dropped;
  * the opset is upgraded to 13 with onnx.version_converter.

No other simplification is made; onnxruntime does the rest of its graph optimization itself.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper, version_converter

TARGET_OPSET = 13


def _rewire(graph: onnx.GraphProto, old: str, new: str) -> None:
    for n in graph.node:
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = new


def _drop_dropout(graph: onnx.GraphProto) -> None:
    keep = []
    outputs = {o.name for o in graph.output}
    for n in graph.node:
        if n.op_type == "Dropout" and n.output[0] not in outputs:
            _rewire(graph, n.output[0], n.input[0])
        else:
            keep.append(n)
    del graph.node[:]
    graph.node.extend(keep)


def _sum_to_add(graph: onnx.GraphProto) -> None:
    for n in graph.node:
        if n.op_type == "Sum" and len(n.input) == 2:
            n.op_type = "Add"


def _fold_constant_reshapes(graph: onnx.GraphProto) -> None:
    inits = {t.name: t for t in graph.initializer}
    keep = []
    for n in graph.node:
        data = inits.get(n.input[0]) if n.input else None
        if data is not None and n.op_type == "Reshape" and n.input[1] in inits:
            arr = numpy_helper.to_array(data)
            shape = numpy_helper.to_array(inits[n.input[1]])
            # 0 copies the input dimension (opset < 14 has no allowzero)
            dims = [arr.shape[i] if s == 0 else int(s) for i, s in enumerate(shape)]
            folded = arr.reshape(dims)
        elif data is not None and n.op_type == "Unsqueeze" and len(n.input) == 1:
            axes = next(a.ints for a in n.attribute if a.name == "axes")
            folded = numpy_helper.to_array(data)
            for ax in sorted(axes):
                folded = np.expand_dims(folded, ax)
        else:
            keep.append(n)
            continue
        t = numpy_helper.from_array(folded, n.output[0])
        graph.initializer.append(t)
        inits[t.name] = t
    del graph.node[:]
    graph.node.extend(keep)
    used = {i for n in graph.node for i in n.input}
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)


def _dynamic_batch(graph: onnx.GraphProto) -> None:
    for vi in list(graph.input) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "N"
    inits = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Reshape" and n.input[1] in inits and n.input[0] not in inits:
            t = inits[n.input[1]]
            shape = numpy_helper.to_array(t).copy()
            if shape.size and shape[0] == 1:
                shape[0] = 0
                t.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), t.name))
    del graph.value_info[:]


def modernize(model: onnx.ModelProto) -> onnx.ModelProto:
    """A cleaned copy of `model` (see the module docstring); the input is not changed."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    _drop_dropout(g)
    _sum_to_add(g)
    _fold_constant_reshapes(g)
    _dynamic_batch(g)
    opset = max((o.version for o in out.opset_import if o.domain in ("", "ai.onnx")), default=TARGET_OPSET)
    if opset < TARGET_OPSET:
        out = version_converter.convert_version(out, TARGET_OPSET)
    out.ir_version = max(out.ir_version, 7)
    return out
