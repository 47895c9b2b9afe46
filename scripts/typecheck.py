"""Type-check the irc package with mypy under its installed module names.

The source folders are mapped onto one package by [tool.setuptools] package-dir (tools/ is
`irc`, ir/ is `irc.ir`, ...), and an editable install reaches them through an import hook, which
mypy does not run. So this lays the installed package out as a tree of links to the source files
(one real directory per listed package) in a temporary folder and runs `mypy -p irc` over it with
the settings of [tool.mypy]; reported paths are mapped back to the source files.

    python scripts/typecheck.py [extra mypy arguments]

Exit status is mypy's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_files(root: Path = ROOT) -> dict[Path, Path]:
    """Every module of the installed package: its path inside the tree -> its source file."""
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = cfg["package-dir"]
    files: dict[Path, Path] = {}
    for pkg in cfg["packages"]:
        owner = max((p for p in package_dir if pkg == p or pkg.startswith(p + ".")), key=len)
        source = root / package_dir[owner] / Path(*pkg.split(".")[owner.count(".") + 1:])
        for path in sorted(source.iterdir()):
            if path.is_file() and path.suffix in (".py", ".pyi"):
                files[Path(*pkg.split("."), path.name)] = path
    return files


def link_tree(tree: Path, root: Path = ROOT) -> dict[str, str]:
    """Lay the package out under tree; returns tree path -> repository-relative path."""
    back = {}
    for rel, source in package_files(root).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).symlink_to(source)
        back[str(tree / rel)] = str(source.relative_to(root))
    return back


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="irc-typecheck-") as tmp:
        tree = Path(tmp, "src")
        back = link_tree(tree)
        env = dict(os.environ, MYPYPATH=str(tree))
        done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                               *argv, "-p", "irc"], capture_output=True, text=True, cwd=tmp, env=env, check=False)
    for stream, text in ((sys.stdout, done.stdout), (sys.stderr, done.stderr)):
        for line in text.splitlines():
            path, sep, rest = line.partition(":")
            stream.write(back.get(str(Path(tmp, path)), path) + sep + rest + "\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
