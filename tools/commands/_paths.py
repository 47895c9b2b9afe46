"""The files a command reads and writes, and the rule that they never meet.

Each command describes its files before it does any work:

    files = FilePlan()
    files.read_model("the input model", args.model)       # + its weights sidecar / external data
    files.read("the calibration data (--calib)", args.calib)
    out = files.write_ir("the output (-o)", args.output)   # + the sidecar the output will get
    files.check()

`check` resolves links and compares every path to be written (outputs, their weights sidecars,
a report and its JSON twin, folders a command fills) with every path read (models, their sidecars
and external data, data files and folders, preprocessing and settings files, plugin and metric
modules) and with the other paths to be written. A path that names a read file, lies inside a
read folder, or holds a read file inside a folder to be written is refused with one IRError
naming both sides; so are two outputs on one path, and an output whose folder is missing, is not
writable, or which is itself a folder.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from irc.ir.diagnostics import IRError


@dataclass(frozen=True)
class _Entry:
    what: str
    """How the message names the file: "the output (-o)", "the weights file of the input model"."""
    path: Path
    """As the user spelled it (or derived from that)."""
    folder: bool = False
    """A folder: everything inside it counts as read (or written)."""

    @property
    def real(self) -> Path:
        return Path(os.path.realpath(self.path))

    def describe(self) -> str:
        return f"{self.what} {self.path}"


def _same(a: _Entry, b: _Entry) -> bool:
    if a.real == b.real:
        return True
    try:  # hard links, case-insensitive file systems
        return a.path.exists() and b.path.exists() and os.path.samefile(a.path, b.path)
    except OSError:
        return False


def _inside(inner: _Entry, outer: _Entry) -> bool:
    return outer.folder and outer.real in inner.real.parents


class FilePlan:
    """What one command run will read and write; `check()` enforces that the two stay apart."""

    def __init__(self) -> None:
        self.reads: list[_Entry] = []
        self.writes: list[_Entry] = []

    # -- reads --------------------------------------------------------------------------------
    def read(self, what: str, path: str | os.PathLike | None) -> None:
        """A file or folder the command reads (None: the option was not given)."""
        if path is None or str(path) in ("", "-"):
            return
        p = Path(path)
        self.reads.append(_Entry(what, p, folder=p.is_dir()))

    def read_model(self, what: str, path: str | os.PathLike | None) -> None:
        """A model: an .ir with its weights sidecar, or an .onnx with its external data files."""
        if path is None:
            return
        from irc.ir.weights_io import weights_path

        self.read(what, path)
        p = Path(path)
        if p.suffix.lower() == ".onnx":
            for ext in _external_data_files(p):
                self.read(f"external data of {what}", ext)
        elif p.suffix.lower() == ".ir":
            self.read(f"the weights file of {what}", weights_path(p))

    def read_module(self, what: str, spec: str | None) -> None:
        """A plugin or metric module: a .py path or an importable name, optionally `:attribute`
        (a dotted name is not looked up: that would import its package before the check)."""
        if not spec:
            return
        name = spec.rpartition(":")[0] if ":" in spec and not os.path.exists(spec) else spec
        if name.endswith(".py") or os.path.exists(name) or "/" in name:
            self.read(what, name)
            return
        if "." in name:  # finding a submodule would import its package: user code, before the check
            return
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # an unknown module is reported when it is loaded
            return
        if found is not None and found.origin and os.path.isfile(found.origin):
            self.read(what, found.origin)

    # -- writes -------------------------------------------------------------------------------
    def write(self, what: str, path: str | os.PathLike) -> Path:
        p = Path(path)
        self.writes.append(_Entry(what, p))
        return p

    def write_ir(self, what: str, path: str | os.PathLike) -> Path:
        """An .ir output and the weights sidecar `save_ir` writes beside it (whatever its suffix)."""
        from irc.ir.weights_io import weights_path

        p = self.write(what, path)
        self.write(f"the weights file of {what}", weights_path(p))
        return p

    def write_report(self, what: str, path: str | os.PathLike) -> Path:
        """An accuracy-budget report: the file and, for HTML, its JSON twin."""
        from irc.budget_report import report_files

        files = report_files(Path(path))
        self.write(what, files[0])
        for extra in files[1:]:
            self.write(f"the JSON file of {what}", extra)
        return files[0]

    def write_folder(self, what: str, path: str | os.PathLike) -> Path:
        """A folder the command creates or fills (files inside it may be replaced)."""
        p = Path(path)
        self.writes.append(_Entry(what, p, folder=True))
        return p

    # -- the rule -----------------------------------------------------------------------------
    def check(self) -> None:
        """Raise IRError for the first clash, or for an output that cannot be written."""
        for i, w in enumerate(self.writes):
            for r in self.reads:
                if _same(w, r):
                    raise IRError(f"{w.describe()} is {r.describe()}: irc never writes over what it reads; "
                                  "choose another output path")
                if _inside(w, r):
                    raise IRError(f"{w.describe()} lies inside {r.describe()}, which irc reads; "
                                  "choose another output path")
                if _inside(r, w):
                    raise IRError(f"{w.describe()} would hold {r.describe()}, which irc reads; "
                                  "choose another folder")
            for other in self.writes[:i]:
                if _same(w, other) or _inside(w, other) or _inside(other, w):
                    raise IRError(f"{w.describe()} and {other.describe()} name the same file; "
                                  "give them different paths")
        probed: set[Path] = set()
        for w in self.writes:
            _check_writable(w, probed)


def _check_writable(w: _Entry, probed: set[Path]) -> None:
    if w.folder:
        target = w.path
        while not target.exists() and target != target.parent:
            target = target.parent  # the first folder that exists is where mkdir starts
        if not target.is_dir():
            raise IRError(f"{w.describe()}: {target} is not a folder")
    else:
        if w.path.is_dir():
            raise IRError(f"{w.describe()} is a folder, not a file")
        target = w.path.parent
        if not target.is_dir():
            raise IRError(f"{w.describe()}: folder {target} does not exist")
    real = Path(os.path.realpath(target))
    if real in probed:
        return
    probed.add(real)
    try:  # an anonymous file where the system supports one: nothing appears in the folder
        with tempfile.TemporaryFile(dir=real):
            pass
    except OSError as e:
        raise IRError(f"{w.describe()}: cannot write in {target} ({e.strerror or type(e).__name__})") from None


def _external_data_files(path: Path) -> list[Path]:
    """The external data files an .onnx model names (inside or outside its folder; none if unreadable)."""
    if not path.is_file():
        return []
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # an unreadable model is reported when it is loaded
        return []
    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node for a in n.attribute if a.type == onnx.AttributeProto.TENSOR]
    found: list[Path] = []
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            loc = {e.key: e.value for e in t.external_data}.get("location")
            if loc and path.parent / loc not in found:
                found.append(path.parent / loc)
    return found
