"""Export a corpus of real exporter output: small models, each written by both torch exporters.

    pip install -e '.[corpus]'
    python tools/corpus/export_corpus.py --out CORPUS_DIR            # every model
    python tools/corpus/export_corpus.py --out CORPUS_DIR --only bert,gpt2_dynamo

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

CALIB_SAMPLES = 32
HELDOUT_SAMPLES = 16
EXAMPLE_BATCH = 2          # the batch the exporters trace with (not 1: dynamo would specialize it)
DYNAMO_OPSET = 18
VOCAB = 1000
SEQ = 32                   # sequence length of the saved text samples
EXAMPLE_SEQ = 24           # and of the traced example, so a fixed-length export would show


# --------------------------------------------------------------------------------------------
# input data


def _text(rng: np.random.Generator, n: int, seq: int, segments: bool = False) -> dict[str, np.ndarray]:
    """Token ids in [3, VOCAB) with a leading id 1, padded (id 0) after a random length; masks."""
    ids = rng.integers(3, VOCAB, (n, seq), dtype=np.int64)
    ids[:, 0] = 1
    lengths = rng.integers(seq // 2, seq + 1, n)
    lengths[0] = seq                                   # at least one sample without padding
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids[mask == 0] = 0
    out = {"input_ids": ids, "attention_mask": mask}
    if segments:
        split = lengths // 2
        out["token_type_ids"] = ((np.arange(seq)[None, :] >= split[:, None]) & (mask == 1)).astype(np.int64)
    return out


def _images(rng: np.random.Generator, n: int, channels: int, size: int) -> np.ndarray:
    """Normal noise with a coarse spatial component (neighbouring pixels correlate, as in photos)."""
    coarse = rng.standard_normal((n, channels, size // 8, size // 8))
    coarse = np.repeat(np.repeat(coarse, 8, axis=2), 8, axis=3)
    return (0.8 * coarse + 0.6 * rng.standard_normal((n, channels, size, size))).astype(np.float32)


def _waveform(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """A few tones plus noise, each sample normalized to zero mean and unit variance."""
    t = np.arange(length) / 16000.0
    freqs = rng.uniform(80, 4000, (n, 3, 1))
    amps = rng.uniform(0.2, 1.0, (n, 3, 1))
    wave = (amps * np.sin(2 * np.pi * freqs * t)).sum(1) + 0.3 * rng.standard_normal((n, length))
    wave = (wave - wave.mean(1, keepdims=True)) / wave.std(1, keepdims=True)
    return wave.astype(np.float32)


def _log_mel(rng: np.random.Generator, n: int, bins: int, frames: int) -> np.ndarray:
    """Smooth values in about [-1, 1], the range of Whisper's normalized log-mel features."""
    x = rng.standard_normal((n, bins, frames)).cumsum(axis=2) / np.sqrt(frames)
    return np.tanh(x + 0.2 * rng.standard_normal((n, bins, frames))).astype(np.float32)


# --------------------------------------------------------------------------------------------
# models


@dataclass
class Arch:
    """One architecture: how to build it, its inputs, and which axes are dynamic."""

    name: str
    family: str
    build: Callable[[str], object]                   # exporter -> torch.nn.Module taking the inputs by name
    data: Callable[[np.random.Generator, int, bool], dict[str, np.ndarray]]  # (rng, n, example)
    outputs: list[str]
    dynamic: dict[str, dict[int, str]]               # input -> {axis: dim name}
    output_dynamic: dict[str, dict[int, str]]
    ts_opset: int
    dynamo_opset: int = DYNAMO_OPSET
    warm_batches: int = 8


def _hf_wrapper(model, inputs: list[str], fields: list[str]):
    """A module whose forward takes `inputs` by name and returns the chosen output fields as a tuple
    (the exporters need named parameters, and tensors rather than a ModelOutput)."""
    from torch import nn

    class Outputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def run(self, **kwargs):
            out = self.model(**kwargs)
            return tuple(out[f] for f in fields)

    class TextWithSegments(Outputs):
        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.run(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)

    class Text(Outputs):
        def forward(self, input_ids, attention_mask):
            return self.run(input_ids=input_ids, attention_mask=attention_mask)

    class Pixels(Outputs):
        def forward(self, pixel_values):
            return self.run(pixel_values=pixel_values)

    class Waveform(Outputs):
        def forward(self, input_values):
            return self.run(input_values=input_values)

    class Features(Outputs):
        def forward(self, input_features):
            return self.run(input_features=input_features)

    by_inputs = {("input_ids", "attention_mask", "token_type_ids"): TextWithSegments,
                 ("input_ids", "attention_mask"): Text, ("pixel_values",): Pixels,
                 ("input_values",): Waveform, ("input_features",): Features}
    return by_inputs[tuple(inputs)]()


def _hf(config_cls: str, model_cls: str, inputs: list[str], fields: list[str], eager_for: tuple[str, ...] = (),
        **config):
    """A transformers model from a config; for the exporters in `eager_for` with the eager attention
    (TorchScript writes scaled_dot_product_attention only from opset 14 on)."""
    def build(exporter: str):
        import transformers

        extra = {"attn_implementation": "eager"} if exporter in eager_for else {}
        cfg = getattr(transformers, config_cls)(**config, **extra)
        return _hf_wrapper(getattr(transformers, model_cls)(cfg), inputs, fields)

    return build


def _text_axes(names: list[str]) -> dict[str, dict[int, str]]:
    return {n: {0: "batch", 1: "sequence"} for n in names}


def _whisper_encoder(exporter: str):
    import transformers
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    cfg = transformers.WhisperConfig(num_mel_bins=16, d_model=64, encoder_layers=2, encoder_attention_heads=4,
                                     encoder_ffn_dim=128, max_source_positions=32, decoder_layers=1,
                                     decoder_attention_heads=4, decoder_ffn_dim=128, vocab_size=VOCAB)
    return _hf_wrapper(WhisperEncoder(cfg), ["input_features"], ["last_hidden_state"])


def _transformer_encoder(exporter: str):
    import torch
    from torch import nn

    class TextEncoder(nn.Module):
        """Token and position embeddings, nn.TransformerEncoder with a key-padding mask, masked mean
        pooling and a classifier."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 64, padding_idx=0)
            self.pos = nn.Parameter(torch.randn(64, 64) * 0.02)
            layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, activation="gelu", batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(64, 8)

        def forward(self, input_ids, attention_mask):
            x = self.embed(input_ids) + self.pos[: input_ids.shape[1]]
            x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
            m = attention_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
            return x, self.head(pooled)

    return TextEncoder()


def _cnn_silu_se(exporter: str):
    from torch import nn

    class SqueezeExcite(nn.Module):
        def __init__(self, c: int, r: int = 4) -> None:
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.reduce = nn.Conv2d(c, c // r, 1)
            self.act = nn.SiLU()
            self.expand = nn.Conv2d(c // r, c, 1)
            self.gate = nn.Sigmoid()

        def forward(self, x):
            return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))

    class Block(nn.Module):
        """Inverted residual: 1x1 expand (SiLU), 3x3 depthwise (Hardswish), squeeze-excite, 1x1 project."""

        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            mid = cin * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU(),
                nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.Hardswish(),
                SqueezeExcite(mid), nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.body(x)
            return x + y if self.residual else y

    class EfficientStyleNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
            self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 24, 2), Block(24, 24, 1), Block(24, 40, 2),
                                        Block(40, 40, 1))
            self.head = nn.Sequential(nn.Conv2d(40, 128, 1, bias=False), nn.BatchNorm2d(128), nn.Hardswish(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, 10))

        def forward(self, pixel_values):
            return self.head(self.blocks(self.stem(pixel_values)))

    return EfficientStyleNet()


NMS_MAX_OUTPUT = 16
NMS_IOU = 0.5
NMS_SCORE = 0.05
NMS_TOPK = 48


def _nms_reference(boxes, scores, max_output: int, iou: float, score_threshold: float):
    """ONNX NonMaxSuppression semantics in torch (corner boxes): [selected, 3] (batch, class, box)."""
    import torch

    out = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[b, c]
            order = torch.argsort(s, descending=True)
            keep: list[int] = []
            for i in order.tolist():
                if s[i] <= score_threshold or len(keep) >= max_output:
                    break
                bi = boxes[b, i]
                ok = True
                for j in keep:
                    bj = boxes[b, j]
                    w = (torch.minimum(bi[2], bj[2]) - torch.maximum(bi[0], bj[0])).clamp(min=0)
                    h = (torch.minimum(bi[3], bj[3]) - torch.maximum(bi[1], bj[1])).clamp(min=0)
                    inter = w * h
                    union = (bi[2] - bi[0]) * (bi[3] - bi[1]) + (bj[2] - bj[0]) * (bj[3] - bj[1]) - inter
                    if inter / union.clamp(min=1e-9) > iou:
                        ok = False
                        break
                if ok:
                    keep.append(i)
            out += [[b, c, i] for i in keep]
    return torch.tensor(out, dtype=torch.int64).reshape(-1, 3)


def _register_nms() -> None:
    """corpus::nms, a torch custom op with ONNX NonMaxSuppression's semantics, and its export to
    NonMaxSuppression for both exporters (torch itself has no NMS op; torchvision is not used)."""
    import torch

    if hasattr(torch.ops, "corpus") and hasattr(torch.ops.corpus, "nms"):
        return

    @torch.library.custom_op("corpus::nms", mutates_args=())
    def nms(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return _nms_reference(boxes, scores, NMS_MAX_OUTPUT, NMS_IOU, NMS_SCORE)

    @nms.register_fake
    def _(boxes, scores):
        n = torch.library.get_ctx().new_dynamic_size()
        return boxes.new_empty((n, 3), dtype=torch.int64)

    def symbolic(g, boxes, scores):
        return g.op("NonMaxSuppression", boxes, scores,
                    g.op("Constant", value_t=torch.tensor([NMS_MAX_OUTPUT], dtype=torch.int64)),
                    g.op("Constant", value_t=torch.tensor([NMS_IOU], dtype=torch.float32)),
                    g.op("Constant", value_t=torch.tensor([NMS_SCORE], dtype=torch.float32)))

    torch.onnx.register_custom_op_symbolic("corpus::nms", symbolic, 11)


def _nms_translation() -> dict:
    import torch
    from onnxscript import opset18 as op

    def nms_onnx(boxes, scores):
        return op.NonMaxSuppression(boxes, scores, op.Constant(value_ints=[NMS_MAX_OUTPUT]),
                                    op.Constant(value_floats=[NMS_IOU]), op.Constant(value_floats=[NMS_SCORE]))

    return {torch.ops.corpus.nms.default: nms_onnx}


def _detector(exporter: str):
    import torch
    from torch import nn

    _register_nms()

    def cbr(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class TinyDetector(nn.Module):
        """A single-scale anchor-free detector: CNN features, per-cell box and class heads, the
        TopK best cells, and NonMaxSuppression over them (per class)."""

        def __init__(self, classes: int = 3) -> None:
            super().__init__()
            self.backbone = nn.Sequential(cbr(3, 16, 2), cbr(16, 32, 2), cbr(32, 32, 1), cbr(32, 64, 2))
            self.box = nn.Conv2d(64, 4, 1)
            self.cls = nn.Conv2d(64, classes, 1)
            self.classes = classes

        def forward(self, pixel_values):
            f = self.backbone(pixel_values)
            n, _, h, w = f.shape
            ys = torch.arange(h, dtype=f.dtype).view(1, h, 1).expand(1, h, w)
            xs = torch.arange(w, dtype=f.dtype).view(1, 1, w).expand(1, h, w)
            d = self.box(f)
            cx, cy = xs + torch.sigmoid(d[:, 0]), ys + torch.sigmoid(d[:, 1])
            bw, bh = torch.exp(d[:, 2].clamp(max=3.0)), torch.exp(d[:, 3].clamp(max=3.0))
            boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1).reshape(n, -1, 4)
            cls = torch.sigmoid(self.cls(f)).reshape(n, self.classes, -1)           # [n, classes, cells]
            best, _ = cls.max(1)
            top_scores, top_idx = torch.topk(best, NMS_TOPK, dim=1)
            top_boxes = torch.gather(boxes, 1, top_idx.unsqueeze(-1).expand(n, NMS_TOPK, 4))
            top_cls = torch.gather(cls, 2, top_idx.unsqueeze(1).expand(n, self.classes, NMS_TOPK))
            selected = torch.ops.corpus.nms(top_boxes, top_cls)
            return top_boxes, top_scores, selected

    return TinyDetector()


def _detr(exporter: str):
    """DETR with a small transformers ResNet backbone (no timm, no pretrained weights): set
    prediction by a transformer decoder, so no TopK / NonMaxSuppression in the graph."""
    import transformers

    backbone = transformers.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
                                         layer_type="basic", out_features=["stage4"])
    cfg = transformers.DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                                  d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                                  decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10,
                                  num_labels=3)
    return _hf_wrapper(transformers.DetrForObjectDetection(cfg), ["pixel_values"], ["logits", "pred_boxes"])


def _img(size: int, channels: int = 3) -> Callable:
    return lambda rng, n, example: {"pixel_values": _images(rng, n, channels, size)}


def _txt(segments: bool = False, trace_at_data_length: bool = False) -> Callable:
    return lambda rng, n, example: _text(rng, n, EXAMPLE_SEQ if example and not trace_at_data_length else SEQ,
                                         segments)


IMG_AXES = {"pixel_values": {0: "batch"}}


def architectures() -> list[Arch]:
    text3, text2 = ["input_ids", "attention_mask", "token_type_ids"], ["input_ids", "attention_mask"]
    small_text = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                      vocab_size=VOCAB, max_position_embeddings=64)
    vision = dict(image_size=32, num_channels=3)
    return [
        Arch("bert", "bert", _hf("BertConfig", "BertModel", text3, ["last_hidden_state", "pooler_output"],
                                 **small_text, type_vocab_size=2),
             _txt(segments=True), ["last_hidden_state", "pooler_output"], _text_axes(text3),
             {"last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}}, ts_opset=14),
        Arch("distilbert", "distilbert",
             _hf("DistilBertConfig", "DistilBertModel", text2, ["last_hidden_state"], dim=64, n_layers=2, n_heads=4,
                 hidden_dim=128, vocab_size=VOCAB, max_position_embeddings=64, eager_for=("torchscript",)),
             _txt(), ["last_hidden_state"], _text_axes(text2), {"last_hidden_state": {0: "batch", 1: "sequence"}},
             ts_opset=13),
        Arch("gpt2", "gpt2",
             _hf("GPT2Config", "GPT2LMHeadModel", text2, ["logits"], n_embd=64, n_layer=2, n_head=4, n_positions=64,
                 vocab_size=VOCAB, use_cache=False),
             _txt(), ["logits"], _text_axes(text2), {"logits": {0: "batch", 1: "sequence"}}, ts_opset=15),
        # TorchScript bakes the traced sequence length into nn.MultiheadAttention's reshapes (the
        # file declares a dynamic axis but runs only at that length): trace it at the data's length
        Arch("transformer_encoder", "torch.nn.TransformerEncoder", _transformer_encoder,
             _txt(trace_at_data_length=True),
             ["hidden", "logits"], _text_axes(text2),
             {"hidden": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}, ts_opset=16),
        Arch("vit", "vit",
             _hf("ViTConfig", "ViTForImageClassification", ["pixel_values"], ["logits"], **vision, patch_size=4,
                 hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, num_labels=10,
                 eager_for=("torchscript",)),
             _img(32), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=12),
        Arch("swin", "swin",
             _hf("SwinConfig", "SwinForImageClassification", ["pixel_values"], ["logits"], **vision, patch_size=2,
                 embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4, num_labels=10, eager_for=("dynamo",)),
             _img(32), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=17),
        Arch("convnext", "convnext",
             _hf("ConvNextConfig", "ConvNextForImageClassification", ["pixel_values"], ["logits"], num_channels=3,
                 hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 2, 1], num_labels=10, image_size=64),
             _img(64), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=17),
        Arch("resnet", "resnet",
             _hf("ResNetConfig", "ResNetForImageClassification", ["pixel_values"], ["logits"], num_channels=3,
                 embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[2, 2, 2, 2], layer_type="basic",
                 num_labels=10),
             _img(64), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=11),
        Arch("mobilenetv2", "mobilenet_v2",
             _hf("MobileNetV2Config", "MobileNetV2ForImageClassification", ["pixel_values"], ["logits"],
                 num_channels=3, image_size=64, depth_multiplier=0.35, num_labels=10),
             _img(64), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=11),
        Arch("segformer", "segformer",
             _hf("SegformerConfig", "SegformerForSemanticSegmentation", ["pixel_values"], ["logits"], num_channels=3,
                 num_encoder_blocks=2, depths=[1, 1], sr_ratios=[4, 2], hidden_sizes=[16, 32], patch_sizes=[7, 3],
                 strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2], decoder_hidden_size=32,
                 num_labels=5, eager_for=("torchscript",)),
             _img(64), ["logits"], IMG_AXES, {"logits": {0: "batch"}}, ts_opset=13),
        Arch("cnn_silu_se", "torch CNN (SiLU, Hardswish, squeeze-excite)", _cnn_silu_se, _img(32), ["logits"],
             IMG_AXES, {"logits": {0: "batch"}}, ts_opset=14),
        Arch("wav2vec2", "wav2vec2",
             _hf("Wav2Vec2Config", "Wav2Vec2Model", ["input_values"], ["last_hidden_state"], hidden_size=32,
                 num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(32, 32, 32),
                 conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16,
                 num_conv_pos_embedding_groups=4, vocab_size=32),
             lambda rng, n, example: {"input_values": _waveform(rng, n, 1200 if example else 1600)},
             ["last_hidden_state"], {"input_values": {0: "batch", 1: "samples"}},
             {"last_hidden_state": {0: "batch", 1: "frames"}}, ts_opset=16),
        Arch("whisper_encoder", "whisper", _whisper_encoder,
             lambda rng, n, example: {"input_features": _log_mel(rng, n, 16, 64)}, ["last_hidden_state"],
             {"input_features": {0: "batch"}}, {"last_hidden_state": {0: "batch"}}, ts_opset=17),
        Arch("detector", "torch detector (TopK, NonMaxSuppression)", _detector, _img(64),
             ["boxes", "scores", "selected"], IMG_AXES,
             {"boxes": {0: "batch"}, "scores": {0: "batch"}, "selected": {0: "selected"}}, ts_opset=11),
        Arch("detr", "detr", _detr, _img(64), ["logits", "pred_boxes"], IMG_AXES,
             {"logits": {0: "batch"}, "pred_boxes": {0: "batch"}}, ts_opset=17),
    ]


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
