"""Data sources and preprocessing on small real files made in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
from dm_helpers import hot_pixel_folder, voc_root, voc_xml, write_png
from PIL import Image

from irc.data import (InputSpec, Preprocess, calibration_batches, iter_batches, load_preprocess, open_dataset,
                      select_indices)
from irc.ir.diagnostics import IRError

GREY = [InputSpec("input", (None, 1, 2, 2))]


# ---------------------------------------------------------------- preprocessing
def test_preprocess_pipeline_values():
    img = Image.fromarray(np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3), "RGB")
    pre = Preprocess(crop=(2, 2), scale=255, mean=(1, 2, 3), std=(2, 2, 2), channels="BGR").for_input((None, 3, 2, 2))
    x = pre(img, "img")
    a = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)[1:3, 2:4, ::-1]
    np.testing.assert_allclose(x, ((a - [1, 2, 3]) / 2).transpose(2, 0, 1))
    nhwc = Preprocess(crop=2, layout="NHWC").for_input((None, 2, 2, 3))(img, "img")
    np.testing.assert_allclose(nhwc, np.arange(72, dtype=np.float32).reshape(4, 6, 3)[1:3, 2:4] / 255, rtol=1e-6)


def test_preprocess_resize_shorter_side_and_grey_from_model_shape():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    pre = Preprocess(resize=10, crop=10).for_input((None, 1, 10, 10))
    x = pre(img, "img")
    assert x.shape == (1, 10, 10)
    assert x[0, 0, 0] == pytest.approx(round(0.299 * 255) / 255, abs=1 / 255)   # PIL's luma of pure red
    with pytest.raises(IRError, match="gives a 10x20 image but the model expects 10x10"):
        Preprocess(resize=10).for_input((None, 1, 10, 10))(img, "img.png")


def test_preprocess_rejects_bad_settings(tmp_path):
    with pytest.raises(IRError, match="scale must be 1"):
        Preprocess.from_mapping({"scale": 2})
    with pytest.raises(IRError, match="unknown key"):
        Preprocess.from_mapping({"colour": "RGB"})
    with pytest.raises(IRError, match="has 3 channel"):
        Preprocess(channels="GRAY").for_input((None, 3, 8, 8))
    cfg = tmp_path / "p.toml"
    cfg.write_text('[preprocess]\nresize = [8, 8]\nmean = [0.5]\nstd = 0.5\nchannels = "gray"\n')
    p = load_preprocess(cfg)
    assert (p.resize, p.mean, p.std, p.channels) == ((8, 8), (0.5,), (0.5,), "GRAY")
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(IRError, match="p.json is not valid JSON"):
        load_preprocess(bad)


# ---------------------------------------------------------------- npz
def test_npz_memmaps_stored_arrays_and_reads_compressed(tmp_path):
    x = np.random.default_rng(0).random((10, 1, 2, 2)).astype(np.float32)
    np.savez(tmp_path / "a.npz", input=x, labels=np.arange(10))
    np.savez_compressed(tmp_path / "b.npz", whatever=x.astype(np.float64))
    a = open_dataset(tmp_path / "a.npz")
    assert isinstance(a.arrays["input"], np.memmap) and a.task == "classification"
    batches = list(iter_batches(a, GREY, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b.inputs["input"] for b in batches]), x)
    assert batches[2].labels.tolist() == [8, 9]
    b = open_dataset(tmp_path / "b.npz")             # one array, any name, feeds a one-input model
    (only,) = list(iter_batches(b, GREY, batch_size=32))
    assert only.inputs["input"].dtype == np.float32 and only.labels is None


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "obj.npz", input=np.array([{"a": 1}], dtype=object))
    with pytest.raises(IRError, match=r"obj.npz\[input\]: object arrays are not accepted"):
        open_dataset(tmp_path / "obj.npz")
    np.savez(tmp_path / "len.npz", input=np.zeros((3, 1, 2, 2)), labels=np.zeros(2, int))
    with pytest.raises(IRError, match="same leading sample axis"):
        open_dataset(tmp_path / "len.npz")
    x = np.zeros((3, 1, 2, 2), np.float32)
    x[2, 0, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", input=x)
    with pytest.raises(IRError, match=r"nan.npz: array 'input' holds NaN or infinity \(sample 2\)"):
        list(iter_batches(open_dataset(tmp_path / "nan.npz"), GREY))
    np.savez(tmp_path / "shape.npz", input=np.zeros((3, 1, 3, 3), np.float32))
    with pytest.raises(IRError, match=r"samples of shape \[1, 3, 3\] but model input 'input' expects"):
        list(iter_batches(open_dataset(tmp_path / "shape.npz"), GREY))
    np.savez(tmp_path / "two.npz", a=x, b=x)
    with pytest.raises(IRError, match="no array named 'input'"):
        list(iter_batches(open_dataset(tmp_path / "two.npz"), GREY))
    np.savez(tmp_path / "empty.npz", input=np.zeros((0, 1, 2, 2), np.float32))
    with pytest.raises(IRError, match="empty"):
        open_dataset(tmp_path / "empty.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(IRError, match="junk.npz: not a readable .npz"):
        open_dataset(tmp_path / "junk.npz")


# ---------------------------------------------------------------- image folders
def test_image_folder_classes_and_labels_file(tmp_path):
    root = hot_pixel_folder(tmp_path / "f", per_class=2, classes=3)
    ds = open_dataset(root)
    assert ds.classes == ["c0", "c1", "c2"] and len(ds) == 6
    (b,) = iter_batches(ds, GREY, batch_size=10)
    assert b.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert b.inputs["input"].shape == (6, 1, 2, 2)
    assert np.argmax(b.inputs["input"].reshape(6, 4), 1).tolist() == [0, 0, 1, 1, 2, 2]
    lf = tmp_path / "labels.txt"
    lf.write_text("# reversed order\nc2\nc1\nc0\nc9\n")
    (b,) = iter_batches(open_dataset(root, labels_file=lf), GREY, batch_size=10)
    assert b.labels.tolist() == [2, 2, 1, 1, 0, 0]


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IRError, match="empty"):
        open_dataset(tmp_path / "empty")
    root = hot_pixel_folder(tmp_path / "f", per_class=1, classes=2)
    lf = tmp_path / "labels.txt"
    lf.write_text("c0\n")
    with pytest.raises(IRError, match=r"c1: class 'c1' is not in the class list .*labels.txt"):
        open_dataset(root, labels_file=lf)
    bad = root / "c1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(IRError, match=r"broken.png: cannot read image"):
        list(iter_batches(open_dataset(root), GREY))
    bad.unlink()
    (root / "c1" / "notes.txt").write_text("hi")
    with pytest.raises(IRError, match="notes.txt: not an image file"):
        open_dataset(root)


# ---------------------------------------------------------------- VOC
def test_voc_reads_boxes_difficult_and_custom_classes(tmp_path):
    root = voc_root(tmp_path / "voc", {"a": [("1", 2, 3, 8, 9, 0), ("0", 1, 1, 4, 4, 1)],
                                       "b": [("1", 5, 5, 6, 6, None)]})
    lf = tmp_path / "l.txt"
    lf.write_text("0\n1\n")
    ds = open_dataset(root, labels_file=lf)
    assert ds.kind == "VOC" and ds.task == "detection" and len(ds) == 2
    (b,) = iter_batches(ds, [InputSpec("input", (None, 3, 16, 16))], batch_size=8)
    g = b.objects[0]
    np.testing.assert_array_equal(g.boxes, [[2, 3, 8, 9], [1, 1, 4, 4]])
    assert g.labels.tolist() == [1, 0] and g.difficult.tolist() == [False, True] and (g.width, g.height) == (16, 16)
    assert b.objects[1].difficult.tolist() == [False]
    assert open_dataset(voc_root(tmp_path / "v2", {"x": [("dog", 1, 1, 2, 2, 0)]})).classes[11] == "dog"


@pytest.mark.parametrize("objects, message", [
    ([("0", 1, 1, None, 4, 0)], r"x.xml: object 1 <bndbox> has no <xmax>"),
    ([(None, 1, 1, 4, 4, 0)], r"x.xml: object 1 has no <name>"),
    ([("7", 1, 1, 4, 4, 0)], r"x.xml: object 1 has class '7', which is not in the class list"),
    ([("0", 5, 1, 4, 4, 0)], r"xmax < xmin"),
])
def test_voc_annotation_errors_name_the_file(tmp_path, objects, message):
    root = voc_root(tmp_path / "voc", {"x": objects})
    lf = tmp_path / "l.txt"
    lf.write_text("0\n1\n")
    with pytest.raises(IRError, match=message):
        list(iter_batches(open_dataset(root, labels_file=lf), [InputSpec("input", (None, 3, 16, 16))]))


def test_voc_layout_errors(tmp_path):
    root = voc_root(tmp_path / "voc", {"x": []})
    with pytest.raises(IRError, match=r"no image list ImageSets/Main/val.txt \(splits found: test\)"):
        open_dataset(root, split="val")
    (root / "ImageSets" / "Main" / "test.txt").write_text("\n")
    with pytest.raises(IRError, match="the image list is empty"):
        open_dataset(root)
    with pytest.raises(IRError, match="only an exact resize"):
        open_dataset(root, preprocess=Preprocess(crop=8))


# ---------------------------------------------------------------- subsets and calibration
def test_subset_is_seeded_sorted_and_bounded():
    a = select_indices(100, 10, seed=3)
    assert a.tolist() == sorted(a.tolist()) and len(set(a.tolist())) == 10
    assert a.tolist() == select_indices(100, 10, seed=3).tolist()
    assert a.tolist() != select_indices(100, 10, seed=4).tolist()
    assert select_indices(5, 10).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(IRError, match="--limit must be at least 1"):
        select_indices(5, 0)


def test_calibration_batches_from_all_three_sources(tmp_path):
    root = hot_pixel_folder(tmp_path / "f", per_class=5, classes=4)
    feeds = list(calibration_batches(root, "x", [-1, 1, 2, 2], batch_size=4, limit=6))
    assert [f["x"].shape for f in feeds] == [(4, 1, 2, 2), (2, 1, 2, 2)]
    np.savez(tmp_path / "c.npz", a=np.ones((3, 2), np.float32), b=np.zeros((3, 5), np.float32))
    (f,) = calibration_batches(tmp_path / "c.npz", ["a", "b"], {"a": ["N", 2], "b": ["N", 5]})
    assert set(f) == {"a", "b"} and f["b"].shape == (3, 5)
    voc = voc_root(tmp_path / "voc", {"p": [], "q": []}, size=8)
    (f,) = calibration_batches(voc, "img", [None, 8, 8, 3])
    assert f["img"].shape == (2, 8, 8, 3)
    write_png(tmp_path / "g" / "c" / "big.png", np.zeros((3, 3)))
    with pytest.raises(IRError, match=r"big.png: preprocessing gives a 3x3 image"):
        list(calibration_batches(tmp_path / "g", "x", [None, 1, 2, 2], preprocess=Preprocess(resize=3)))


def test_voc_xml_helper_is_valid():
    assert "<xmin>1</xmin>" in voc_xml([("a", 1, 2, 3, 4, 0)])
