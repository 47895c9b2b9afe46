"""The calibrate pass on small graphs: ranges against numpy, both backends, batching, bad data."""

from __future__ import annotations

import numpy as np
import pytest

from irc.backends.numpy_interp import Interpreter
from irc.ir import parse_text, print_graph
from irc.ir.ranges import get_range, holds_nonfinite
from irc.passes import PassContext, PassError, PassManager
from irc.passes.calibrate import observed_values

from .graphs import batches, conv_graph, samples


def _calibrate(graph, calib, pipeline="calibrate", **ctx_kw):
    ctx = PassContext(calib=calib, quiet=True, **ctx_kw)
    PassManager(pipeline).run(graph, ctx)
    return ctx


def _reference_arrays(graph, x):
    """Every observed value's array for all samples, from the interpreter."""
    got = {}
    values = observed_values(graph)
    wanted = {id(v) for v in values}

    def listen(op, outs):
        for r, a in zip(op.results, outs):
            if id(r) in wanted:
                got.setdefault(r, []).append(a)

    interp = Interpreter(graph, [listen])
    interp.run({"x": x})
    got[graph.inputs[0]] = [x]
    return {v: np.concatenate(got[v]) for v in values}


def _ranges(graph):
    return {v.name: get_range(graph, v) for v in observed_values(graph)}


def test_minmax_ranges_are_the_data_extremes_widened_to_zero():
    g = conv_graph()
    x = samples(40)
    ref = _reference_arrays(g, x)
    ctx = _calibrate(g, batches(x, 16), "calibrate{backend=interpreter}")
    for v, a in ref.items():
        lo, hi = get_range(g, v)
        assert lo == np.float32(min(a.min(), 0)) and hi == np.float32(max(a.max(), 0)), v.name
    st = ctx.stats["calibrate"]
    assert st["samples"] == 40 and st["tensors observed"] == 8 and st["batches"] == 2  # 32 + 8
    assert st["method"] == "minmax" and st["backend"] == "interpreter" and st["seconds"] >= 0
    # constants get no range
    assert all(get_range(g, op.result) is None for op in g.ops if op.name == "const")


def test_both_backends_give_the_same_minmax_ranges():
    x = samples(30)
    a, b = conv_graph(), conv_graph()
    _calibrate(a, batches(x, 8), "calibrate{backend=interpreter}")
    ctx = _calibrate(b, batches(x, 8), "calibrate{backend=onnxruntime threads=1}")
    assert ctx.stats["calibrate"]["backend"] == "onnxruntime"
    ra, rb = _ranges(a), _ranges(b)
    assert ra["x"] == rb["x"]                   # graph inputs come straight from the data
    for name in ra:
        np.testing.assert_allclose(rb[name], ra[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy", "mse", "auto"])
def test_ranges_do_not_depend_on_the_batch_size(method):
    x = samples(37)
    results = []
    for size in (37, 5, 1):
        g = conv_graph()
        _calibrate(g, batches(x, size), f"calibrate{{method={method} backend=interpreter batch-size={size} bins=512}}")
        results.append(_ranges(g))
    assert results[0] == results[1] == results[2]
    assert all(lo <= 0 <= hi for lo, hi in results[0].values())


def test_percentile_clips_inside_the_extremes():
    g = conv_graph()
    x = samples(50)
    _calibrate(g, batches(x, 50), "calibrate{method=percentile percentile=99 backend=interpreter}")
    lo, hi = get_range(g, g.inputs[0])
    ref_lo, ref_hi = np.percentile(x, [1, 99])
    assert x.min() < lo < 0 < hi < x.max()
    assert abs(lo - ref_lo) < 0.05 and abs(hi - ref_hi) < 0.05


def test_fixed_batch_graph_is_fed_its_own_batch_size():
    g = conv_graph("1")
    x = samples(7)
    ctx = _calibrate(g, batches(x, 4))
    assert ctx.stats["calibrate"]["samples"] == 7 and ctx.stats["calibrate"]["batches"] == 7
    lo, hi = get_range(g, g.inputs[0])
    assert (lo, hi) == (float(np.float32(x.min())), float(np.float32(x.max())))
    # a fixed batch of 3: 7 samples run as 3 + 3 + 1 padded with 2 repeats
    g3 = conv_graph("3")
    ctx = _calibrate(g3, batches(x, 7), "calibrate{backend=interpreter}")
    assert ctx.stats["calibrate"]["padding samples"] == 2 and ctx.stats["calibrate"]["batches"] == 3


def test_samples_option_and_sources_that_pick_a_subset():
    x = samples(20)
    g = conv_graph()
    ctx = _calibrate(g, batches(x, 6), "calibrate{samples=9 backend=interpreter}")
    assert ctx.stats["calibrate"]["samples"] == 9
    assert get_range(g, g.inputs[0]) == (float(min(x[:9].min(), 0)), float(max(x[:9].max(), 0)))

    asked = {}

    class Source:
        description = "my source"

        def __len__(self):
            return 20

        def batches(self, batch_size, limit, seed):
            asked.update(batch_size=batch_size, limit=limit, seed=seed)
            rows = np.random.default_rng(seed).choice(20, limit, replace=False)
            yield {"x": x[np.sort(rows)]}

    g = conv_graph()
    ctx = _calibrate(g, Source(), "calibrate{samples=5 seed=3 batch-size=4 backend=interpreter}")
    assert asked == {"batch_size": 4, "limit": 5, "seed": 3}
    assert ctx.stats["calibrate"]["samples"] == 5


def test_a_callable_source_and_a_single_dict():
    x = samples(6)
    g = conv_graph()
    ctx = _calibrate(g, lambda: iter(batches(x, 2)), "calibrate{backend=interpreter}")
    assert ctx.stats["calibrate"]["samples"] == 6
    g2 = conv_graph()
    _calibrate(g2, {"x": x}, "calibrate{backend=interpreter}")
    assert _ranges(g) == _ranges(g2)


def test_ranges_survive_the_text_format():
    g = conv_graph()
    _calibrate(g, batches(samples(10), 10), "calibrate{method=entropy backend=interpreter}")
    text = print_graph(g)
    assert "q.range=[" in text
    again = parse_text(text)
    assert _ranges(again) == _ranges(g)
    assert print_graph(again) == text


def test_recalibration_replaces_old_ranges():
    g = conv_graph()
    _calibrate(g, batches(samples(10) * 10, 10), "calibrate{backend=interpreter}")
    _calibrate(g, batches(samples(10), 10), "calibrate{backend=interpreter}")
    lo, hi = get_range(g, g.inputs[0])
    assert hi < 10


def test_non_finite_activations_are_reported_not_fatal():
    g = parse_text("""func @main(%x: tensor<[N]x4xf32>) -> (tensor<[N]x4xf32>) {
  %r = relu(%x) : tensor<[N]x4xf32>
  %l = log(%r) : tensor<[N]x4xf32>
  return %l
}
""")
    x = np.array([[-1.0, 1.0, 2.0, np.e]] * 3, dtype=np.float32)
    ctx = _calibrate(g, {"x": x}, "calibrate{method=percentile}")
    assert ctx.stats["calibrate"]["tensors with NaN/inf values (kept in float)"] == ["l"]
    lo, hi = get_range(g, g.outputs[0])
    assert lo == 0.0 and hi == pytest.approx(1.0, rel=1e-6)
    assert holds_nonfinite(g, g.outputs[0]) and not holds_nonfinite(g, g.ops[0].result)
    assert "q.nonfinite=[0]" in print_graph(g)


# -- bad data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("calib, message", [
    (None, "needs calibration data"),
    ([{"y": samples(2)}], "batch 0: no array for input(s) 'x'; unknown name(s) 'y'"),
    ([{"x": samples(2), "z": samples(2)}], "unknown name(s) 'z'"),
    ([{"x": samples(2)[:, :2]}], "input 'x' has shape [2, 2, 6, 6], but the graph expects samples of shape [3, 6, 6]"),
    ([{"x": samples(2)[0]}], "input 'x' has shape [3, 6, 6]"),
    ([{"x": np.array([["a"]])}], "input 'x' has dtype <U1, not numbers"),
    ([{"x": samples(2).astype(np.int64)}], "input 'x' has dtype int64, but the graph's input is f32: calibration "
                                           "data for a float input must be float (int64 arrays are refused"),
    ([{"x": samples(2) > 0.5}], "input 'x' has dtype bool, but the graph's input is f32"),
    ([{"x": samples(2).astype(np.uint8)}], "input 'x' has dtype uint8, but the graph's input is f32"),
    ([samples(2)], "batch 0: expected a dict {input name: array}, got ndarray"),
    ([], "no calibration samples"),
    ([{"x": samples(0)}], "no calibration samples"),
    (42, "expected batches {input name: array}, got int"),
])
def test_bad_calibration_data_is_one_clear_error(calib, message):
    with pytest.raises(PassError) as info:
        _calibrate(conv_graph(), calib, "calibrate{backend=interpreter}")
    assert message in str(info.value)


def test_float_data_of_any_width_feeds_a_float_input():
    x = samples(4)
    ranges = []
    for data in (x, x.astype(np.float64), x.astype(np.float16).astype(np.float32), x.astype(np.float16)):
        g = conv_graph()
        _calibrate(g, [{"x": data}], "calibrate{backend=interpreter}")
        ranges.append(get_range(g, g.inputs[0]))
    assert ranges[0] == ranges[1] and ranges[2] == ranges[3]


def test_nan_names_the_input_the_batch_and_the_sample():
    x = samples(12)
    x[9, 1, 2, 3] = np.nan
    with pytest.raises(PassError, match=r"batch 2: input 'x' holds NaN or infinity in sample 1 of the batch "
                                        r"\(sample 9 overall\)"):
        _calibrate(conv_graph(), batches(x, 4))
    x = samples(3).astype(np.float64)
    x[0, 0, 0, 0] = 1e300                      # finite in f64, infinite once cast to the input's f32
    with pytest.raises(PassError, match="sample 0 overall"):
        _calibrate(conv_graph(), [{"x": x}])


@pytest.mark.parametrize("options, message", [
    ("percentile=30", "option 'percentile' must be in (50, 100]"),
    ("bins=4", "option 'bins' must be at least 16"),
    ("batch-size=0", "option 'batch-size' must be at least 1"),
    ("samples=-1", "option 'samples' must be 0 (all) or more"),
])
def test_bad_options(options, message):
    method = "method=percentile " if "percentile" in options else ""
    with pytest.raises(PassError) as info:
        _calibrate(conv_graph(), batches(samples(2), 2), f"calibrate{{{method}{options}}}")
    assert message in str(info.value)


@pytest.mark.parametrize("method", ["minmax", "entropy"])
@pytest.mark.parametrize("backend", ["interpreter", "onnxruntime"])
def test_a_tensor_without_any_finite_value_gets_no_range(method, backend):
    g = parse_text("""func @main(%x: tensor<[N]x4xf32>) -> (tensor<[N]x4xf32>) {
  %n = neg(%x) : tensor<[N]x4xf32>
  %s = sqrt(%n) : tensor<[N]x4xf32>
  return %s
}
""")
    x = np.abs(samples(3).reshape(-1)[:12]).reshape(3, 4) + 0.5      # sqrt of negatives: all NaN
    ctx = _calibrate(g, {"x": x}, f"calibrate{{method={method} backend={backend}}}")
    st = ctx.stats["calibrate"]
    assert st["tensors without a finite value (no range)"] == ["s"]
    assert get_range(g, g.outputs[0]) is None
    lo, hi = get_range(g, g.ops[0].result)
    assert hi == 0.0 and (lo == float(np.float32(-x.max())) if method == "minmax" else lo < -0.5)
