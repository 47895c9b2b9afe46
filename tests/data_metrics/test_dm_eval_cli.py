"""`irc eval` end to end through irc.cli.main: real ONNX models run by onnxruntime, real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dm_helpers import EXAMPLES, constant_detector, flatten_classifier, hot_pixel_folder, voc_root, write_png

from irc.cli import main


def run(capsys, *argv):
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------- classification
def test_top1_top5_on_an_image_folder(tmp_path, capsys):
    model = flatten_classifier(tmp_path / "m.onnx", side=3)
    root = hot_pixel_folder(tmp_path / "val", classes=6, side=3)
    # every third image of class 5 gets class 0's pixel brighter still: a top-1 miss, a top-5 hit
    from PIL import Image
    a = np.asarray(Image.open(root / "c5" / "0.png")).copy()
    a.flat[0] = 255
    write_png(root / "c5" / "0.png", a)
    res = run_json(capsys, model, "--data", root, "--metric", "top1,top5", "--channels", "gray")
    assert res["metrics"] == {"top1": pytest.approx(17 / 18), "top5": 1.0}
    assert res["samples"] == 18 and res["data_format"] == "image folder"
    code, out, _ = run(capsys, model, "--data", root, "--limit", "5", "--quiet", "--metric", "top5")
    assert code == 0 and "top5       1.0000  (5/5)" in out


def test_agreement_cosine_sqnr_against_a_reference(tmp_path, capsys):
    model = flatten_classifier(tmp_path / "m.onnx", scale=2.0)
    ref = flatten_classifier(tmp_path / "ref.onnx", scale=1.0)
    x = np.random.default_rng(0).random((7, 1, 2, 2)).astype(np.float32)
    np.savez(tmp_path / "u.npz", input=x)
    res = run_json(capsys, model, "--data", tmp_path / "u.npz", "--reference", ref,
                   "--metric", "agreement", "--metric", "cosine,sqnr", "--batch-size", "3")
    # the model is twice the reference: same ranking, cosine 1, noise equal to the signal -> 0 dB
    assert res["metrics"]["agreement"] == 1.0
    assert res["metrics"]["cosine"] == pytest.approx(1.0)
    assert res["metrics"]["sqnr"] == pytest.approx(0.0, abs=1e-9)


def test_custom_metric_through_the_cli(tmp_path, capsys):
    (tmp_path / "mine.py").write_text(
        "import numpy as np\n"
        "def brightest(outputs, labels, reference):\n"
        "    return (outputs['logits'].max(1) > 0.9).astype(float)\n")
    model = flatten_classifier(tmp_path / "m.onnx")
    res = run_json(capsys, model, "--data", hot_pixel_folder(tmp_path / "v"), "--metric",
                   f"{tmp_path / 'mine.py'}:brightest")
    assert res["metrics"]["brightest"] == 1.0


@pytest.mark.parametrize("name", ["resnet", "mobilenetv2", "inception", "densenet"])
def test_example_classifiers_reach_97_percent(capsys, name):
    res = run_json(capsys, EXAMPLES / "models" / f"digits_{name}.onnx", "--data", EXAMPLES / "data" / "digits-cls" / "val",
                   "--config", EXAMPLES / "models" / "digits_cls.toml", "--batch-size", "150")
    assert res["samples"] == 450
    assert res["metrics"]["top1"] >= 0.97


# ---------------------------------------------------------------- detection
def test_map_of_a_constant_detector_hand_computed(tmp_path, capsys):
    # two 16x16 images, class "b" objects; the model always predicts the same three boxes
    boxes = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0, 0.5, 0.5, 1]])          # fractions
    scores = np.array([[0.1, 0.0, 0.9], [0.2, 0.0, 0.8], [0.3, 0.0, 0.7]])           # bg, a, b
    model = constant_detector(tmp_path / "det.onnx", boxes, scores)
    # box 0 covers pixels 1..8 x 1..8; box 1 9..16; box 2 x 1..8, y 9..16
    root = voc_root(tmp_path / "voc", {"i1": [("b", 1, 1, 8, 8, 0), ("b", 9, 9, 16, 16, 0)],
                                       "i2": [("b", 1, 9, 8, 16, 0), ("a", 9, 9, 16, 16, 1)]})
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    cfg = tmp_path / "det.toml"
    cfg.write_text('[detection]\nbox_encoding = "corners"\nconf_threshold = 0.05\n')
    res = run_json(capsys, model, "--data", root, "--labels-file", labels, "--config", cfg,
                   "--metric", "map,map_all", "--channels", "rgb")
    # class b ranked: i1 .9 tp, i2 .9 fp, i1 .8 tp, i2 .8 fp, i1 .7 fp, i2 .7 tp (stable order)
    # precision 1, .5, 2/3, .5, .4, .5 at recall 1/3, 1/3, 2/3, 2/3, 2/3, 1; class a has no
    # non-difficult object and is left out
    assert res["metrics"]["map_all"] == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    assert res["metrics"]["map"] == pytest.approx((4 * 1 + 3 * (2 / 3) + 4 * 0.5) / 11)
    assert res["details"]["map"]["ap_per_class"]["a"] is None


def test_example_ssd_map(capsys):
    res = run_json(capsys, EXAMPLES / "models" / "digits_ssd.onnx", "--data", EXAMPLES / "data" / "digits-voc",
                   "--labels-file", EXAMPLES / "data" / "digits-voc" / "labels.txt",
                   "--config", EXAMPLES / "models" / "digits_ssd.toml", "--metric", "map", "--limit", "100")
    assert res["samples"] == 100
    assert res["metrics"]["map"] > 0.8


# ---------------------------------------------------------------- bad data: one message, exit code 2
def _voc_case(tmp_path, objects):
    root = voc_root(tmp_path / "voc", {"bad": objects}, size=96)
    return [EXAMPLES / "models" / "digits_ssd.onnx", "--data", root, "--labels-file",
            EXAMPLES / "data" / "digits-voc" / "labels.txt", "--config", EXAMPLES / "models" / "digits_ssd.toml"]


def test_bad_data_cases_exit_2_naming_the_file(tmp_path, capsys):
    model = flatten_classifier(tmp_path / "m.onnx")
    cases = []
    # an unreadable image
    root = hot_pixel_folder(tmp_path / "unreadable")
    (root / "c2" / "9.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    cases.append(([model, "--data", root], r"c2/9.png: cannot read image"))
    # an empty folder
    (tmp_path / "empty").mkdir()
    cases.append(([model, "--data", tmp_path / "empty"], "empty"))
    # a folder outside the labels file
    lf = tmp_path / "three.txt"
    lf.write_text("c0\nc1\nc2\n")
    cases.append(([model, "--data", hot_pixel_folder(tmp_path / "four"), "--labels-file", lf],
                  r"c3: class 'c3' is not in the class list .*three.txt"))
    # a label outside the model's classes (npz)
    np.savez(tmp_path / "l.npz", input=np.zeros((2, 1, 2, 2), np.float32), labels=np.array([1, 4]))
    cases.append(([model, "--data", tmp_path / "l.npz"], r"l.npz\[1\]: label 4 is outside the model's 4 classes"))
    # NaN in an npz
    np.savez(tmp_path / "n.npz", input=np.full((2, 1, 2, 2), np.nan, np.float32), labels=np.array([1, 1]))
    cases.append(([model, "--data", tmp_path / "n.npz"], r"n.npz: array 'input' holds NaN"))
    # VOC: a missing field, and an object of a class outside the list
    cases.append((_voc_case(tmp_path / "v1", [("3", 10, 10, None, 40, 0)]), r"bad.xml: object 1 <bndbox> has no <xmax>"))
    cases.append((_voc_case(tmp_path / "v2", [("cat", 10, 10, 30, 40, 0)]), r"bad.xml: object 1 has class 'cat'"))
    # not there at all, and an unknown metric
    cases.append(([model, "--data", tmp_path / "nowhere"], r"data path .*nowhere does not exist"))
    cases.append(([model, "--data", root, "--metric", "top9"], r"unknown metric 'top9'"))
    cases.append(([tmp_path / "none.onnx", "--data", root], r"model file .*none.onnx does not exist"))
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("irc eval: error: "), err
        import re
        assert re.search(message, lines[0]), (message, lines[0])
        assert "Traceback" not in err


def test_image_of_wrong_size_for_the_model(tmp_path, capsys):
    model = flatten_classifier(tmp_path / "m.onnx")
    write_png(tmp_path / "d" / "c0" / "a.png", np.zeros((4, 6)))
    code, _, err = run(capsys, model, "--data", tmp_path / "d", "--resize", "4")
    assert code == 2 and "a.png: preprocessing gives a 4x6 image but the model expects 2x2" in err


# ---------------------------------------------------------------- .ir models (numpy interpreter)
def test_ir_model_agrees_with_its_onnx_original(tmp_path, capsys):
    import irc
    from irc.backends.onnx import import_onnx

    onnx_path = EXAMPLES / "models" / "digits_resnet.onnx"
    ir_path = tmp_path / "resnet.ir"
    irc.save(import_onnx(onnx_path), ir_path)
    res = run_json(capsys, ir_path, "--data", EXAMPLES / "data" / "digits-cls" / "val", "--config",
                   EXAMPLES / "models" / "digits_cls.toml", "--reference", onnx_path,
                   "--metric", "agreement,cosine,sqnr,top1", "--limit", "8")
    assert res["samples"] == 8
    assert res["metrics"]["agreement"] == 1.0
    assert res["metrics"]["cosine"] > 0.99999
    assert res["metrics"]["sqnr"] == "inf" or res["metrics"]["sqnr"] > 60


def test_the_shipped_custom_metric_example(capsys):
    metrics = EXAMPLES / "metrics" / "digits_metrics.py"
    res = run_json(capsys, EXAMPLES / "models" / "digits_resnet.onnx", "--data", EXAMPLES / "data" / "digits-cls" / "val",
                   "--config", EXAMPLES / "models" / "digits_cls.toml", "--limit", "100",
                   "--metric", f"{metrics}:true_class_probability", "--metric", f"{metrics}:BalancedAccuracy")
    assert 0.8 < res["metrics"]["true_class_probability"] <= 1.0
    assert 0.9 < res["metrics"]["BalancedAccuracy"] <= 1.0


# ---------------------------------------------------------------- the recorded onnxruntime int8 loss
def test_onnxruntime_full_int8_costs_the_outlier_model_over_one_point(tmp_path):
    import importlib.util

    script = EXAMPLES.parent / "scripts" / "train" / "ort_int8_baseline.py"
    spec = importlib.util.spec_from_file_location("ort_int8_baseline", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.measure(EXAMPLES / "models" / "digits_mobilenetv2_outlier.onnx", tmp_path)
    assert row["fp32_top1"] >= 0.97
    assert row["drop_points"] > 1.0
