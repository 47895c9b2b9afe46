"""speed_check: int8 regions, and which of them go back to fp32 (timings injected: no test
depends on how fast this machine runs anything)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import irc
from irc.passes import PassContext, PassManager
from irc.passes.clone import clone_graph
from irc.passes.quantize import Quantize
from irc.speed_check import int8_regions, is_int8, speed_check, timing_units

from .graphs import batches, conv_graph, samples


def _calibrated():
    g = conv_graph()
    PassManager("calibrate").run(g, PassContext(calib=batches(samples(8), 8), quiet=True))
    return g


def _quantized(g, skip=("s",)):
    q, _ = clone_graph(g)
    p = Quantize(skip=skip)
    p.run(q, PassContext())
    return q, p


def test_regions_are_connected_int8_ops():
    q, _ = _quantized(_calibrated())
    names = [sorted(op.label for op in r) for r in int8_regions(q)]
    # the add in float splits the graph: c1 -> relu -> c2 before it, pool -> flatten -> matmul after
    assert names == [["c1", "c2", "r1"], ["f", "p", "y"]]  # the matmul keeps a float result


def test_a_region_that_is_not_faster_goes_back_to_fp32():
    g = _calibrated()
    q, p = _quantized(g)
    speedups = iter([1.4, 0.8, 1.2])            # first region faster, second slower, final model
    final, report = speed_check(g, q, p, {"x": samples(1)}, timer=lambda *a: next(speedups))
    assert [r.kept_fp32 for r in report.regions] == [False, True]
    assert report.regions[1].kinds == {"flatten": 1, "global_average_pool": 1, "matmul": 1}
    assert {op.label for op in final.ops if is_int8(op)} == {"c1", "r1", "c2"}
    assert ("kept fp32 for speed: 3 ops (1 flatten, 1 global_average_pool, 1 matmul; int8 0.80x)"
            in report.summary())


def test_no_region_faster_says_so():
    g = _calibrated()
    q, p = _quantized(g, skip=())
    final, report = speed_check(g, q, p, {"x": samples(1)}, timer=lambda *a: 0.9)
    assert report.regions and all(r.kept_fp32 for r in report.regions)
    assert not any(is_int8(op) for op in final.ops)
    assert "no region gains from int8: the model stays fp32 there" in report.summary()


def test_quantize_runs_the_speed_check_and_reports_it():
    r = irc.quantize(conv_graph(), {"x": samples(8)}, batch_size=8, speed_check=True)
    assert r.speed is not None and r.speed.regions
    assert r.summary().count("speed:") == 1
    assert "speed" in r.to_json()
    assert np.isfinite(r.speed.regions[0].speedup)


def test_small_regions_are_timed_together():
    q, _ = _quantized(_calibrated())
    regions = int8_regions(q)
    assert [len(u) for u in timing_units(regions, q, min_share=0.0)] == [1, 1]
    together = timing_units(regions, q, min_share=1.0)  # neither region alone is the whole model
    assert len(together) == 1 and len(together[0]) == 2
    g = _calibrated()
    q, p = _quantized(g)
    final, report = speed_check(g, q, p, {"x": samples(1)}, min_share=1.0, timer=lambda *a: 0.9)
    assert len(report.regions) == 1 and report.regions[0].regions == 2
    assert "2 int8 region(s) in 1 unit(s) timed" in report.summary()


def test_regions_that_are_not_faster_together_all_go_back_to_fp32():
    g = _calibrated()
    q, p = _quantized(g)
    speedups = iter([1.1, 1.05, 0.97])          # each unit looks faster, the two together are not
    final, report = speed_check(g, q, p, {"x": samples(1)}, timer=lambda *a: next(speedups))
    assert not any(r.kept_fp32 for r in report.regions)
    assert report.whole_model_fp32 and report.whole_model_speedup == 0.97
    assert not any(is_int8(op) for op in final.ops)
    assert "int8 does not make the model faster: it stays fp32" in report.summary()
    assert report.to_json()["whole_model_fp32"] is True


def _cli(capsys, *argv):
    from irc.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _conv_model_file(tmp_path):
    """A small conv model file and calibration data for the command line."""
    from irc.backends.onnx import export_onnx
    from irc.backends.onnx.exporter import save_onnx

    path = tmp_path / "m.onnx"
    save_onnx(export_onnx(conv_graph()), path)
    np.savez(tmp_path / "calib.npz", x=samples(8))
    return path, tmp_path / "calib.npz"


def test_irc_quantize_checks_speed_unless_told_not_to(tmp_path, capsys):
    model, calib = _conv_model_file(tmp_path)
    code, out, err = _cli(capsys, "quantize", model, "--calib", calib, "-o", tmp_path / "a.onnx", "--json", "--quiet")
    assert code == 0, err
    report = json.loads(out)["speed"]
    assert report["regions"] and all(np.isfinite(r["speedup"]) for r in report["regions"])
    code, out, err = _cli(capsys, "quantize", model, "--calib", calib, "-o", tmp_path / "b.onnx", "--json", "--quiet",
                          "--no-speed-check")
    assert code == 0, err
    assert "speed" not in json.loads(out)


def test_a_pipeline_without_quantize_skips_the_default_speed_check(tmp_path, capsys):
    model, calib = _conv_model_file(tmp_path)
    code, out, err = _cli(capsys, "quantize", model, "--calib", calib, "-o", tmp_path / "a.onnx", "--json", "--quiet",
                          "--pipeline", "fold,fuse")
    assert code == 0, err
    assert "speed" not in json.loads(out)
    code, _, err = _cli(capsys, "quantize", model, "--calib", calib, "-o", tmp_path / "b.onnx", "--quiet",
                        "--pipeline", "fold,fuse", "--speed-check")
    assert code == 2 and "the pipeline has no quantize pass" in err


@pytest.mark.parametrize("flag,qmax", [("--reduce-range", 63), ("--no-reduce-range", 127)])
def test_reduce_range_sets_the_weight_magnitude(tmp_path, capsys, flag, qmax):
    import onnx
    from onnx import numpy_helper

    model, calib = _conv_model_file(tmp_path)
    out = tmp_path / "q.onnx"
    code, _, err = _cli(capsys, "quantize", model, "--calib", calib, "-o", out, "--quiet", "--no-speed-check", flag)
    assert code == 0, err
    weights = [numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and t.dims and len(t.dims) == 4]
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) == qmax
