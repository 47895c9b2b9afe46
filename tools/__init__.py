"""irc: a post-training int8 quantization compiler for fast CPU inference.

    import irc
    graph = irc.load("model.ir")          # or irc.import_onnx("model.onnx")
"""

from irc.ir import Graph, IRError, load_ir as load, parse_text, print_graph, save_ir as save

__all__ = ["Graph", "IRError", "load", "parse_text", "print_graph", "save"]
