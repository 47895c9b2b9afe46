"""Shape and element rules shared by op declarations."""

from __future__ import annotations

from typing import Callable, Sequence

from ..registry import Signature, VerifyError
from ..types import Dim, Element, TensorType


def same_as(key: str) -> Callable[[Signature], list[TensorType]]:
    """The result has the type of operand `key`."""
    return lambda s: [s[key]]


def broadcast_dims(shapes: Sequence[Sequence[Dim]]) -> tuple[Dim, ...]:
    """numpy/ONNX multidirectional broadcasting of shapes whose dims may be symbolic."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d != 1}
        if not known:
            out.append(1)
        elif len(known) == 1:
            out.append(known.pop())
        else:
            ints = {d for d in known if isinstance(d, int)}
            if len(ints) > 1:
                raise VerifyError(f"shapes {' and '.join(_fmt(s) for s in shapes)} do not broadcast")
            out.append(ints.pop() if ints else None)
    return tuple(out)


def _fmt(shape: Sequence[Dim]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise VerifyError(f"{what} {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def same_element(sig: Signature, keys: Sequence[str] | None = None) -> Element:
    """Check the named operands (default: all) share an element type; return it."""
    types = [sig[k] for k in keys] if keys is not None else sig.types
    from ..registry import expressed

    elems = {expressed(t.element) for t in types}
    if len(elems) > 1:
        raise VerifyError(f"{sig.defn.name}: operands must share an element type, got {', '.join(sorted(elems))}")
    return types[0].element if types else "f32"
