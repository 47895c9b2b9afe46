"""The package layout: every code folder is listed in pyproject.toml and importable as irc.*."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return cfg["package-dir"], set(cfg["packages"])


def test_every_package_folder_is_declared():
    package_dir, packages = _declared()
    for pkg, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join([pkg, *rel.parts]) if rel.parts else pkg
            # a folder mapped by a more specific entry is checked under that entry
            owner = max((p for p in package_dir if name == p or name.startswith(p + ".")), key=len)
            if owner != pkg:
                continue
            assert name in packages, f"{init.parent} is not listed as {name} in pyproject.toml"


def test_declared_packages_import():
    _, packages = _declared()
    for name in sorted(packages):
        importlib.import_module(name)


BASELINES_OUTSIDE_CI = {"nncf"}
"""Comparison baselines CI does not install (the bench tests of NNCF variants skip without it)."""


def test_the_test_extra_installs_what_the_tests_import_or_skip():
    """A test that skips for want of a package CI never installs would never run: every module a
    test asks for with importorskip is in the test extra, or a named baseline kept out of CI."""
    import re

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    installed = {re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower() for req in extra}
    asked = set()
    for path in (ROOT / "tests").rglob("*.py"):
        asked |= set(re.findall(r"importorskip\(\s*[\"']([\w.]+)[\"']", path.read_text()))
    asked |= {"nncf"}  # tests/bench asks for it through a parameter
    missing = {m.split(".")[0] for m in asked} - installed - BASELINES_OUTSIDE_CI
    assert not missing, f"importorskip of {sorted(missing)}, which the test extra does not install"
    assert "openvino" in installed
