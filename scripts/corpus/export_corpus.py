"""Export a corpus of real exporter output: small models, each written by both torch exporters.

    pip install -e '.[corpus]'
    python scripts/corpus/export_corpus.py --out CORPUS_DIR            # every model
    python scripts/corpus/export_corpus.py --out CORPUS_DIR --only bert,gpt2_dynamo

Every model of the corpus is a small architecture with random weights: Hugging Face transformers
configs (BERT, DistilBERT, GPT-2, ViT, Swin, ConvNeXt, ResNet, MobileNetV2, SegFormer, wav2vec2,
the Whisper encoder, DETR), plain torch modules (nn.TransformerEncoder with a key-padding mask, a CNN
with SiLU / Hardswish / squeeze-excite, a detector head with TopK and NonMaxSuppression) and,
when tensorflow and tf2onnx are installed, Keras models converted by tf2onnx. Each architecture
is exported twice, by the TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`,
opsets 11-17, spread over the models) and by the dynamo exporter (`dynamo=True`, opset 18), with a
dynamic batch axis and, for text and audio, a dynamic sequence axis.

Before export, the BatchNorm statistics of every model are warmed on random batches in train mode
(a cumulative average over the batches), then the model is put in eval mode: random init leaves
running mean 0 and variance 1, and a deep CNN with those statistics outputs almost nothing.

For every model NAME (`<arch>_ts`, `<arch>_dynamo`, `<arch>_tf2onnx`) the script writes

    CORPUS_DIR/NAME/model.onnx     one file, weights inside (without the dynamo exporter's
                                   per-node Python stack traces, which hold local paths)
    CORPUS_DIR/NAME/calib.npz      32 samples: one array per model input, leading sample axis
    CORPUS_DIR/NAME/heldout.npz    16 other samples, the same layout
    CORPUS_DIR/NAME/meta.json      family, exporter, opset, inputs (name, dtype, shape with
                                   symbolic dims), outputs, op types, dynamic axes, versions,
                                   and the largest difference between onnxruntime and the
                                   framework (torch, keras) on the held-out samples

Text inputs are token ids with attention masks that pad the tail of most samples; images are
spatially correlated normal noise, audio a few tones plus noise. Everything is seeded by the
model's name, so a rerun writes the same data and weights. `irc bench --corpus CORPUS_DIR` then
quantizes every model with irc and with onnxruntime's quantizer and tabulates the results.

An architecture that one exporter cannot export is reported (and the script exits 1 at the end)
while the others go on.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

CALIB_SAMPLES = 32
HELDOUT_SAMPLES = 16
EXAMPLE_BATCH = 2          # the batch the exporters trace with (not 1: dynamo would specialize it)

from architectures import Arch, _images, _nms_translation, architectures  # noqa: E402


# --------------------------------------------------------------------------------------------
# export


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _torch_inputs(arrays: dict[str, np.ndarray]) -> dict:
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def warm_batchnorm(model, arch: Arch, rng: np.random.Generator) -> int:
    """Replace each BatchNorm's running statistics by their average over random batches in train
    mode; returns the number of BatchNorm modules."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    # transformers' frozen BatchNorm (DETR's backbone) has the buffers but no train mode: a hook
    # before each one averages its input's statistics into them as the batches pass
    frozen = [m for m in model.modules() if type(m).__name__.endswith("FrozenBatchNorm2d")]
    if not bns and not frozen:
        return 0
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    seen = {id(m): 0 for m in frozen}

    def average_in(module, args):
        x = args[0]
        seen[id(module)] += 1
        k = seen[id(module)]
        module.running_mean += (x.mean(dim=(0, 2, 3)) - module.running_mean) / k
        module.running_var += (x.var(dim=(0, 2, 3)) - module.running_var) / k

    hooks = [m.register_forward_pre_hook(average_in) for m in frozen]
    model.train()
    with torch.no_grad():
        for _ in range(arch.warm_batches):
            model(**_torch_inputs(arch.data(rng, 16, False)))
    for h in hooks:
        h.remove()
    for bn, m in zip(bns, saved):
        bn.momentum = m
    model.eval()
    return len(bns) + len(frozen)


def _dim_info(vi) -> list:
    return [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
            for d in vi.type.tensor_type.shape.dim]


def _export_torchscript(model, arch: Arch, example: dict, path: Path) -> None:
    import torch

    buf = io.BytesIO()
    names = list(example)
    axes = {**arch.dynamic, **arch.output_dynamic}
    torch.onnx.export(model, tuple(example[n] for n in names), buf, dynamo=False, opset_version=arch.ts_opset,
                      input_names=names, output_names=arch.outputs, dynamic_axes=axes, do_constant_folding=True)
    path.write_bytes(buf.getvalue())


def _export_dynamo(model, arch: Arch, example: dict, path: Path) -> None:
    import torch
    from torch.export import Dim

    dims: dict[str, object] = {}
    shapes = {}
    for name in example:
        spec = arch.dynamic.get(name, {})
        shapes[name] = {axis: dims.setdefault(label, Dim(label, min=1, max=4096)) for axis, label in spec.items()}
    table = _nms_translation() if arch.name == "detector" else None
    with tempfile.TemporaryDirectory() as tmp:
        onnx_program = torch.onnx.export(model, (), kwargs=example, dynamo=True, opset_version=arch.dynamo_opset,
                                         dynamic_shapes=shapes, output_names=arch.outputs, external_data=False,
                                         custom_translation_table=table, artifacts_dir=tmp)
        onnx_program.save(str(path), external_data=False)


def _ort_outputs(path: Path, arrays: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """onnxruntime's outputs per sample (batch 1)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n = len(next(iter(arrays.values())))
    return [sess.run(None, {k: v[i:i + 1] for k, v in arrays.items()}) for i in range(n)]


def _torch_outputs(model, arrays: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    import torch

    n = len(next(iter(arrays.values())))
    outs = []
    with torch.no_grad():
        for i in range(n):
            res = model(**_torch_inputs({k: v[i:i + 1] for k, v in arrays.items()}))
            outs.append([r.numpy() for r in (res if isinstance(res, tuple) else (res,))])
    return outs


def _max_diff(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> float:
    worst = 0.0
    for xa, xb in zip(a, b):
        for u, v in zip(xa, xb):
            if u.shape != v.shape:
                return float("inf")
            if u.size:
                worst = max(worst, float(np.max(np.abs(u.astype(np.float64) - v.astype(np.float64)))))
    return worst


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"


def drop_stack_traces(model) -> int:
    """Remove the dynamo exporter's per-node Python stack traces (they hold the exporting machine's
    absolute source paths); the other node metadata stays. Returns the number removed."""
    removed = 0
    graphs = [model.graph, *(f for f in model.functions)]
    while graphs:
        g = graphs.pop()
        for node in g.node:
            keep = [p for p in node.metadata_props if p.key != STACK_TRACE_KEY]
            removed += len(node.metadata_props) - len(keep)
            if len(keep) != len(node.metadata_props):
                del node.metadata_props[:]
                node.metadata_props.extend(keep)
            for attr in node.attribute:
                graphs += [attr.g] if attr.HasField("g") else []
                graphs += list(attr.graphs)
    return removed


def write_model_folder(folder: Path, onnx_path: Path, meta: dict, calib: dict, heldout: dict) -> None:
    """Fill `folder` with model.onnx, calib.npz, heldout.npz and meta.json from the exported file."""
    import onnx

    model = onnx.load(str(onnx_path))
    if drop_stack_traces(model):
        onnx_path.write_bytes(model.SerializeToString())
    onnx.checker.check_model(model)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    inits = {t.name for t in model.graph.initializer}
    inputs = [{"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name,
               "shape": _dim_info(vi)} for vi in model.graph.input if vi.name not in inits]
    outputs = [{"name": vi.name, "shape": _dim_info(vi)} for vi in model.graph.output]
    if [i["name"] for i in inputs] != list(calib):
        raise RuntimeError(f"the exported inputs {[i['name'] for i in inputs]} are not the data's {list(calib)}")
    meta = {**meta, "opset": opset, "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "inputs": inputs, "outputs": outputs, "calib_samples": CALIB_SAMPLES, "heldout_samples": HELDOUT_SAMPLES,
            "ops": sorted({n.op_type for n in model.graph.node})}
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(onnx_path, 0o644)  # mkstemp makes owner-only files
    os.replace(onnx_path, folder / "model.onnx")
    _save_npz(folder / "calib.npz", calib)
    _save_npz(folder / "heldout.npz", heldout)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def export_torch(arch: Arch, exporter: str, out: Path) -> dict:
    import torch
    import transformers

    name = f"{arch.name}_{'ts' if exporter == 'torchscript' else 'dynamo'}"
    seed = _seed(name)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = arch.build(exporter)
    model.eval()
    bns = warm_batchnorm(model, arch, rng)
    example = _torch_inputs(arch.data(rng, EXAMPLE_BATCH, True))
    calib = arch.data(rng, CALIB_SAMPLES, False)
    heldout = arch.data(rng, HELDOUT_SAMPLES, False)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".onnx")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if exporter == "torchscript":
            _export_torchscript(model, arch, example, tmp_path)
        else:
            _export_dynamo(model, arch, example, tmp_path)
        diff = _max_diff(_ort_outputs(tmp_path, heldout), _torch_outputs(model, heldout))
        meta = {"name": name, "family": arch.family, "architecture": arch.name, "exporter": exporter,
                "dynamic_axes": {**arch.dynamic, **arch.output_dynamic}, "seed": seed,
                "batchnorm_warmed": bns, "max_abs_diff_ort_vs_framework": diff, "torch": torch.__version__,
                "transformers": transformers.__version__}
        write_model_folder(out / name, tmp_path, meta, calib, heldout)
    finally:
        tmp_path.unlink(missing_ok=True)
    return json.loads((out / name / "meta.json").read_text())


# --------------------------------------------------------------------------------------------
# Keras models through tf2onnx


def _keras_models():
    """(name, builder, input shape without batch) of the Keras models converted by tf2onnx."""
    def small_cnn(keras):
        inp = keras.Input((32, 32, 3), name="image")
        x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("swish")(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
        x = keras.layers.ReLU(6.0)(x)
        x = keras.layers.Conv2D(32, 1)(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, keras.layers.Dense(10)(x))

    def small_mlp_attention(keras):
        inp = keras.Input((16, 32), name="sequence")
        x = keras.layers.LayerNormalization()(inp)
        x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=16)(x, x) + inp
        x = keras.layers.Dense(64, activation="relu")(x)
        return keras.Model(inp, keras.layers.Dense(8)(keras.layers.GlobalAveragePooling1D()(x)))

    return [("keras_cnn", small_cnn, (32, 32, 3)), ("keras_attention", small_mlp_attention, (16, 32))]


def export_keras(name: str, builder, shape: tuple[int, ...], out: Path, opset: int = 13) -> dict:
    import tensorflow as tf
    import tf2onnx
    from tensorflow import keras

    seed = _seed(name)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = builder(keras)
    input_name = model.inputs[0].name

    def data(n):
        if len(shape) == 3:  # NHWC images
            return {input_name: _images(rng, n, shape[2], shape[0]).transpose(0, 2, 3, 1).copy()}
        return {input_name: rng.standard_normal((n, *shape)).astype(np.float32)}

    # warm the BatchNormalization statistics: each layer's moving mean and variance become those of
    # its input on a batch of 64 random samples (earlier layers already warmed)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bns:
        act = keras.Model(model.inputs, bn.input)(data(64)[input_name], training=False).numpy()
        axes = tuple(range(act.ndim - 1))
        bn.moving_mean.assign(act.mean(axis=axes))
        bn.moving_variance.assign(act.var(axis=axes))
    calib, heldout = data(CALIB_SAMPLES), data(HELDOUT_SAMPLES)
    spec = (tf.TensorSpec((None, *shape), tf.float32, name=input_name),)
    fn = tf.function(lambda x: model(x, training=False))
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".onnx")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset, output_path=str(tmp_path))
        import onnx

        m = onnx.load(str(tmp_path))
        # tf2onnx names the input after the signature; keep the data's name in step with the file
        ort_in = [vi.name for vi in m.graph.input][0]
        calib, heldout = {ort_in: calib[input_name]}, {ort_in: heldout[input_name]}
        ref = [[model(v[i:i + 1], training=False).numpy()] for v in heldout.values() for i in range(len(v))]
        diff = _max_diff(_ort_outputs(tmp_path, heldout), ref)
        meta = {"name": name, "family": "keras", "architecture": name, "exporter": "tf2onnx",
                "dynamic_axes": {ort_in: {0: "batch"}}, "seed": seed, "batchnorm_warmed": len(bns),
                "max_abs_diff_ort_vs_framework": diff,
                "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__}
        write_model_folder(out / name, tmp_path, meta, calib, heldout)
    finally:
        tmp_path.unlink(missing_ok=True)
    return json.loads((out / name / "meta.json").read_text())


# --------------------------------------------------------------------------------------------


def jobs() -> list[tuple[str, Callable[[Path], dict]]]:
    """(model name, export function) for every model of the corpus, in order."""
    out = []
    for arch in architectures():
        for exporter, suffix in (("torchscript", "ts"), ("dynamo", "dynamo")):
            out.append((f"{arch.name}_{suffix}", lambda d, a=arch, e=exporter: export_torch(a, e, d)))
    for name, builder, shape in _keras_models():
        out.append((name + "_tf2onnx", lambda d, n=name, b=builder, s=shape: export_keras(n + "_tf2onnx", b, s, d)))
    return out


def _selected(names: list[str], only: str | None) -> list[str]:
    if not only:
        return names
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = [n for n in names if any(n == w or n.rsplit("_", 1)[0] == w for w in wanted)]
    unknown = [w for w in wanted if not any(n == w or n.rsplit("_", 1)[0] == w for n in names)]
    if unknown:
        raise SystemExit(f"unknown model {unknown[0]!r}; models: {', '.join(names)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="the corpus folder (one sub-folder per model)")
    p.add_argument("--only", metavar="NAMES",
                   help="comma-separated model names (bert_ts) or architectures (bert: both exporters)")
    p.add_argument("--list", action="store_true", help="print the model names and exit")
    args = p.parse_args(argv)
    table = dict(jobs())
    if args.list:
        print("\n".join(table))
        return 0
    if args.out is None:
        p.error("--out DIR is required")
    failed = []
    for name in _selected(list(table), args.only):
        t0 = time.perf_counter()
        if name.endswith("_tf2onnx"):
            try:
                import tensorflow  # noqa: F401
                import tf2onnx  # noqa: F401
            except ImportError as e:
                print(f"{name}: skipped, tensorflow and tf2onnx are not installed ({e})", flush=True)
                continue
        try:
            meta = table[name](args.out)
        except Exception as e:  # one architecture that does not export must not stop the others
            failed.append(name)
            detail = traceback.format_exc(limit=-3)
            print(f"{name}: FAILED: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}\n{detail}",
                  flush=True)
            continue
        size = (args.out / name / "model.onnx").stat().st_size / 1e6
        diff = meta["max_abs_diff_ort_vs_framework"]
        print(f"{name}: opset {meta['opset']}, {size:.2f} MB, {len(meta['ops'])} op types, "
              f"max |ort - framework| {diff:.2e}, {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
