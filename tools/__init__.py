"""irc: a post-training int8 quantization compiler for fast CPU inference.

    import irc
    result = irc.quantize("model.onnx", "calib.npz")    # ONNX + calibration data -> int8 QDQ
    result = irc.quantize("model.onnx", "calib.npz", irc.QuantizeOptions(method="percentile"))
    result.save("model.int8.onnx"); print(result.summary())

    graph = irc.import_onnx("model.onnx")               # the IR, to inspect or rewrite
    irc.save(graph, "model.ir"); graph = irc.load("model.ir")
"""

from irc.backends.onnx import export_onnx
from irc.ir import Graph, IRError, load_ir as load, parse_text, print_graph, save_ir as save
from irc.onnx_import import import_onnx
from irc.quantize import QuantizeResult, quantize
from irc.quantize_options import QuantizeOptions

__all__ = ["Graph", "IRError", "QuantizeOptions", "QuantizeResult", "export_onnx", "import_onnx", "load", "parse_text",
           "print_graph", "quantize", "save"]
