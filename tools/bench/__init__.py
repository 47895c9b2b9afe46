"""`irc bench`: fp32 against int8 variants of CNNs, timed in one process, with kernels and memory.

    from irc.bench import BenchOptions, run_bench, format_report
    result = run_bench(["resnet50", "my.onnx"], BenchOptions(batches=[1], threads=[1]))
    print(format_report(result))

For every model the variants (irc.bench.variants: fp32, irc, ort, and nncf / OpenVINO when
installed) are built from the same fp32 file and the same random-normal calibration samples.
Each (threads, batch) cell times all variants alternately, round by round (irc.bench.timing);
the speedup of a variant is the median over rounds of t_fp32 / t_variant. Also recorded: the
int8 kernel check of every quantized ONNX variant (irc.bench.kernels), the output cosine against
fp32, the file size, and the peak memory of a fresh process running it (irc.bench.memory).

The result is a JSON-ready dict:

    {"schema": "irc-bench/1", "command", "environment" (versions, CPU, load average),
     "options", "workdir", "reference": "fp32", "variants": [...], "seconds",
     "models": [{"name", "source", "inputs", "compute_nodes",
                 "variants": {NAME: {"file", "file_mb", "build_seconds", "runtime", "error"?,
                                     "kernels"?, "cosine"?, "memory"?: {"baseline_mb", "peak_mb"}}},
                 "timings": [{"threads", "batch", "rounds", "irc_vs_ort"?,
                              "variants": {NAME: {"median_ms", "speedup", "ms": [...]}}}
                             or {"threads", "batch", "skipped": reason}]}],
     "geomean": [{"threads", "batch", "variants": {NAME: {"speedup", "models"}}}]}

Model files are written to a work folder (default: the user's cache, irc.bench.default_workdir).
"""

from .report import format_report, geomean, geomeans
from .runner import BenchOptions, default_workdir, run_bench
from .variants import ALL_VARIANTS, DEFAULT_VARIANTS, default_variants

__all__ = ["ALL_VARIANTS", "BenchOptions", "DEFAULT_VARIANTS", "default_variants", "default_workdir",
           "format_report", "geomean", "geomeans", "run_bench"]
