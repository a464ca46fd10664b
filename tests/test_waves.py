"""Waveforms of the cocotb + Verilator runs (tb/waves.py, tb/waves_main.cpp, docs/verification.md).

Two models of the `tiny` preset (without the trace port) are built once for the module: one
recording FST, one VCD.  One short scenario (one synthetic class, clean run) is simulated several
times with different dump options; every run must also pass the scoreboard.

The expected values here come from the file formats and the clock, not from tb.waves: the FST
header block layout (type 0, section length 329, start/end time, variable count) is GTKWave's
fstapi format; VCD headers are read with pyvcd.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from golden_model.config import get_preset
from tb import reference as ref
from tb import runner, toolchain, waves
from tb.data import synthetic_class

REPO = Path(__file__).resolve().parent.parent
PERIOD_PS = runner.CLOCK_PERIOD_NS * 1000      # timescale 1ns/1ps: dump times are in ps
WINDOW = (2000, 4000)                           # cycles; the clean scenario runs ~10,900 cycles


def fst_header(path: Path) -> dict:
    """Fields of an FST file's header block (fstapi: FST_BL_HDR = 0, section length 329)."""
    raw = Path(path).read_bytes()[:330]
    kind, length, start, end = raw[0], *struct.unpack(">QQQ", raw[1:25])
    _mem, scopes, nvars = struct.unpack(">QQQ", raw[33:57])
    return {"block": kind, "length": length, "start": start, "end": end, "vars": nvars}


def vcd_info(path: Path, with_times: bool = False) -> dict:
    """Scopes, variables (full dotted names) and, optionally, all timestamps of a VCD file
    (IEEE 1364 section 18: `$scope <kind> <name> $end`, `$var <kind> <size> <id> <ref> ... $end`).
    Read by hand: pyvcd refuses the empty `$rootio` scope Verilator declares for cocotb's
    unnamed model."""
    scope, variables, scopes, times = [], [], [], []
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("ascii", "replace").split()
            if not line:
                continue
            if line[0] == "$scope":
                scope.append(line[2])
                scopes.append(".".join(scope))
            elif line[0] == "$upscope":
                scope.pop()
            elif line[0] == "$var":
                variables.append(".".join(scope + [line[4]]))
            elif line[0] == "$enddefinitions" and not with_times:
                break
            elif line[0].startswith("#"):
                times.append(int(line[0][1:]))
    return {"scopes": scopes, "vars": variables, "times": times}


@pytest.fixture(scope="module")
def job():
    cfg = get_preset("tiny")
    X = synthetic_class(min(cfg.n_max, 24), min(cfg.d_max, 16), cfg, seed=11)
    return ref.class_job(X, cfg.perplexity, "bisection", cfg, name="main", trace=False)


@pytest.fixture(scope="module")
def models():
    cfg = get_preset("tiny")
    return {fmt: runner.build(cfg, dut="core", trace=False, waves=True, waves_format=fmt) for fmt in waves.FORMATS}


@pytest.fixture(scope="module")
def dumps(models, job):
    """Run the scenario once per variant; {variant: RunResult} (each run passed the scoreboard)."""
    spec = {"scenarios": [ref.classes_scenario("clean", [job])]}
    variants = {
        "fst": ("fst", {}),
        "vcd": ("vcd", {}),
        "fst_window": ("fst", {"waves_from": WINDOW[0], "waves_to": f"{WINDOW[1] * runner.CLOCK_PERIOD_NS}ns"}),
        "vcd_window": ("vcd", {"waves_from": WINDOW[0], "waves_to": f"{WINDOW[1] * runner.CLOCK_PERIOD_NS}ns"}),
        "vcd_ctrl": ("vcd", {"waves_scope": "adapsne_core.ctrl", "waves_depth": 1}),
        "vcd_top1": ("vcd", {"waves_depth": 1}),
        "vcd_top2": ("vcd", {"waves_scope": "adapsne_core", "waves_depth": "2"}),
    }
    out = {}
    for name, (fmt, kw) in variants.items():
        res = runner.run(models[fmt], spec, name=f"waves-{name}", waves=True, echo=False, **kw)
        res.raise_on_failure()
        assert res.waves_file is not None and res.waves_file.is_file(), f"{name}: no dump in {res.run_dir}"
        out[name] = res
    return out


def test_fst_is_default_and_much_smaller_than_vcd(dumps, models):
    assert waves.resolve_format(True) == "fst"
    fst, vcd = dumps["fst"].waves_file, dumps["vcd"].waves_file
    assert fst.name == "dump.fst" and vcd.name == "dump.vcd"
    hdr = fst_header(fst)
    assert (hdr["block"], hdr["length"]) == (0, 329), f"{fst} is not an FST file: {hdr}"
    assert vcd.read_bytes()[:64].lstrip().startswith(b"$"), f"{vcd} is not a VCD file"
    # the same signals in both, and the same time span
    info = vcd_info(vcd)
    assert hdr["vars"] == len(info["vars"]) > 100
    sim_ps = dumps["fst"].outcomes[0].sim_time_ns * 1000
    assert hdr["start"] == 0 and abs(hdr["end"] - sim_ps) <= 2 * PERIOD_PS, (hdr, sim_ps)
    assert fst.stat().st_size * 10 < vcd.stat().st_size, (fst.stat().st_size, vcd.stat().st_size)


def test_no_generated_dollar_names_in_the_dump(dumps, models):
    """Amaranth/Yosys intermediates ($1, $auto$..., lmin$132) are not traced; named signals are,
    and the simulated Verilog is the generator's, byte for byte."""
    from hw.generate import generate_verilog

    info = vcd_info(dumps["vcd"].waves_file)
    assert len(info["vars"]) > 100
    assert not [v for v in info["vars"] if "$" in v.rsplit(".", 1)[1]]
    assert not [v for v in info["vars"] if v.startswith("$rootio")]   # its scope stays, empty
    for name in ("clk", "rst", "feat__valid", "res__payload", "status"):
        assert f"adapsne_core.{name}" in info["vars"]
    assert {"adapsne_core.ctrl", "adapsne_core.lane0.fu"} <= set(info["scopes"])
    model = models["vcd"]
    text = (model.build_dir / "adapsne_core.v").read_text()
    assert text == generate_verilog(model.cfg, trace=False)
    assert re.search(r"\\\$\d+ ", text), "the generated Verilog has no $N wires any more: update this test"


def test_window_limits_the_dump(dumps):
    lo, hi = WINDOW[0] * PERIOD_PS, WINDOW[1] * PERIOD_PS
    hdr = fst_header(dumps["fst_window"].waves_file)
    assert lo <= hdr["start"] < lo + PERIOD_PS and hi - PERIOD_PS < hdr["end"] <= hi, hdr
    assert dumps["fst_window"].waves_file.stat().st_size < dumps["fst"].waves_file.stat().st_size / 2
    times = vcd_info(dumps["vcd_window"].waves_file, with_times=True)["times"]
    assert lo <= min(times) < lo + PERIOD_PS and hi - PERIOD_PS < max(times) <= hi, (min(times), max(times))
    assert dumps["vcd_window"].waves_file.stat().st_size < dumps["vcd"].waves_file.stat().st_size / 3


def _instances(verilog: str) -> list:
    """Instance paths below the top, from Yosys' module naming: module `\\top.a.b` is the one
    instance top.a.b (Amaranth gives every instance its own module)."""
    return sorted(m.replace("adapsne_core.", "", 1)
                  for m in re.findall(r"^module \\(adapsne_core\.\S+) ", verilog, re.M))


def test_scope_and_depth_limit_the_dump(dumps, models):
    """Depth counts instance levels; struct members (ctrl.out_payload.h) belong to their instance."""
    insts = _instances((models["vcd"].build_dir / "adapsne_core.v").read_text())
    assert {"ctrl", "lane0", "lane0.fu"} <= set(insts)
    full = vcd_info(dumps["vcd"].waves_file)["vars"]

    def below(v, level):  # in an instance more than `level` instance levels below the top
        return any(v.startswith(f"adapsne_core.{i}.") for i in insts if i.count(".") >= level)
    ctrl = vcd_info(dumps["vcd_ctrl"].waves_file)["vars"]
    assert "ctrl.rowend" in insts          # an instance inside ctrl: depth 1 stops above it
    assert ctrl and sorted(ctrl) == sorted(v for v in full if v.startswith("adapsne_core.ctrl.") and not below(v, 1))
    assert not [v for v in ctrl if v.startswith("adapsne_core.ctrl.rowend.")]
    top1 = vcd_info(dumps["vcd_top1"].waves_file)["vars"]
    assert "adapsne_core.clk" in top1
    assert sorted(top1) == sorted(v for v in full if not below(v, 0))
    top2 = vcd_info(dumps["vcd_top2"].waves_file)["vars"]
    assert any(v.startswith("adapsne_core.lane0.") for v in top2)
    assert sorted(top2) == sorted(v for v in full if not below(v, 1))


def test_bad_options_are_refused_before_the_run(models):
    model = models["fst"]
    with pytest.raises(waves.WavesError, match=r"waves_scope='adapsne_core\.nope'.*adapsne_core\.ctrl"):
        runner.run(model, {"scenarios": []}, name="never", waves=True, waves_scope="adapsne_core.nope")
    assert not (model.build_dir / "runs" / "never").exists()
    with pytest.raises(waves.WavesError, match=r"waves_to=100 .*before waves_from='2us'"):
        runner.run(model, {"scenarios": []}, name="never", waves=True, waves_from="2us", waves_to=100)
    with pytest.raises(waves.WavesError, match=r"waves_depth=1001.*0 \(all levels\) to 1000"):
        runner.run(model, {"scenarios": []}, name="never", waves=True, waves_depth=1001)
    with pytest.raises(waves.WavesError, match=r"waves_from='12 apples'.*clock cycles"):
        runner.run(model, {"scenarios": []}, name="never", waves=True, waves_from="12 apples")
    with pytest.raises(waves.WavesError, match=r"waves_format='ghw'.*fst, vcd"):
        runner.build(model.cfg, waves=True, waves_format="ghw")
    with pytest.raises(waves.WavesError, match="waves are off"):
        runner.run(model, {"scenarios": []}, name="never", waves=False, waves_from=10)


def test_time_units():
    assert waves.parse_time("250", 10) == 2500
    assert waves.parse_time(250, 10) == 2500
    assert waves.parse_time("250 cycles", 10) == 2500
    assert waves.parse_time("3us", 10) == 3000
    assert waves.parse_time("1500ps", 10) == 1.5
    with pytest.raises(waves.WavesError):
        waves.parse_time("-5", 10)


def test_pytest_option_errors_exit_before_any_build(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for var in [o.env for o in waves.OPTIONS]:
        env.pop(var, None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--waves-from", "soon",
                          str(REPO / "tests" / "test_config.py")], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=120)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "ADAPSNE_WAVES_FROM (--waves-from)='soon': expected a non-negative number of clock cycles" in out.stderr


def test_docs_name_every_option():
    text = (REPO / "docs" / "verification.md").read_text()
    for opt in waves.OPTIONS:
        assert f"`{opt.flag}" in text and f"`{opt.env}" in text, opt


def test_fst_builds_without_lz4_development_files(tmp_path):
    """The stand-in lz4.h + liblz4.so link (used when liblz4-dev is missing) compiles, links and
    runs a program that compresses with lz4 (the probe inside fst_make_overrides)."""
    flags = toolchain.fst_make_overrides(tmp_path, force_shim=True)
    assert flags == (f"USER_CPPFLAGS=-I{tmp_path}", f"USER_LDFLAGS=-L{tmp_path}")
    assert "LZ4_compress_default" in (tmp_path / "lz4.h").read_text()
    assert (tmp_path / "liblz4.so").resolve().name.startswith("liblz4.so.1")
