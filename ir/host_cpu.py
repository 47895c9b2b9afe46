"""What the host CPU means for onnxruntime's int8 kernels (a fact the quantize pass and the tests share).

    u8s8_saturates() -> bool

onnxruntime's x86 u8 x i8 GEMM (QLinearConv, QGemm, QLinearMatMul, MatMulIntegerToFloat,
DynamicQuantizeMatMul) multiplies with VNNI's VPDPBUSD where the CPU has it (AVX-512 VNNI or
AVX-VNNI): exact int32 sums. Without VNNI (AVX2, AVX-512 without VNNI) it uses VPMADDUBSW,
which adds each pair of adjacent u8 x i8 products in saturating int16 first: a pair above
32767 is clipped, and the result can be many quanta off. Weights of at most 63 in magnitude
(the quantize pass's `reduce-range`) keep every pair inside int16 (255 * 63 * 2 = 32130).
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
"""cpuinfo flags under which onnxruntime's u8 x i8 kernels add exactly."""


def cpu_flags() -> frozenset[str] | None:
    """The host's CPU flags as Linux lists them (None where /proc/cpuinfo is not readable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


@functools.lru_cache(maxsize=1)
def u8s8_saturates() -> bool:
    """Whether onnxruntime's u8 x i8 kernels on this machine add products in saturating int16:
    an x86-64 CPU whose flags are known and include no VNNI."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = cpu_flags()
    return flags is not None and not (flags & VNNI_FLAGS)
