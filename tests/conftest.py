"""Test-wide settings.

BLAS is limited to one thread per test process: pytest-xdist already runs one process per core,
and OpenBLAS threads spinning against each other make matmuls 10-100x slower on a busy machine.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
