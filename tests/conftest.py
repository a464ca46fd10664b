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


def pytest_addoption(parser):
    # tb/runner.py: record VCD waveforms in the cocotb runs (a separate --trace model is built; the
    # VCD lands in build/sim/<model>/runs/<test>/dump.vcd).  Same as ADAPSNE_WAVES=1.
    parser.addoption("--waves", action="store_true", default=False,
                     help="record waveforms in cocotb simulations (same as ADAPSNE_WAVES=1)")


def pytest_configure(config):
    if config.getoption("--waves", default=False):
        os.environ["ADAPSNE_WAVES"] = "1"
