"""The rewrite driver (passes/rewrite.py): fixed points, follow-ups, names, and a guard."""

from __future__ import annotations

import pytest

from irc.ir import parse_text, print_graph
from irc.passes import PassError
from irc.passes.rewrite import RewriteRule, apply_rules


class CollapseRelu(RewriteRule):
    """relu(relu(x)) -> relu(x)"""

    roots = ("relu",)

    def apply(self, op, rw):
        inner = op.operands[0].producer
        if inner is None or inner.name != "relu":
            return False
        rw.replace_value(op.result, inner.result)
        rw.erase(op)
        return True


class DropIdentity(RewriteRule):
    """identity(x) -> x"""

    roots = ("identity",)

    def apply(self, op, rw):
        if op.result in rw.graph.outputs:  # keep the op that names a graph output
            return False
        rw.replace_value(op.result, op.operands[0])
        rw.erase(op)
        return True


CHAIN = """func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {
  %a = relu(%x) : tensor<3xf32>
  %b = identity(%a) : tensor<3xf32>
  %c = relu(%b) : tensor<3xf32>
  %d = relu(%c) : tensor<3xf32>
  %e = identity(%d) : tensor<3xf32>
  %out = relu(%e) : tensor<3xf32>
  return %out
}
"""


def test_rules_run_to_a_fixed_point_and_keep_the_replaced_names():
    g = parse_text(CHAIN)
    fired = apply_rules(g, [CollapseRelu(), DropIdentity()])
    # a relu cannot collapse into its reader until the identity between them is gone: the
    # driver revisits the readers of a replaced value, so one call gets there
    assert fired == {"DropIdentity": 2, "CollapseRelu": 3}
    assert print_graph(g) == """func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {
  %out = relu(%x) : tensor<3xf32>
  return %out
}
"""


def test_roots_limit_where_a_rule_is_tried():
    class Counting(RewriteRule):
        roots = ("identity",)
        seen: list[str] = []

        def apply(self, op, rw):
            self.seen.append(op.name)
            return False

    rule = Counting()
    apply_rules(parse_text(CHAIN), [rule])
    assert rule.seen == ["identity", "identity"]


def test_rules_that_undo_each_other_are_stopped():
    class Rename(RewriteRule):
        roots = ("relu",)

        def apply(self, op, rw):
            rw.changed(op)  # claims a change every time: never settles
            return True

    with pytest.raises(PassError, match="did not settle"):
        apply_rules(parse_text(CHAIN), [Rename()], max_rewrites=50)
