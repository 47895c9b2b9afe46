"""One-node ONNX models checked end to end against onnxruntime.

    check_node("Conv", {"x": x, "w": w}, {"pads": [1, 1, 1, 1]}, constants=("w",))

builds a model with one node (inputs named in order; names in `constants` become initializers),
then checks that
  1. irc imports it and the imported graph verifies,
  2. the numpy interpreter matches onnxruntime on the inputs (rtol/atol),
  3. the text form round-trips: print(parse(print(g))) == print(g),
  4. the exported ONNX passes onnx.checker and onnxruntime on it matches onnxruntime on the
     original.
Returns the imported graph for further checks.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import export_onnx, import_onnx
from irc.ir import parse_text, print_graph

OPSET = 21


def make_node_model(op_type: str, inputs: dict[str, np.ndarray | None], attrs: dict[str, Any] | None = None,
                    n_outputs: int = 1, constants: Sequence[str] = (), opset: int = OPSET,
                    domain: str = "", symbolic_batch: bool = False) -> onnx.ModelProto:
    """A model with one node. An input given as None is an absent optional input ('')."""
    names = [n if a is not None else "" for n, a in inputs.items()]
    while names and names[-1] == "":  # trailing absent inputs are left out, not written as ""
        names.pop()
    outs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outs, domain=domain or None, **(attrs or {}))
    graph_inputs, inits = [], []
    for n, a in inputs.items():
        if a is None:
            continue
        if n in constants:
            inits.append(numpy_helper.from_array(a, n))
        else:
            shape = list(a.shape)
            if symbolic_batch and shape:
                shape[0] = "N"
            graph_inputs.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), shape))
    outputs = [onnx.ValueInfoProto(name=o) for o in outs]
    g = helper.make_graph([node], "g", graph_inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    # output types come from onnx's shape inference
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    typed = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for o in m.graph.output:
        if o.name in typed and typed[o.name].type.HasField("tensor_type"):
            o.type.CopyFrom(typed[o.name].type)
    return m


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_model(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol: float = 1e-5,
                atol: float = 1e-6):
    """Steps 1-4 of the module docstring on any model; returns the imported graph."""
    expected = run_ort(model, feeds)
    graph = import_onnx(model)
    got = run_graph(graph, feeds)
    for v, e in zip(graph.outputs, expected):
        assert_close(got[v.name], e, rtol, atol, f"interpreter output {v.name}")
    text = print_graph(graph)
    assert print_graph(parse_text(text)) == text
    exported = export_onnx(graph)
    if all(v.type.is_ranked for v in graph.outputs):  # onnx's checker wants a shape on every output
        onnx.checker.check_model(exported, full_check=True)
    again = run_ort(exported, feeds)
    for a, e in zip(again, expected):
        assert_close(a, e, rtol, atol, "onnxruntime on the exported model")
    return graph


def check_node(op_type: str, inputs: dict[str, np.ndarray | None], attrs: dict[str, Any] | None = None,
               n_outputs: int = 1, constants: Sequence[str] = (), rtol: float = 1e-5, atol: float = 1e-6,
               opset: int = OPSET, symbolic_batch: bool = False):
    model = make_node_model(op_type, inputs, attrs, n_outputs, constants, opset, symbolic_batch=symbolic_batch)
    feeds = {n: a for n, a in inputs.items() if a is not None and n not in constants}
    return check_model(model, feeds, rtol, atol)


def check_generic(model: onnx.ModelProto, feeds: dict[str, np.ndarray], op_type: str, why: str,
                  rtol: float = 1e-5, atol: float = 1e-6):
    """A node that declared ops cannot express imports as one generic op of `op_type`, with `why`
    in the import notes, and runs and exports as check_model checks; returns the graph."""
    graph = check_model(model, feeds, rtol, atol)
    generic = [op for op in graph.ops if op.name == f"onnx.{op_type}"]
    assert len(generic) == 1, [op.name for op in graph.ops]
    assert any(why in note for note in graph.import_notes), graph.import_notes
    return graph
