"""Converters of the core ops. (ONNX Identity and Dropout import as aliases of their input.)"""

from __future__ import annotations

from ..registry import exporter


@exporter("identity")
def export_identity(ctx, op):
    ctx.node("Identity", op.operands, op.results)
