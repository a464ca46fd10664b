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
    # tb/waves.py OPTIONS: --waves and --waves-format/-from/-to/-scope/-depth, each the same as its
    # ADAPSNE_WAVES* variable; any of them switches waveforms on (a separate --trace model is
    # built; the dump lands in build/sim/<model>/runs/<test>/dump.fst or dump.vcd).
    from tb.waves import OPTIONS

    group = parser.getgroup("adapsne waveforms (docs/verification.md)")
    for opt in OPTIONS:
        if opt.metavar:
            group.addoption(opt.flag, dest=opt.param, default=None, metavar=opt.metavar,
                            help=f"{opt.help} (same as {opt.env})")
        else:
            group.addoption(opt.flag, dest=opt.param, action="store_true", default=False,
                            help=f"{opt.help} (same as {opt.env}=1)")


def pytest_configure(config):
    import pytest
    from tb import waves
    from tb.runner import CLOCK_PERIOD_NS

    given = {o.param: config.getoption(o.param, default=None) for o in waves.OPTIONS}
    given = {k: v for k, v in given.items() if v not in (None, False)}
    for param, value in given.items():
        os.environ[waves.BY_PARAM[param].env] = "1" if value is True else str(value)
    try:  # bad values stop the session before any model is built (scopes are checked per model)
        if given and waves.resolve_format() is None:  # any --waves-* option switches waves on
            os.environ["ADAPSNE_WAVES"] = "1"
        waves.check_environment(CLOCK_PERIOD_NS)
    except waves.WavesError as e:
        raise pytest.UsageError(str(e)) from None
