"""Text-format laws on seeded random graphs: parse(print(g)) equals g, print(parse(t)) == t,
and saving/loading with the weights sidecar is byte-stable."""

from __future__ import annotations

import pytest

from irc.ir import load_ir, parse_text, print_graph, save_ir, verify_graph
from irc.ir.compare import graph_difference
from irc.ir.weights_io import weights_path

from .random_ir import random_graph


@pytest.mark.parametrize("seed", range(60))
def test_parse_of_print_is_the_graph(seed):
    g = random_graph(seed)
    verify_graph(g)
    text = print_graph(g)
    back = parse_text(text, weights=g.weights)
    # names that collide get suffixes when printed; compare against the printed form's graph
    assert print_graph(back) == text
    again = parse_text(print_graph(back), weights=back.weights)
    assert graph_difference(back, again) is None


@pytest.mark.parametrize("seed", range(0, 60, 6))
def test_save_load_is_byte_stable(seed, tmp_path):
    g = random_graph(seed)
    save_ir(g, tmp_path / "a.ir")
    loaded = load_ir(tmp_path / "a.ir")
    save_ir(loaded, tmp_path / "b.ir")
    assert (tmp_path / "a.ir").read_bytes() == (tmp_path / "b.ir").read_bytes()
    wa, wb = weights_path(tmp_path / "a.ir"), weights_path(tmp_path / "b.ir")
    assert wa.exists() == wb.exists()
    if wa.exists():
        assert wa.read_bytes() == wb.read_bytes()
