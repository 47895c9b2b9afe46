"""The graph verifier.

A graph is valid when:
  - every op kind is registered, has a legal operand count and only declared attributes of the
    declared kinds, with every required attribute present;
  - every operand is a graph input or the result of an earlier op (defs before uses), and every
    graph output is defined;
  - every op's result types fit what its type rule infers from its operands (shapes compatible
    dimension by dimension, the same expressed element type: a quantized result stands for f32);
  - op-specific rules hold (the `verify` hook of the declaration);
  - every `const @ref` names an entry of the weights store whose dtype and shape fit its type;
  - the graphs nested in generic ops are valid on their own (they read only their own inputs and
    values), and take the op's captured operands as their last inputs (ir/generic.py).
"""

from __future__ import annotations

from .generic import GenericOpDef, captures, regions
from .graph import Graph
from .op import Op
from .registry import VerifyError, expressed, get_op
from .types import QuantType, TensorType, dims_compatible, types_compatible


def _types_fit(declared: TensorType, inferred: TensorType, keeps_params: bool) -> bool:
    """Same rank, compatible dims, and the same expressed element type; a data-movement op
    (`keeps_params`) whose type rule gives a quantized element must have exactly that one."""
    if keeps_params and isinstance(inferred.element, QuantType) and declared.element != inferred.element:
        return False
    return (declared.rank == inferred.rank
            and all(dims_compatible(a, b) for a, b in zip(declared.dims, inferred.dims))
            and expressed(declared.element) == expressed(inferred.element))


def verify_op(op: Op, graph: Graph | None = None) -> None:
    """Check one op against its declaration (raises VerifyError without location)."""
    defn = get_op(op.name)
    types = [v.type for v in op.operands]
    if not isinstance(defn, GenericOpDef):
        others = [str(t) for t in [*types, *(r.type for r in op.results)] if not isinstance(t, TensorType)]
        if others:
            raise VerifyError(f"{op.name} takes and gives tensors, not {others[0]} (only generic ops "
                              "handle ONNX's sequences, optionals and maps)")
    defn.check_arity(len(types))
    defn.normalize_attrs(op.attrs)
    inferred = defn.infer_types(types, op.attrs)
    if op.name == "const":
        _verify_const(op, graph)
    for sub in regions(op):
        _verify_region(op, sub)
    if not inferred:
        return
    if len(inferred) != len(op.results):
        raise VerifyError(f"{op.name} has {len(inferred)} results, {len(op.results)} declared")
    for i, (r, t) in enumerate(zip(op.results, inferred)):
        if not _types_fit(r.type, t, "data_movement" in defn.traits):
            which = f"result {i}" if len(op.results) > 1 else "result"
            raise VerifyError(f"{op.name} {which} is declared {r.type} but its operands give {t}")


def _verify_region(op: Op, sub: Graph) -> None:
    n = captures(op)
    if len(sub.inputs) < n:
        raise VerifyError(f"nested graph @{sub.name} has {len(sub.inputs)} inputs, fewer than the "
                          f"{n} values the op passes it")
    passed = op.operands[len(op.operands) - n:] if n else []
    for v, arg in zip(passed, sub.inputs[len(sub.inputs) - n:]):
        if not types_compatible(v.type, arg.type):
            raise VerifyError(f"nested graph @{sub.name} takes %{arg.name} as {arg.type} but the op "
                              f"passes %{v.name}: {v.type}")
    try:
        verify_graph(sub)
    except VerifyError as e:
        raise VerifyError(f"in nested graph @{sub.name}: {e}") from None


def _verify_const(op: Op, graph: Graph | None) -> None:
    t = op.results[0].type
    if op.attrs.get("ref") is not None:
        if graph is None or not graph.weights:
            return
        key = op.attrs["ref"]
        if key not in graph.weights:
            raise VerifyError(f"const @{key} is not in the weights store")
        arr = graph.weights[key]
    else:
        arr = op.attrs["value"]
    if arr.dtype != t.dtype:
        raise VerifyError(f"const holds {arr.dtype} data but is typed {t}")
    if not t.is_static or tuple(arr.shape) != t.static_shape():
        raise VerifyError(f"const holds an array of shape {list(arr.shape)} but is typed {t}")


def verify_graph(graph: Graph) -> None:
    """Check the whole graph; errors say which op (by its printed name) broke which rule."""
    defined: set[int] = {id(v) for v in graph.inputs}
    for op in graph.ops:
        for i, v in enumerate(op.operands):
            if id(v) not in defined:
                raise VerifyError(f"{op.name} {op.label}: operand {i} (%{v.name}) is used before it is defined")
        try:
            verify_op(op, graph)
        except VerifyError as e:
            raise VerifyError(f"{op.name} {op.label}: {e}") from None
        for r in op.results:
            if id(r) in defined:
                raise VerifyError(f"{op.name} {op.label}: result defined twice")
            defined.add(id(r))
    for i, v in enumerate(graph.outputs):
        if id(v) not in defined:
            raise VerifyError(f"graph output {i} (%{v.name}) is not defined")
