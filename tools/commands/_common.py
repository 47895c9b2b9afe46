"""Helpers the subcommands share: npz reading and writing, rejected outputs (path rules: _paths.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from irc.ir.diagnostics import IRError


def read_npz(path: str, what: str = "inputs") -> dict[str, np.ndarray]:
    """Arrays of an .npz file, never unpickling."""
    p = Path(path)
    if not p.is_file():
        raise IRError(f"{path}: {what} file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        raise IRError(f"{path}: cannot read {what} ({e})") from None
    except Exception as e:
        raise IRError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import io

    from irc.ir.weights_io import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # the keywords are array names (none is allow_pickle)
    atomic_write_bytes(path, buf.getvalue())


def rejected_path(out: Path) -> Path:
    """Where a model onnxruntime refuses is kept for a bug report: out.int8.onnx -> out.int8.rejected.onnx."""
    return out.with_name(f"{out.stem}.rejected{out.suffix or '.onnx'}")


def keep_rejected(error, out: Path) -> IRError:
    """Write the refused model beside `out` (never at `out`) and return the error to report."""
    from irc.backends.onnx import save_onnx

    keep = rejected_path(out)
    save_onnx(error.model, keep)
    return IRError(f"{error}\nnothing was written to {out}; the refused model is kept as {keep} for a bug report")
