"""Test-wide settings: pin BLAS threads before NumPy loads (2-core machines), keep Amaranth on
its pinned built-in Yosys, and check the toolchain versions once."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ["AMARANTH_USE_YOSYS"] = "builtin"


def pytest_report_header(config):
    from hw.toolcheck import check_toolchain, versions

    check_toolchain()
    return "toolchain: " + ", ".join(f"{k} {v}" for k, v in versions().items())
