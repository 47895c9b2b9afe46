"""`irc opt --pipeline=calibrate --calib ...`: ranges written to the output, bad data refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from irc.cli import main
from irc.ir import load_ir, parse_text
from irc.ir.ranges import get_range
from irc.passes.calibrate import observed_values

from .graphs import conv_net, samples


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.ir"
    path.write_text(conv_net())
    return path


def test_calibrated_output_has_ranges_and_reparses(tmp_path, model, capsys):
    x = samples(20)
    np.savez(tmp_path / "c.npz", x=x)
    out = tmp_path / "out.ir"
    code, stdout, err = run_cli(capsys, "opt", "--pipeline=fold,calibrate", "--calib", tmp_path / "c.npz",
                                model, "-o", out)
    assert code == 0, err
    assert "calibrate: 20 samples, 8 tensors, method minmax, backend onnxruntime" in err
    text = out.read_text()
    assert text.count("q.range=[") == 8
    g = load_ir(out)
    assert get_range(g, g.inputs[0]) == (float(x.min()), float(x.max()))
    assert all(get_range(g, v) is not None for v in observed_values(g))
    # and the text is canonical: it prints back unchanged
    code, stdout, _ = run_cli(capsys, "opt", out)
    assert code == 0 and stdout == text


def test_calib_limit_takes_a_seeded_subset(tmp_path, model, capsys):
    np.savez(tmp_path / "c.npz", x=samples(50))
    outs = []
    for name in ("a.ir", "b.ir"):
        code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate{backend=interpreter}", "--calib",
                               tmp_path / "c.npz", "--calib-limit", 7, "--quiet", model, "-o", tmp_path / name)
        assert code == 0 and err == ""
        outs.append((tmp_path / name).read_text())
    assert outs[0] == outs[1]
    g = parse_text(outs[0])
    assert get_range(g, g.inputs[0]) != (float(samples(50).min()), float(samples(50).max()))


def _bad(tmp_path, kind):
    x = samples(5)
    path = tmp_path / f"{kind}.npz"
    if kind == "wrong_name":
        np.savez(path, data=x)
    elif kind == "extra_array":
        np.savez(path, x=x, mask=x)
    elif kind == "wrong_shape":
        np.savez(path, x=x[:, :, :4])
    elif kind == "nan":
        x[3, 0, 0, 0] = np.inf
        np.savez(path, x=x)
    elif kind == "empty":
        np.savez(path, x=x[:0])
    elif kind == "object":
        np.savez(path, x=np.array([None, 1], dtype=object))
    elif kind in ("int64", "bool"):
        np.savez(path, x=(x * 10).astype(np.int64) if kind == "int64" else x > 0.5)
    elif kind == "not_a_zip":
        path.write_bytes(b"not an npz")
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "missing.npz: calibration data not found"),
    ("wrong_name", "no array for model input(s) 'x'; array(s) 'data' match no model input"),
    ("extra_array", "array(s) 'mask' match no model input"),
    ("wrong_shape", "array 'x' has shape [5, 3, 4, 6], but model input 'x' takes samples of shape [3, 6, 6]"),
    ("nan", "array 'x' holds NaN or infinity (sample 3)"),
    ("empty", "the data set is empty (0 samples)"),
    ("object", "object arrays are not accepted"),
    ("not_a_zip", "not a readable .npz file"),
    ("int64", "array 'x' has dtype int64, but model input 'x' is f32: calibration data for a float input must "
              "be float"),
    ("bool", "array 'x' has dtype bool, but model input 'x' is f32"),
])
def test_bad_calibration_files_exit_2_with_one_message(tmp_path, model, capsys, kind, message):
    path = tmp_path / "missing.npz" if kind == "missing" else _bad(tmp_path, kind)
    out = tmp_path / "out.ir"
    code, stdout, err = run_cli(capsys, "opt", "--pipeline=calibrate", "--calib", path, model, "-o", out)
    assert code == 2
    assert err.startswith("irc opt: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_calibrate_without_data_and_options_without_calib(tmp_path, model, capsys):
    code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate", model)
    assert code == 2 and "needs calibration data: give `--calib FILE.npz`" in err
    code, _, err = run_cli(capsys, "opt", "--samples", 3, model)
    assert code == 2 and "--samples and --calib-preprocess need --calib" in err
    np.savez(tmp_path / "c.npz", x=samples(3))
    code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate", "--calib", tmp_path / "c.npz",
                           "--calib-limit", 0, model)
    assert code == 2 and "--samples must be at least 1" in err


def test_image_folder_calibration(tmp_path, capsys):
    # two classes of random 10x10 RGB images; the model takes 3x6x6 (resized by the data module)
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    model = tmp_path / "m.ir"
    model.write_text(conv_net())
    out = tmp_path / "out.ir"
    code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate", "--calib", tmp_path / "imgs", model, "-o", out)
    assert code == 0, err
    assert "calibrate: 6 samples" in err
    g = load_ir(out)
    lo, hi = get_range(g, g.inputs[0])
    assert lo == 0.0 and 0.5 < hi <= 1.0          # pixels scaled to [0, 1]


def _voc_root(root, classes, rng):
    """A VOC 2007 layout of three random images whose objects carry the given class names."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    ids = [f"{i:06d}" for i in range(3)]
    for image_id, cls in zip(ids, classes):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / "JPEGImages" / f"{image_id}.jpg")
        (root / "Annotations" / f"{image_id}.xml").write_text(
            f"<annotation><object><name>{cls}</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>"
            "<ymax>5</ymax></bndbox></object></annotation>")
    (root / "ImageSets" / "Main" / "test.txt").write_text("\n".join(ids) + "\n")


def test_a_voc_root_calibrates_whatever_its_class_names(tmp_path, model, capsys):
    """Calibration reads the images only: classes outside the 20 VOC names, or an annotation that
    would not parse, do not matter without labels to use."""
    _voc_root(tmp_path / "voc", ["5", "digit seven", "cat"], np.random.default_rng(2))
    (tmp_path / "voc" / "Annotations" / "000002.xml").write_text("<annotation><object>")  # broken
    pre = tmp_path / "pre.toml"
    pre.write_text("[preprocess]\nresize = [6, 6]\n")
    out = tmp_path / "out.ir"
    code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate", "--calib", tmp_path / "voc",
                           "--calib-preprocess", pre, model, "-o", out)
    assert code == 0, err
    assert "calibrate: 3 samples" in err
    g = load_ir(out)
    lo, hi = get_range(g, g.inputs[0])
    assert lo == 0.0 and 0.5 < hi <= 1.0


def test_labels_in_a_calibration_npz_are_ignored_unchecked(tmp_path, model, capsys):
    np.savez(tmp_path / "c.npz", x=samples(4), labels=np.array([0.5, 1.5, 2.5, 3.5]))
    code, _, err = run_cli(capsys, "opt", "--pipeline=calibrate", "--calib", tmp_path / "c.npz", model,
                           "-o", tmp_path / "out.ir")
    assert code == 0, err
