"""Data sources shared by the CLI and the Python API: .npz files, ImageNet-style folders and
Pascal VOC 2007 roots, with image preprocessing, seeded subsets and batch streaming.

    from irc.data import calibration_batches
    for feed in calibration_batches("examples/data/digits-cls/calib", "input", [None, 1, 32, 32]):
        ...   # feed == {"input": float32 array [<=32, 1, 32, 32]}

The formats and preprocessing keys are specified in specs/data-and-metrics.md.
"""

from .base import Batch, Dataset, GroundTruth, InputSpec, read_class_list
from .preprocess import Preprocess, load_preprocess, read_config_file
from .source import calibration_batches, iter_batches, open_dataset, select_indices
from .voc import VOC_CLASSES

__all__ = ["Batch", "Dataset", "GroundTruth", "InputSpec", "Preprocess", "VOC_CLASSES",
           "calibration_batches", "iter_batches", "load_preprocess", "open_dataset",
           "read_class_list", "read_config_file", "select_indices"]
