"""The weights sidecar is checked against the text at load: every `const @key : T` finds an
array of T's dtype and shape, or the load fails at that line (before any pass or backend)."""

from __future__ import annotations

import numpy as np
import pytest

from irc.cli import main
from irc.ir import load_ir
from irc.ir.diagnostics import SourceError
from irc.ir.weights_io import encode_weights

TEXT = """func @main(%x: tensor<[N]x4x3xf32>) -> (tensor<[N]x4x3xf32>) {
  %w = const @w : tensor<4x3xf32>
  %y = add(%x, %w) : tensor<[N]x4x3xf32>
  return %y
}
"""


def _write(tmp_path, text=TEXT, weights=None):
    ir = tmp_path / "m.ir"
    ir.write_text(text)
    if weights is not None:
        (tmp_path / "m.weights.npz").write_bytes(encode_weights(weights))
    return ir


@pytest.mark.parametrize("array, held", [
    (np.zeros((3, 4), np.float32), "float32 of shape [3, 4]"),
    (np.zeros((4, 3), np.float64), "float64 of shape [4, 3]"),
    (np.zeros((4, 3, 1), np.float32), "float32 of shape [4, 3, 1]"),
    (np.zeros((4, 3), np.int8), "int8 of shape [4, 3]"),
])
def test_a_weight_of_the_wrong_type_is_refused_at_its_line(tmp_path, array, held):
    ir = _write(tmp_path, weights={"w": array})
    with pytest.raises(SourceError) as info:
        load_ir(ir)
    assert (info.value.line, info.value.column) == (2, 14)
    assert info.value.message == (f"weight @w in {tmp_path / 'm.weights.npz'} is {held}, but the constant "
                                  "declares tensor<4x3xf32> (float32 of shape [4, 3])")


def test_a_quantized_constant_needs_its_storage_type(tmp_path):
    text = ("func @main() -> (tensor<2x!q.i8<0.5:0>>) {\n  %w = const @w : tensor<2x!q.i8<0.5:0>>\n"
            "  return %w\n}\n")
    with pytest.raises(SourceError, match=r"is float32 of shape \[2\], but the constant declares"):
        load_ir(_write(tmp_path, text, {"w": np.zeros(2, np.float32)}))
    assert load_ir(_write(tmp_path, text, {"w": np.zeros(2, np.int8)})).weights["w"].dtype == np.int8


@pytest.mark.parametrize("command", [["opt", "--pipeline=fold,fuse"], ["emit", "--target=onnx"]])
def test_commands_refuse_a_wrong_sidecar_and_write_nothing(tmp_path, capsys, command):
    ir = _write(tmp_path, weights={"w": np.zeros((3, 4), np.float32)})
    out = tmp_path / ("out.ir" if command[0] == "opt" else "out.onnx")
    code = main([command[0], str(ir), *command[1:], "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"{ir}:2:14: error: weight @w in" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("spacing", [" ", "  ", "\t"])
def test_a_missing_sidecar_is_found_however_const_is_spaced(tmp_path, capsys, spacing):
    ir = _write(tmp_path, TEXT.replace("const @w", f"const{spacing}@w"))
    code = main(["opt", str(ir), "--pipeline=fold,fuse"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{ir}:2:" in err and f"needs its weights file, but {tmp_path / 'm.weights.npz'} is missing" in err


def test_a_sidecar_without_the_key(tmp_path, capsys):
    ir = _write(tmp_path, weights={"v": np.zeros((4, 3), np.float32)})
    code = main(["opt", str(ir), "--pipeline=fold"])
    err = capsys.readouterr().err
    assert code == 2 and f"weight @w is not in {tmp_path / 'm.weights.npz'}" in err
