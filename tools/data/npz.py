"""`.npz` data: one array per model input with a leading sample axis, labels in `labels`.

Arrays stored uncompressed (np.savez) are memory-mapped straight out of the zip file, so a
batch reads only its own rows; compressed members (np.savez_compressed) must be inflated and
are read whole, once. Object arrays are refused (nothing is ever unpickled).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Batch, Dataset, InputSpec

LABELS = "labels"


def _member_array(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """An array member of the npz: a read-only memmap when stored, else the inflated array."""
    where = f"{path}[{info.filename[:-4]}]"
    if info.compress_type == zipfile.ZIP_STORED:
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise IRError(f"{where}: damaged zip entry")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:  # version 3.0 (utf-8 field names) has no public reader
                    # private, but the reader numpy itself uses for 3.0
                    shape, fortran, dtype = np.lib.format._read_array_header(f, version)  # type: ignore[attr-defined]
            except ValueError as e:
                raise IRError(f"{where}: not a valid .npy array: {e}") from None
            offset = f.tell()
        if dtype.hasobject:
            raise IRError(f"{where}: object arrays are not accepted (they would need unpickling)")
        if int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                         order="F" if fortran else "C")
    try:
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as e:
        raise IRError(f"{where}: cannot read array: {e}") from None


class NpzDataset(Dataset):
    kind = "npz"

    def __init__(self, path: str | Path, classes: list[str] | None = None, labels: bool = True) -> None:
        self.path = Path(path)
        self.classes = classes
        try:
            zf = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise IRError(f"data file {self.path} does not exist") from None
        except (OSError, zipfile.BadZipFile) as e:
            raise IRError(f"{self.path}: not a readable .npz file: {e}") from None
        with zf:
            members = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            self.arrays = {i.filename[:-4]: _member_array(self.path, zf, i) for i in members}
        if not self.arrays:
            raise IRError(f"{self.path}: the .npz file holds no arrays")
        self.labels = self.arrays.pop(LABELS, None)
        if not labels:  # read for its inputs only: the labels array is not used, so not checked
            self.labels = None
        if not self.arrays:
            raise IRError(f"{self.path}: the .npz file holds only labels, no input arrays")
        lengths = {k: (a.shape[0] if a.ndim else None) for k, a in self.arrays.items()}
        if self.labels is not None:
            lengths[LABELS] = self.labels.shape[0] if self.labels.ndim else None
        n = next(iter(lengths.values()))
        if n is None or any(v is None for v in lengths.values()) or len(set(lengths.values())) != 1:
            raise IRError(f"{self.path}: every array needs the same leading sample axis; lengths: "
                          + ", ".join(f"{k}={v}" for k, v in lengths.items()))
        self.n: int = n
        if self.n == 0:
            raise IRError(f"{self.path}: the data set is empty (0 samples)")
        if self.labels is not None:
            if self.labels.ndim != 1 or self.labels.dtype.kind not in "iu":
                raise IRError(f"{self.path}: 'labels' must be a 1-d integer array of class indices, "
                              f"got {self.labels.dtype} {list(self.labels.shape)}")
            self.task = "classification"

    def __len__(self) -> int:
        return self.n

    def _array_for(self, spec: InputSpec, inputs: Sequence[InputSpec]) -> tuple[str, np.ndarray]:
        if spec.name in self.arrays:
            return spec.name, self.arrays[spec.name]
        if len(inputs) == 1 and len(self.arrays) == 1:
            # a single unnamed array feeds a single-input model, whatever it is called
            return next(iter(self.arrays.items()))
        raise IRError(f"{self.path}: no array named {spec.name!r} for the model input of that name "
                      f"(arrays in the file: {', '.join(sorted(self.arrays))})")

    def load(self, indices: Sequence[int], inputs: Sequence[InputSpec]) -> Batch:
        idx = np.asarray(indices, dtype=np.int64)
        feed = {}
        for spec in inputs:
            key, arr = self._array_for(spec, inputs)
            rows = np.asarray(arr[idx])
            want = spec.shape[1:]
            if rows.ndim != len(spec.shape) or any(w is not None and w != s for w, s in zip(want, rows.shape[1:])):
                raise IRError(f"{self.path}: array {key!r} has samples of shape {list(arr.shape[1:])} "
                              f"but model input {spec.name!r} expects {['N' if d is None else d for d in spec.shape]}")
            if rows.dtype.kind == "f" or spec.dtype.kind == "f":
                if rows.dtype.kind not in "fiub":
                    raise IRError(f"{self.path}: array {key!r} has dtype {rows.dtype}, not numeric")
                if rows.dtype.kind == "f":
                    finite = np.isfinite(rows.reshape(len(idx), -1)).all(1)
                    if not finite.all():
                        first = int(idx[np.argmin(finite)])
                        raise IRError(f"{self.path}: array {key!r} holds NaN or infinity (sample {first})")
            feed[spec.name] = rows.astype(spec.dtype, copy=False)
        labels = None if self.labels is None else np.asarray(self.labels[idx]).astype(np.int64)
        if labels is not None and self.classes is not None:
            bad = np.nonzero((labels < 0) | (labels >= len(self.classes)))[0]
            if len(bad):
                i = int(bad[0])
                raise IRError(f"{self.path}[{int(idx[i])}]: label {int(labels[i])} is outside the class list "
                              f"({len(self.classes)} classes)")
        return Batch(feed, labels, None, [f"{self.path}[{i}]" for i in idx])
