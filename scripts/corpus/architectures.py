"""The corpus's architectures and the input samples they take (used by export_corpus.py).

`architectures()` lists every torch architecture of the corpus: a name, how to build the module
for an exporter, its inputs and dynamic axes, and how to draw its samples. Text samples are
token ids with attention masks that pad the tail of most samples, images are spatially
correlated normal noise, audio a few tones plus noise.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

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


