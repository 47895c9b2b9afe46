"""Pipeline syntax, pass options, the pass manager and plugins."""

from __future__ import annotations

import io
import textwrap

import pytest

from irc.ir import parse_text, print_graph
from irc.passes import PassContext, PassError, PassManager, PrintIRAfterAll, TimePasses, parse_pipeline
from irc.passes.base import load_plugin

GRAPH = """func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {
  %a = identity(%x) : tensor<3xf32>
  %dead = identity(%x) : tensor<3xf32>
  return %a
}
"""


@pytest.mark.parametrize("text", [
    "fold",
    "fold,dce",
    "fold{batch-norm=false},dce",
    "fold{batch-norm=false max-elements=100},dce,fold",
    "",
])
def test_pipeline_prints_back_to_the_same_text(text):
    assert str(parse_pipeline(text)) == text


def test_unknown_pass_lists_every_registered_pass():
    from irc.passes import PASS_REGISTRY

    with pytest.raises(PassError) as e:
        parse_pipeline("nope")
    assert str(e.value).endswith("known passes: " + ", ".join(sorted(PASS_REGISTRY)))


def test_bare_option_means_true():
    assert parse_pipeline("fold{batch-norm}").instantiate()[0].batch_norm is True


@pytest.mark.parametrize("text, message", [
    ("fold,folx", "unknown pass 'folx' (did you mean 'fold'?); known passes: "),
    ("fold{x=1}", "has no option 'x'; its options: batch-norm (bool), max-elements (int)"),
    ("fold{max-elements=many}", "option 'max-elements' must be an integer, got 'many'"),
    ("fold{batch-norm=1,2}", "takes one value, got 2"),
    ("fold{", "expected an option name"),
    ("fold{batch-norm=true", "missing '}'"),
    ("fold dce", "expected ',' between passes"),
    ("fold{batch-norm=true batch-norm=false}", "given twice"),
])
def test_bad_pipelines_say_what_is_valid(text, message):
    with pytest.raises(PassError) as e:
        parse_pipeline(text)
    assert message in str(e.value)


def test_manager_runs_verifies_and_instruments():
    g = parse_text(GRAPH)
    out, times = io.StringIO(), io.StringIO()
    ctx = PassContext()
    PassManager("dce", [PrintIRAfterAll(out), TimePasses(times)]).run(g, ctx)
    assert "%dead" not in print_graph(g)
    assert "IR after dce" in out.getvalue() and "%dead" not in out.getvalue()
    assert "dce" in times.getvalue() and "total" in times.getvalue()
    assert ctx.stats["dce"]["ops removed"] == 1



def test_silent_pass_times_are_kept_not_printed():
    out = io.StringIO()
    timer = TimePasses(out, silent=True)
    PassManager("fold,dce", [timer]).run(parse_text(GRAPH), PassContext())
    assert [name for name, _ in timer.times] == ["fold", "dce"] and out.getvalue() == ""

def test_a_pass_that_breaks_the_ir_is_named(tmp_path):
    plugin = tmp_path / "breaker.py"
    plugin.write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from typing import ClassVar
        from irc.ir import TensorType
        from irc.passes import Pass, register_pass

        @register_pass
        @dataclass(frozen=True)
        class Breaker(Pass):
            """Change a result type so that it no longer fits."""
            name: ClassVar[str] = "test-breaker"

            def run(self, graph, ctx):
                graph.ops[0].results[0].type = TensorType((4,), "f32")
                return True
    '''))
    load_plugin(str(plugin))
    with pytest.raises(PassError) as e:
        PassManager("test-breaker").run(parse_text(GRAPH))
    assert "does not verify after pass 'test-breaker'" in str(e.value)


def test_missing_plugin_is_a_clear_error(tmp_path):
    with pytest.raises(PassError, match="plugin file not found"):
        load_plugin(str(tmp_path / "nope.py"))
