"""Specializing a model's input shapes before import (`--input-shape name=1x3x640x640`).

Fixing the dims of the graph inputs lets onnx's shape inference make the shapes the model
computes at run time static, so import folds the shape code (Shape -> Gather -> Concat ->
Reshape) into constants and the ops that read it become declared ops with attributes.

A shape is written DIMxDIMx... where a dim is a size, `?` (unknown) or a name (symbolic); the
input it applies to is named `name=SHAPE`, or left out when the model has one input.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import onnx

from irc.ir.diagnostics import IRError
from irc.ir.types import Dim

_DIM = re.compile(r"\d+|\?|[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_shape(text: str, what: str = "--input-shape") -> tuple[Dim, ...]:
    """'1x3x?xN' -> (1, 3, None, 'N'); a scalar is ''."""
    if text == "":
        return ()
    dims: list[Dim] = []
    for part in text.split("x"):
        if not _DIM.fullmatch(part):
            raise IRError(f"{what}: {text!r} is not a shape like 1x3x224x224 (dims are sizes, ? or names)")
        dims.append(None if part == "?" else int(part) if part.isdigit() else part)
    return tuple(dims)


def parse_input_shapes(specs: Sequence[str]) -> dict[str | None, tuple[Dim, ...]]:
    """Command-line values (each 'name=SHAPE[,name=SHAPE...]' or a bare SHAPE) as {name: dims}."""
    out: dict[str | None, tuple[Dim, ...]] = {}
    for spec in specs:
        for item in spec.split(","):
            name, sep, shape = item.rpartition("=")
            key = name if sep else None
            if key in out:
                raise IRError(f"--input-shape gives {'input ' + repr(key) if key else 'the input'} twice")
            out[key] = parse_shape(shape)
    return out


def specialize_inputs(model: onnx.ModelProto, shapes: Mapping[str | None, Sequence[Dim]]) -> onnx.ModelProto:
    """A copy of `model` whose graph inputs have the given dims (a None key: the only input).
    The new dims must fit the declared ones (same rank, equal fixed sizes)."""
    if not shapes:
        return model
    shapes = {k: parse_shape(v) if isinstance(v, str) else tuple(v) for k, v in shapes.items()}
    inits = {t.name for t in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in inits]
    names = [vi.name for vi in inputs]
    if None in shapes:
        if len(inputs) != 1 or len(shapes) > 1:
            raise IRError(f"--input-shape without a name needs a model with one input; this one has "
                          f"{', '.join(map(repr, names))}: write name=SHAPE")
        shapes = {names[0]: shapes[None]}
    unknown = [n for n in shapes if n not in names]
    if unknown:
        raise IRError(f"--input-shape names {', '.join(map(repr, unknown))}, which the model has no input of "
                      f"(its inputs: {', '.join(map(repr, names))})")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for vi in out.graph.input:
        if vi.name not in shapes:
            continue
        dims = list(shapes[vi.name])
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            old = list(tt.shape.dim)
            if len(old) != len(dims):
                raise IRError(f"--input-shape {vi.name}: {len(dims)} dims for an input of rank {len(old)}")
            for i, (d, new) in enumerate(zip(old, dims)):
                if d.HasField("dim_value") and d.dim_value > 0 and isinstance(new, int) and new != d.dim_value:
                    raise IRError(f"--input-shape {vi.name}: dim {i} is {d.dim_value} in the model, not {new}")
        tt.ClearField("shape")
        shape = tt.shape
        for new in dims:
            d = shape.dim.add()
            if isinstance(new, int):
                d.dim_value = new
            elif isinstance(new, str):
                d.dim_param = new
    # inferred shapes stored in the file were derived from the old input shapes
    del out.graph.value_info[:]
    return out
