"""Every declared op is specified: its family's page in specs/ops/ names it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from irc.ir.registry import OP_REGISTRY

SPECS = Path(__file__).resolve().parents[2] / "specs" / "ops"


def test_every_family_has_a_page():
    families = {d.family for d in OP_REGISTRY.values()}
    assert families, "the registry is empty"
    missing = sorted(f for f in families if not (SPECS / f"{f}.md").is_file())
    assert not missing, f"no specs/ops/<family>.md for {missing}"


@pytest.mark.parametrize("name", sorted(OP_REGISTRY))
def test_every_op_is_on_its_familys_page(name):
    page = SPECS / f"{OP_REGISTRY[name].family}.md"
    text = page.read_text() if page.is_file() else ""
    assert re.search(rf"`{re.escape(name)}`|\b{re.escape(name)}\(|^#+ {re.escape(name)}\b", text, re.M), \
        f"{name} (family {OP_REGISTRY[name].family!r}) is not named in {page.name}"
