"""`python -m hw.generate`: help, every preset generates, determinism, parameter errors, lint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from golden_model.config import PRESETS
from hw import generate as gen
from hw.blocks import synthesis_blocks
from hw.lint import WAIVERS, lint_file


def _run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hw.generate", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_presets_and_parameters():
    p = _run_cli("--help")
    assert p.returncode == 0
    for name in PRESETS:
        assert name in p.stdout
    for field in ("lanes", "n_max", "exp_table_bits", "fwa_fireworks", "--set", "--trace", "--out"):
        assert field in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--set", "lanes=0"], "error: lanes=0 is out of range: allowed [1, 256]"),
    (["--set", "nosuch=1"], "error: unknown parameter 'nosuch'"),
    (["--set", "w_frac=abc"], "error: w_frac must be an integer in [8, 24], got 'abc'"),
    (["--set", "interpolate=maybe"], "error: interpolate must be a bool, got 'maybe'"),
    (["--set", "lanes"], "error: --set expects key=value, got 'lanes'"),
    (["--preset", "huge"], "error: unknown preset 'huge'"),
    (["--set", "exp_table_bits=12"], "error: exp_table_bits=12 must not exceed t_frac=10"),
])
def test_bad_parameters_exit_2_one_line(args, message, tmp_path, capsys):
    assert gen.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_bad_parameter_exit_code_cli(tmp_path):
    p = _run_cli("--set", "lanes=0", "--out", str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.strip() == "error: lanes=0 is out of range: allowed [1, 256]"


def test_override_typing():
    assert gen.parse_override("lanes=0x10") == ("lanes", 16)
    assert gen.parse_override("interpolate=false") == ("interpolate", False)
    assert gen.parse_override("tolerance_log2=None") == ("tolerance_log2", None)
    assert gen.parse_override("tolerance_log2=-5") == ("tolerance_log2", -5)
    assert gen.parse_override("perplexity=12.5") == ("perplexity", 12.5)
    assert gen.parse_override("perplexity_candidates=3,5,8") == ("perplexity_candidates", (3.0, 5.0, 8.0))


def _generate(preset, out, *extra):
    assert gen.main(["--preset", preset, "--out", str(out), *extra]) == 0
    dirs = [d for d in out.iterdir() if d.is_dir()]
    assert len(dirs) == 1, dirs
    assert dirs[0].name == preset or dirs[0].name.startswith(preset + "-")
    return dirs[0] / "adapsne_core.v", dirs[0] / "adapsne_core.json"


def test_overrides_and_trace_get_their_own_directory(tmp_path):
    assert gen.main(["--preset", "tiny", "--out", str(tmp_path)]) == 0
    assert gen.main(["--preset", "tiny", "--out", str(tmp_path), "--set", "lanes=3"]) == 0
    assert gen.main(["--preset", "tiny", "--out", str(tmp_path), "--set", "lanes=4"]) == 0  # = preset
    names = sorted(d.name for d in tmp_path.iterdir())
    assert len(names) == 2 and "tiny" in names
    assert json.loads((tmp_path / "tiny" / "adapsne_core.json").read_text())["lanes"] == 4


def test_tiny_deterministic_and_lint_clean(tmp_path):
    v1, j1 = _generate("tiny", tmp_path / "a")
    v2, j2 = _generate("tiny", tmp_path / "b")
    assert v1.read_bytes() == v2.read_bytes()
    assert j1.read_bytes() == j2.read_bytes()
    text = v1.read_text()
    assert "module adapsne_core" in text
    assert "/work" not in text and "src =" not in text
    desc = json.loads(j1.read_text())
    assert desc["lanes"] == PRESETS["tiny"].lanes and "derived" in desc
    ports = desc["hw"]["ports"]
    for p in ("cfg_we", "cfg_addr", "cfg_wdata", "status", "feat__valid", "feat__ready", "feat__payload",
              "res__valid", "res__ready", "res__payload"):
        assert p in ports
    assert ports["cfg_addr"]["width"] == 4 and ports["cfg_wdata"]["width"] == 32
    assert list(ports["status"]["fields"]) == ["busy", "done", "error", "error_code"]
    assert ports["status"]["fields"]["error_code"] == [3, 4, False]
    assert set(ports["res__payload"]["fields"]) == {"index", "u", "h", "passes", "converged"}
    r = lint_file(v1)
    assert r.ok, r.output[:3000]


def test_generate_with_overrides_and_trace_lint_clean(tmp_path):
    v, j = _generate("tiny", tmp_path, "--trace", "--set", "lanes=3", "--set", "interpolate=false",
                     "--set", "fwa_gauss_sparks=0")
    desc = json.loads(j.read_text())
    assert desc["lanes"] == 3 and desc["interpolate"] is False
    assert "trace__payload" in desc["hw"]["ports"]
    r = lint_file(v)
    assert r.ok, r.output[:3000]


@pytest.mark.parametrize("preset", ["small", "digits"])
def test_preset_generates_lint_clean(preset, tmp_path):
    v, _ = _generate(preset, tmp_path)
    r = lint_file(v)
    assert r.ok, r.output[:3000]


@pytest.mark.slow
def test_large_preset_generates_lint_clean(tmp_path):
    """The large preset (64 lanes, 1024 points) takes 1-2 minutes to generate: `pytest -m slow`."""
    v, _ = _generate("large", tmp_path)
    r = lint_file(v)
    assert r.ok, r.output[:3000]


def test_large_preset_elaborates():
    """Without the slow Verilog emission: the large preset's core builds and its ports are right."""
    top = gen.build_core(PRESETS["large"])
    assert top.res.payload.shape().size == gen.core_description(PRESETS["large"], top=top)["hw"]["ports"]["res__payload"]["width"]


def test_waiver_list_is_short():
    assert len(WAIVERS) <= 6


def test_synthesis_blocks_convert():
    from amaranth.back import verilog
    blocks = synthesis_blocks(PRESETS["tiny"])
    assert {"lane", "function_unit", "feature_bank", "row_bank", "distance_engine", "controller"} == set(blocks)
    for name in ("lane", "function_unit", "feature_bank", "row_bank", "controller"):
        text = verilog.convert(blocks[name](), name=name, emit_src=False)
        assert f"module {name}" in text
