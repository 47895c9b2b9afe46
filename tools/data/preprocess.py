"""Image preprocessing: how a decoded image becomes one row of a model input.

The steps, in order: convert to the channel format (RGB, BGR or GRAY), resize (shorter side to
N, or exactly to [H, W]), center crop, scale pixel values to [0, `scale`] (1.0 or 255),
subtract `mean` and divide by `std` (per channel, in the scaled units), and lay out as CHW or
HWC. Settings left unset are taken from the model's input shape: layout from where the 1- or
3-sized channel axis is, channels (GRAY for 1, RGB for 3), and an exact resize to the model's
static height and width when neither resize nor crop is given.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from irc.ir.diagnostics import IRError

CHANNELS = ("RGB", "BGR", "GRAY")
LAYOUTS = ("NCHW", "NHWC")
_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX}


def _size(v: Any, key: str, where: str) -> tuple[int, int] | int | None:
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    if (isinstance(v, (list, tuple)) and len(v) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)):
        return int(v[0]), int(v[1])
    raise IRError(f"{where}: {key} must be a positive integer or [height, width], got {v!r}")


def _floats(v: Any, key: str, where: str) -> tuple[float, ...] | None:
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (float(v),)
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return tuple(float(x) for x in v)
    raise IRError(f"{where}: {key} must be a number or a list of numbers, got {v!r}")


@dataclass(frozen=True)
class Preprocess:
    """Preprocessing settings; see the module docstring and specs/data-and-metrics.md."""

    resize: int | tuple[int, int] | None = None
    crop: int | tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    scale: float = 1.0
    channels: str | None = None
    layout: str | None = None
    interpolation: str = "bilinear"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "preprocessing") -> "Preprocess":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise IRError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls().updated(data, where)

    def updated(self, data: Mapping[str, Any], where: str = "preprocessing") -> "Preprocess":
        """A copy with the non-None entries of `data` applied and checked."""
        d = {k: v for k, v in data.items() if v is not None}
        if "resize" in d:
            d["resize"] = _size(d["resize"], "resize", where)
        if "crop" in d:
            d["crop"] = _size(d["crop"], "crop", where)
        for k in ("mean", "std"):
            if k in d:
                d[k] = _floats(d[k], k, where)
        if "std" in d and any(s == 0 for s in d["std"]):
            raise IRError(f"{where}: std must not contain 0")
        if "scale" in d:
            if d["scale"] not in (1, 255):
                raise IRError(f"{where}: scale must be 1 (pixels in [0,1]) or 255 (pixels in [0,255]), got {d['scale']!r}")
            d["scale"] = float(d["scale"])
        if "channels" in d:
            d["channels"] = str(d["channels"]).upper()
            if d["channels"] == "GREY":
                d["channels"] = "GRAY"
            if d["channels"] not in CHANNELS:
                raise IRError(f"{where}: channels must be one of {', '.join(CHANNELS)}, got {data['channels']!r}")
        if "layout" in d:
            d["layout"] = str(d["layout"]).upper()
            if d["layout"] not in LAYOUTS:
                raise IRError(f"{where}: layout must be NCHW or NHWC, got {data['layout']!r}")
        if "interpolation" in d and d["interpolation"] not in _RESAMPLE:
            raise IRError(f"{where}: interpolation must be one of {', '.join(_RESAMPLE)}, got {d['interpolation']!r}")
        return replace(self, **d)

    # ------------------------------------------------------------------ binding to a model
    def for_input(self, shape: Sequence[int | None], name: str = "input") -> "BoundPreprocess":
        """Fill in the unset settings from a model input shape [N, C, H, W] or [N, H, W, C]."""
        if len(shape) != 4:
            raise IRError(f"model input {name!r} has shape {list(shape)}; image data needs a 4-d input "
                          "(NCHW or NHWC)")
        layout = self.layout
        if layout is None:
            if shape[1] in (1, 3):
                layout = "NCHW"
            elif shape[3] in (1, 3):
                layout = "NHWC"
            else:
                raise IRError(f"model input {name!r} has shape {list(shape)}: cannot tell its layout; "
                              "give --layout NCHW or NHWC")
        c, h, w = (shape[1], shape[2], shape[3]) if layout == "NCHW" else (shape[3], shape[1], shape[2])
        channels = self.channels
        if channels is None:
            channels = "GRAY" if c == 1 else "RGB"
        want_c = 1 if channels == "GRAY" else 3
        if c is not None and c != want_c:
            raise IRError(f"model input {name!r} has {c} channel(s) but the preprocessing gives {want_c} ({channels})")
        resize, crop = self.resize, self.crop
        if resize is None and crop is None:
            if h is None or w is None:
                raise IRError(f"model input {name!r} has dynamic height/width {list(shape)}; give --resize")
            resize = (h, w)
        for k, v in (("mean", self.mean), ("std", self.std)):
            if v is not None and len(v) not in (1, want_c):
                raise IRError(f"preprocessing: {k} has {len(v)} values but the image has {want_c} channel(s)")
        return BoundPreprocess(replace(self, layout=layout, channels=channels, resize=resize),
                               (h, w), want_c)


@dataclass(frozen=True)
class BoundPreprocess:
    """Preprocessing with every setting resolved for one model input."""

    p: Preprocess
    model_hw: tuple[int | None, int | None]
    num_channels: int

    @property
    def exact_resize(self) -> bool:
        return isinstance(self.p.resize, tuple) and self.p.crop is None

    def __call__(self, image: Image.Image, source: str) -> np.ndarray:
        """One image as a float32 array [C,H,W] or [H,W,C]; `source` names it in errors."""
        p = self.p
        img = image.convert("L" if p.channels == "GRAY" else "RGB")
        resample = _RESAMPLE[p.interpolation]
        if isinstance(p.resize, tuple):
            h, w = p.resize
            img = img.resize((w, h), resample)
        elif isinstance(p.resize, int):
            short = min(img.size)
            if short == 0:
                raise IRError(f"{source}: the image is empty")
            w = max(1, round(img.size[0] * p.resize / short))
            h = max(1, round(img.size[1] * p.resize / short))
            img = img.resize((w, h), resample)
        if p.crop is not None:
            ch, cw = (p.crop, p.crop) if isinstance(p.crop, int) else p.crop
            if cw > img.size[0] or ch > img.size[1]:
                raise IRError(f"{source}: crop {ch}x{cw} is larger than the resized image "
                              f"{img.size[1]}x{img.size[0]}")
            left = (img.size[0] - cw) // 2
            top = (img.size[1] - ch) // 2
            img = img.crop((left, top, left + cw, top + ch))
        mh, mw = self.model_hw
        if (mh is not None and img.size[1] != mh) or (mw is not None and img.size[0] != mw):
            raise IRError(f"{source}: preprocessing gives a {img.size[1]}x{img.size[0]} image but the model "
                          f"expects {mh}x{mw}; adjust --resize/--crop")
        a: np.ndarray = np.asarray(img, dtype=np.float32)
        if a.ndim == 2:
            a = a[:, :, None]
        a = a * np.float32(p.scale / 255.0)
        if p.channels == "BGR":
            a = a[:, :, ::-1]
        if p.mean is not None:
            a = a - np.asarray(p.mean, dtype=np.float32)
        if p.std is not None:
            a = a / np.asarray(p.std, dtype=np.float32)
        if p.layout == "NCHW":
            a = a.transpose(2, 0, 1)
        return np.ascontiguousarray(a, dtype=np.float32)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (.toml) or JSON (any other suffix) settings file into a dict."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IRError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IRError(f"config file {path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {e}") from None
    if not isinstance(data, dict):
        raise IRError(f"config file {path}: expected a table/object at the top level")
    return data


def load_preprocess(path: str | Path) -> Preprocess:
    """Preprocessing from a file: the keys at the top level, or in a [preprocess] table."""
    data = read_config_file(path)
    if "preprocess" in data and isinstance(data["preprocess"], dict):
        data = data["preprocess"]
    else:
        data = {k: v for k, v in data.items() if not isinstance(v, dict)}
    return Preprocess.from_mapping(data, where=str(path))
