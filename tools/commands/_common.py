"""Helpers the subcommands share: input/output path rules, npz reading, model loading."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from irc.ir.diagnostics import IRError


def check_output(output: str, *inputs: str) -> Path:
    """An output path must not be one of the inputs (or their weights sidecar) and its folder must exist."""
    from irc.ir.weights_io import weights_path

    out = Path(output)
    if not out.parent.exists() and str(out.parent) not in ("", "."):
        raise IRError(f"{output}: folder {out.parent} does not exist")
    if out.exists() and out.is_dir():
        raise IRError(f"{output}: is a folder, not a file")
    protected = []
    for i in inputs:
        if i:
            protected.append(Path(i))
            if str(i).endswith(".ir"):
                protected.append(weights_path(i))
    outs = [out, weights_path(out)] if str(out).endswith(".ir") else [out]
    for o in outs:
        for p in protected:
            if o.exists() and p.exists() and os.path.samefile(o, p):
                raise IRError(f"{output}: writing there would overwrite the input {p}; choose another output")
    return out


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


def load_graph(path: str):
    """A graph from a .ir file, or imported from an .onnx file."""
    if str(path).endswith(".onnx"):
        from irc.backends.onnx import import_onnx

        return import_onnx(path)
    from irc.ir import load_ir

    return load_ir(path)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import io

    from irc.ir.weights_io import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **arrays)
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
