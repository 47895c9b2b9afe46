"""Every test graph of cases.py through the onnx-qdq backend: valid ONNX, int8 kernels in
onnxruntime, the same numbers as the QDQ graph computed in float and as the numpy interpreter."""

from __future__ import annotations

import pytest

from .cases import CASES
from .qdq_check import check_interpreter, check_qdq

OUTSIDE_SPEC = {
    "matmul_and_float_results": "a gemm with an f32 result (QGemm's float output) is not in "
                                "specs/quantization.md §3; only matmul's is",
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    return request.param, CASES[request.param]()


def test_onnxruntime_runs_int8_kernels(case):
    name, c = case
    result = check_qdq(c.graph, c.feeds, warnings_expected=c.warnings, verify_exempt=c.verify_exempt)
    kernels = result.report["all"]["op_counts"]
    for op_type, least in c.kernels.items():
        assert kernels.get(op_type, 0) >= least, f"{name}: expected {least} x {op_type}, got {kernels}"


def test_interpreter_matches_onnxruntime(case):
    name, c = case
    if name in OUTSIDE_SPEC:
        pytest.skip(OUTSIDE_SPEC[name])
    result = check_qdq(c.graph, c.feeds, warnings_expected=c.warnings, verify_exempt=c.verify_exempt)
    check_interpreter(c.graph, c.feeds, result)
