"""SSD-style detection post-processing: prior boxes, box decoding and per-class NMS.

    priors = ssd_priors(image_size=[300, 300], feature_maps=[[38, 38], ...], min_sizes=[...], ...)
    cfg = DetectionConfig.from_mapping({...})            # see specs/data-and-metrics.md
    dets = postprocess(outputs, cfg)                      # one Detections per image
"""

from .config import DetectionConfig
from .decode import decode_deltas, postprocess
from .nms import nms
from .priors import ssd_priors

__all__ = ["DetectionConfig", "decode_deltas", "nms", "postprocess", "ssd_priors"]
