"""`python -m hw.generate`: help, every preset generates, determinism, parameter errors, lint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from golden_model import fixed as fx
from golden_model.config import DEFAULT_PRESET, PRESETS
from hw import regmap
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
    for field in ("lanes", "n_max", "exp_table_bits", "fwa_fireworks", "--set", "--trace", "--out", "--name",
                  "--prefix", "OUT/<preset>/", "OUT/<preset>-<hash>/", f"default {DEFAULT_PRESET}"):
        assert field in " ".join(p.stdout.split())


@pytest.mark.parametrize("make_out, message", [
    (lambda d: (d / "afile").write_text("mine") and d / "afile", "is not a directory"),
    (lambda d: Path("/proc/adapsne-x"), "error: --out: cannot create /proc/adapsne-x/tiny"),
])
def test_unusable_out_exits_2_without_traceback(make_out, message, tmp_path):
    out = make_out(tmp_path)
    p = _run_cli("--preset", "tiny", "--out", str(out))
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and message in p.stderr and p.stderr.count("\n") == 1
    if out.is_file():
        assert out.read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["--prefix", "1x_"], "error: --prefix '1x_' is not a Verilog/C identifier prefix"),
    (["--prefix", "a-b"], "error: --prefix 'a-b' is not a Verilog/C identifier prefix"),
    (["--name", "../up"], "error: --name '../up' must be one folder name"),
])
def test_bad_prefix_or_name_exit_2(args, message, tmp_path, capsys):
    assert gen.main(["--preset", "tiny", "--out", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not any(tmp_path.iterdir())


def test_one_default_preset_everywhere():
    from golden_model import cli
    assert cli.DEFAULT_PRESET is DEFAULT_PRESET
    for mod in ("golden_model.cli", "synth.report", "hw.generate", "synth.board"):
        p = subprocess.run([sys.executable, "-m", mod, *(["select"] if mod == "golden_model.cli" else []), "--help"],
                           capture_output=True, text=True)
        assert f"default {DEFAULT_PRESET}" in " ".join(p.stdout.split()), mod


def _modules(text):
    return set(re.findall(r"^\s*module\s+\\?(\S+?)[\s(]", text, re.M))


def test_prefixes_give_disjoint_module_names(tmp_path):
    """Two configurations with different prefixes can live in one design; --name picks the folder."""
    assert gen.main(["--preset", "tiny", "--out", str(tmp_path), "--prefix", "cfga_", "--name", "a"]) == 0
    assert gen.main(["--preset", "tiny", "--set", "lanes=3", "--out", str(tmp_path), "--prefix", "cfgb_",
                     "--name", "b"]) == 0
    va = (tmp_path / "a" / "cfga_adapsne_core.v").read_text()
    vb = (tmp_path / "b" / "cfgb_adapsne_core.v").read_text()
    ma, mb = _modules(va), _modules(vb)
    assert "cfga_adapsne_core" in ma and "cfgb_adapsne_core" in mb and len(ma) > 5
    assert all(m.startswith("cfga_") for m in ma) and all(m.startswith("cfgb_") for m in mb)
    assert not ma & mb
    assert "#define CFGB_ADAPSNE_CORE_LANES 3u" in (tmp_path / "b" / "cfgb_adapsne_core.h").read_text()
    assert json.loads((tmp_path / "a" / "cfga_adapsne_core.json").read_text())["hw"]["top"] == "cfga_adapsne_core"


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
    assert gen.main(["--preset", "tiny", *args, "--out", str(tmp_path)]) == 2  # a later --preset wins
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
    # clock and reset as Amaranth emits them: one clock edge, synchronous active-high reset
    assert re.search(r"^\s*input clk;", text, re.M) and re.search(r"^\s*input rst;", text, re.M)
    assert "posedge rst" not in text and "negedge rst" not in text and "negedge clk" not in text
    assert ports["clk"] == {"flow": "In", "width": 1, "signed": False, "role": "clock", "edge": "rising"}
    assert ports["rst"]["polarity"] == "active high" and ports["rst"]["synchronous"] is True
    cfg = PRESETS["tiny"]
    regs = desc["hw"]["registers"]
    assert regs["PERP"]["reset"] == fx.perplexity_to_reg(cfg.perplexity, cfg) and regs["SEED"]["reset"] == cfg.seed
    assert regs["N"] == {"addr": 0, "width": 6, "reset": 0, "access": "wo", "saturate_to": cfg.n_max + 1,
                         "meaning": regmap.register("N").meaning, "scaling": "points",
                         "saturation": regmap.register("N").saturation_doc}
    assert regs["PERP"]["scaling"] == "perplexity x 2^perp_frac (UQ.perp_frac)"
    assert desc["hw"]["commands"]["ABORT"]["value"] == regmap.COMMANDS["ABORT"]
    assert desc["hw"]["error_codes"]["3"]["name"] == "PERP_RANGE"
    assert (v1.parent / "adapsne_core.h").is_file()
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
    assert {"lane", "function_unit", "feature_bank", "row_bank", "distance_engine", "controller",
            "rowend_unit"} == set(blocks)
    for name in ("lane", "function_unit", "feature_bank", "row_bank", "controller", "rowend_unit"):
        text = verilog.convert(blocks[name](), name=name, emit_src=False)
        assert f"module {name}" in text


def test_lane_block_is_the_lane_the_core_builds(tmp_path):
    """Without ``phases`` the ``lane`` block ties the phase ops off, as the core does, so Yosys
    keeps far fewer flip-flops than in the lane with them; with ``phases`` the phase blocks are
    listed (and the lane without its phase ops as the 'before', not counted in the core)."""
    import dataclasses
    import json

    from amaranth.back import verilog
    from hw.blocks import PHASE_PORTS, block_counts
    from synth.tools import run_tool

    cfg = PRESETS["tiny"]
    search_lane = synthesis_blocks(cfg)["lane"]()
    assert not set(PHASE_PORTS) & set(search_lane.signature.members)
    with_phases = dataclasses.replace(cfg, phases=True)
    blocks = synthesis_blocks(with_phases)
    assert {"tsne_engine", "affinity", "select_unit", "phase_sequencer", "lane_search_only"} <= set(blocks)
    assert set(PHASE_PORTS) <= set(blocks["lane"]().signature.members)
    assert block_counts(with_phases)["lane_search_only"] == 0 and set(block_counts(with_phases)) == set(blocks)
    # K lanes, none with the update op; S update slices (part of the t-SNE engine)
    for s in (1, 3, 16):
        c = with_phases.with_overrides(tsne_update_slices=s)
        assert (block_counts(c)["lane"], block_counts(c)["update_slice"]) == (cfg.lanes, s)
    assert "upd" not in blocks["lane"]().signature.members["tsne"].signature.members
    assert "upd" in blocks["update_slice"]().signature.members["tsne"].signature.members

    def flops(component, name):
        (tmp_path / f"{name}.v").write_text(verilog.convert(component, name=name, emit_src=False))
        run_tool("yosys", ["-q", "-p", f"read_verilog {name}.v; hierarchy -top {name}; proc; flatten; opt -full; "
                                 f"tee -q -o {name}.json stat -json"],
                 tmp_path)
        cells = json.loads((tmp_path / f"{name}.json").read_text())["modules"]["\\" + name]["num_cells_by_type"]
        return sum(n for c, n in cells.items() if "dff" in c.lower())

    assert flops(search_lane, "search_lane") * 2 < flops(blocks["lane"](), "phase_lane")


def test_conversion_with_the_collector_paused_gives_the_same_bytes():
    """`hw.convert` pauses Python's cyclic garbage collector during the conversion: the Verilog is
    byte-identical to a conversion with it running, and the collector's state is restored, also
    when the body raises."""
    import gc

    from amaranth.back import verilog

    from hw.convert import gc_paused, to_verilog
    cfg = PRESETS["tiny"].with_overrides(phases=True)
    assert gc.isenabled()
    paused = to_verilog(gen.build_core(cfg), name="adapsne_core", emit_src=False)
    assert gc.isenabled()
    assert paused == verilog.convert(gen.build_core(cfg), name="adapsne_core", emit_src=False)
    with pytest.raises(RuntimeError, match="inside"):
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()       # was off before: stays off
    finally:
        gc.enable()
