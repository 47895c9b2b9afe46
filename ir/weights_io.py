"""Reading and writing .ir files with their sidecar weights file.

`model.ir` keeps large constants in `model.weights.npz` beside it: a zip of .npy arrays keyed
by weight name, written deterministically (fixed timestamps, sorted names) so the same graph
always gives the same bytes, and atomically (a temporary file, then a rename). Arrays are read
with allow_pickle=False. A graph without weight references writes no sidecar.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .diagnostics import IRError
from .graph import Graph, Weights
from .parser import parse_text
from .printer import print_graph

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def weights_path(ir_path: str | os.PathLike) -> Path:
    p = Path(ir_path)
    stem = p.name[:-3] if p.name.endswith(".ir") else p.name
    return p.with_name(stem + ".weights.npz")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A folder that is missing or not writable, a full disk or a target that is a folder is an
    IRError naming `path`; the target is then unchanged and no temporary file is left.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise IRError(f"{path}: cannot write a file in {path.parent} ({e.strerror or type(e).__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise IRError(f"{path}: cannot write it ({e.strerror or type(e).__name__})") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def encode_weights(weights: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(weights):
            arr = np.asarray(weights[name], order="C")
            npy = io.BytesIO()
            np.lib.format.write_array(npy, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            z.writestr(info, npy.getvalue())
    return buf.getvalue()


def read_weights(path: str | os.PathLike) -> Weights:
    """The arrays of a weights file, never unpickling; a damaged file is one IRError."""
    path = Path(path)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            return Weights({k: z[k] for k in z.files})
    except FileNotFoundError:
        raise IRError(f"{path}: weights file not found") from None
    except Exception as e:  # zipfile, zlib and the .npy header parser fail in many ways on damaged bytes
        raise IRError(f"{path}: not a readable weights file ({type(e).__name__}: {e})") from None


def used_weights(graph: Graph) -> dict[str, np.ndarray]:
    """The weights the graph's constants refer to (unreferenced entries are not saved)."""
    keys = {op.attrs["ref"] for op in graph.walk() if op.name == "const" and op.attrs.get("ref") is not None}
    return {k: graph.weights[k] for k in keys}


def save_ir(graph: Graph, path: str | os.PathLike) -> None:
    """Write `graph` to `path` (text) and its weights beside it, each atomically."""
    path = Path(path)
    weights = used_weights(graph)
    if weights:
        atomic_write_bytes(weights_path(path), encode_weights(weights))
    atomic_write_bytes(path, print_graph(graph).encode())


def load_ir(path: str | os.PathLike) -> Graph:
    """Read a .ir file and its sidecar weights file; every `const @key : T` must find an array
    of type T there (a missing sidecar, a missing key, a wrong dtype or shape is a located error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IRError(f"{path}: file not found") from None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise IRError(f"{path}: not a text .ir file ({e})") from None
    wp = weights_path(path)
    weights = read_weights(wp) if wp.exists() else None
    return parse_text(text, str(path), weights, weights_file=str(wp))
