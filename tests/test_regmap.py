"""The control interface as data (hw.regmap): docs, C header, START rule, register file."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth.sim import Simulator

from golden_model import fixed as fx
from golden_model import reference as ref
from golden_model.config import get_preset
from hw import regmap
from hw.cheader import c_header
from hw.layouts import CoreLayouts, StatusLayout, field_offsets
from hw.top import AdapSNECore

ROOT = Path(__file__).resolve().parent.parent
TINY = get_preset("tiny")


def test_docs_tables_are_generated():
    doc = (ROOT / "docs" / "hardware.md").read_text()
    a, b = doc.index(regmap.MD_BEGIN), doc.index(regmap.MD_END) + len(regmap.MD_END) + 1
    assert doc[a:b] == regmap.markdown(), "docs/hardware.md is stale: paste `python -m hw.regmap --markdown`"


def test_no_literal_codes_in_rtl_and_testbench():
    """Error codes and addresses are read from the table, not written again."""
    top = (ROOT / "hw" / "top.py").read_text()
    assert not re.search(r"error_code\.eq\(\d", top)
    assert not re.search(r"m\.Case\(\d", top)
    for f in ("tb/regs.py", "tb/standin.py"):
        text = (ROOT / f).read_text()
        assert not re.search(r"\b(ERR|REG|CMD)_\w+\s*(,\s*\w+\s*)*=\s*\d", text), f


def test_codes_unique():
    for seq in ([r.addr for r in regmap.REGISTER_TABLE], [v for v, _, _ in regmap.COMMAND_TABLE],
                [e.code for e in regmap.ERROR_TABLE], [v for v, _ in regmap.POLICY_TABLE]):
        assert len(seq) == len(set(seq))
    assert max(r.addr for r in regmap.REGISTER_TABLE) < 1 << regmap.ADDR_BITS
    assert max(e.code for e in regmap.ERROR_TABLE) < 1 << dict(field_offsets(StatusLayout))["error_code"][1]


# --------------------------------------------------------------------------- the perplexity rule

def test_perplexity_rule_values():
    # tiny: perp_frac = 8; N = 5 -> (N-1)/2 = 2.0 -> register 512
    assert TINY.perp_frac == 8
    assert fx.perp_reg_max(5, TINY) == 512 and fx.perp_reg_max(6, TINY) == 640
    assert fx.perplexity_to_reg(fx.perplexity_max(9), TINY) == fx.perp_reg_max(9, TINY) == 1024
    assert ref.perplexity_cap(41) == 20.0 and ref.effective_perplexity(30.0, 41) == 20.0
    ok = {"N": 5, "D": 3, "PERP": 512, "POLICY": 0}
    assert regmap.start_error(ok, TINY) == 0
    assert regmap.start_error(dict(ok, PERP=513), TINY) == 3
    assert regmap.start_error(dict(ok, PERP=256), TINY) == 3          # Perp = 1
    assert regmap.start_error(dict(ok, PERP=257), TINY) == 0
    assert regmap.start_error(dict(ok, N=3, PERP=257), TINY) == 3     # N <= 3: no valid perplexity
    assert regmap.start_error(dict(ok, N=1), TINY) == 1
    assert regmap.start_error(dict(ok, D=0, POLICY=3), TINY) == 2
    assert regmap.start_error(dict(ok, POLICY=3), TINY) == 4


def _sim_start(cfg, writes):
    """Write registers, START, return the status two cycles later (Amaranth simulator)."""
    dut = AdapSNECore(cfg)
    out = {}

    async def tb(ctx):
        for name, v in writes:
            ctx.set(dut.cfg_we, 1)
            ctx.set(dut.cfg_addr, regmap.REGISTERS[name])
            ctx.set(dut.cfg_wdata, v)
            await ctx.tick()
        ctx.set(dut.cfg_we, 0)
        await ctx.tick()
        st = ctx.get(dut.status)
        out.update(busy=int(st.busy), error=int(st.error), code=int(st.error_code))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


@pytest.mark.parametrize("n, perp, code", [(5, 512, 0), (5, 513, 3), (32, 15 * 256 + 128, 0),
                                           (32, 15 * 256 + 129, 3), (4, 0xFFFFFFFF, 3)])
def test_rtl_start_perplexity_rule(n, perp, code):
    """At the cap (N-1)/2 the core starts; one LSB above it START is refused with code 3."""
    st = _sim_start(TINY, [("N", n), ("D", 2), ("PERP", perp), ("POLICY", 0), ("CMD", regmap.COMMANDS["START"])])
    assert st == ({"busy": 1, "error": 0, "code": 0} if code == 0 else {"busy": 0, "error": 1, "code": code})


@pytest.mark.parametrize("cfg, policy, dataflow, code", [
    (TINY, 0, 1, 0), (TINY, 1, 1, 7), (TINY, 2, 1, 7), (TINY, 1, 0, 0), (TINY, 0, 5, 0),
    (TINY.with_overrides(point_parallel=False), 0, 1, 7), (TINY.with_overrides(point_parallel=False), 0, 0, 0)],
    ids=["bisection-pp", "fwa-pp", "ksection-pp", "fwa-cp", "saturates-to-1",
         "core-without-pp", "core-without-pp-cp"])
def test_rtl_start_dataflow_rule(cfg, policy, dataflow, code):
    """DATAFLOW = 1 (point-parallel) starts only with bisection on a core built with point_parallel;
    otherwise START is refused with code DATAFLOW (7), as `regmap.start_error` says."""
    assert regmap.ERR["DATAFLOW"] == 7
    regs = {"N": 5, "D": 2, "PERP": 512, "POLICY": policy, "DATAFLOW": min(dataflow, 1)}
    assert regmap.start_error(regs, cfg) == code
    st = _sim_start(cfg, [("N", 5), ("D", 2), ("PERP", 512), ("POLICY", policy), ("DATAFLOW", dataflow),
                          ("CMD", regmap.COMMANDS["START"])])
    assert st == ({"busy": 1, "error": 0, "code": 0} if code == 0 else {"busy": 0, "error": 1, "code": code})


@pytest.mark.parametrize("n, code", [(11, 0), (10, 3)])
def test_rtl_perp_reset_value(n, code):
    """PERP resets to perplexity_to_reg(cfg.perplexity) (tiny: 5.0 = cap of N = 11)."""
    assert TINY.perplexity == 5.0
    st = _sim_start(TINY, [("N", n), ("D", 2), ("CMD", regmap.COMMANDS["START"])])
    assert st["code"] == code


def test_rtl_abort_idle_within_bound():
    """Amaranth-simulator check of ABORT during the load phase (the cocotb abort scenario covers
    the search phase, back-pressure and a full run afterwards)."""
    dut = AdapSNECore(TINY)
    seen = {}

    async def tb(ctx):
        for name, v in (("N", 5), ("D", 2), ("PERP", 512), ("POLICY", 1), ("CMD", regmap.COMMANDS["START"])):
            ctx.set(dut.cfg_we, 1)
            ctx.set(dut.cfg_addr, regmap.REGISTERS[name])
            ctx.set(dut.cfg_wdata, v)
            await ctx.tick()
        ctx.set(dut.cfg_we, 0)
        ctx.set(dut.feat.valid, 1)
        taken = 0
        for _ in range(40):
            _, _, rdy = await ctx.tick().sample(dut.feat.ready)
            taken += rdy
            if taken == 3:
                break
        ctx.set(dut.cfg_we, 1)
        ctx.set(dut.cfg_addr, regmap.REGISTERS["CMD"])
        ctx.set(dut.cfg_wdata, regmap.COMMANDS["ABORT"])
        for _ in range(regmap.ABORT_CYCLES):
            await ctx.tick()
        ctx.set(dut.cfg_we, 0)
        st = ctx.get(dut.status)
        seen.update(busy=int(st.busy), done=int(st.done), error=int(st.error), code=int(st.error_code),
                    ready=int(ctx.get(dut.feat.ready)))
        late = 0
        for _ in range(50):
            _, _, rdy, rv = await ctx.tick().sample(dut.feat.ready, dut.res.valid)
            late += rdy + rv
        seen["late"] = late

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen == {"busy": 0, "done": 0, "error": 1, "code": regmap.ERR["ABORTED"], "ready": 0, "late": 0}


# --------------------------------------------------------------------------- C header

def _cc() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler (cc/gcc) on PATH: the C header test needs one (apt-get install gcc)")
    return cc


def _expected(cfg, p: str) -> dict:
    """Macro -> value, from the tables (not from hw.cheader)."""
    lay = CoreLayouts(cfg)
    e = {f"{p}N_MAX": cfg.n_max, f"{p}D_MAX": cfg.d_max, f"{p}LANES": cfg.lanes, f"{p}PERP_FRAC": cfg.perp_frac,
         f"{p}PERP_ONE": 1 << cfg.perp_frac, f"{p}ABORT_CYCLES": regmap.ABORT_CYCLES}
    for r in regmap.REGISTER_TABLE:
        e[f"{p}REG_{r.name}"] = r.addr
    for name in ("N", "D", "PERP", "POLICY", "SEED"):
        r = regmap.register(name)
        e[f"{p}REG_{name}_WIDTH"] = r.width(cfg)
        e[f"{p}REG_{name}_RESET"] = r.reset(cfg)
    e[f"{p}REG_PERP_RESET"] = fx.perplexity_to_reg(cfg.perplexity, cfg)
    e[f"{p}REG_SEED_RESET"] = cfg.seed
    e.update({f"{p}CMD_{n}": v for n, v in regmap.COMMANDS.items()})
    e.update({f"{p}POLICY_{n.upper()}": v for n, v in regmap.POLICY_CODES.items()})
    e.update({f"{p}ERR_{n}": v for n, v in regmap.ERR.items()})
    for tag, layout in (("STATUS", StatusLayout), ("RESULT", lay.result)):
        e[f"{p}{tag}_WIDTH"] = layout.size
        for f, (off, w, s) in field_offsets(layout).items():
            e[f"{p}{tag}_{f.upper()}_OFFSET"], e[f"{p}{tag}_{f.upper()}_WIDTH"] = off, w
            e[f"{p}{tag}_{f.upper()}_SIGNED"] = int(s)
    for n in (4, 5, 17, cfg.n_max):
        e[f"{p}PERP_REG_MAX({n})"] = fx.perp_reg_max(n, cfg)
    return e


@pytest.mark.parametrize("preset", ["tiny", "digits"])
def test_c_header_compiles_and_matches_tables(preset, tmp_path):
    cfg = get_preset(preset)
    cc = _cc()
    (tmp_path / "adapsne_core.h").write_text(c_header(cfg, "adapsne_core"))
    (tmp_path / "b_adapsne_core.h").write_text(c_header(cfg.with_overrides(n_max=cfg.n_max // 2), "b_adapsne_core"))
    exp = _expected(cfg, "ADAPSNE_CORE_")
    exp_b = _expected(cfg.with_overrides(n_max=cfg.n_max // 2), "B_ADAPSNE_CORE_")
    # a result word with h = 5 and passes = 3, decoded through the FIELD macro
    res = field_offsets(CoreLayouts(cfg).result)
    word = (5 << res["h"][0]) | (3 << res["passes"][0])
    prog = ['#include <stdio.h>', '#include "adapsne_core.h"', '#include "adapsne_core.h"  /* guard */',
            '#include "b_adapsne_core.h"', 'int main(void) {']
    for k in [*exp, *exp_b]:
        prog.append(f'  printf("%s=%llu\\n", "{k}", (unsigned long long)({k}));')
    prog.append(f'  printf("FIELD_H=%llu\\n", ADAPSNE_CORE_FIELD({word}ull, RESULT_H));')
    prog.append(f'  printf("FIELD_PASSES=%llu\\n", ADAPSNE_CORE_FIELD({word}ull, RESULT_PASSES));')
    prog += ['  return 0;', '}']
    (tmp_path / "t.c").write_text("\n".join(prog) + "\n")
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True, cwd=tmp_path, capture_output=True, text=True)
    out = subprocess.run([str(tmp_path / "t")], check=True, capture_output=True, text=True).stdout
    got = dict(line.split("=", 1) for line in out.splitlines())
    want = {k: str(v) for k, v in {**exp, **exp_b, "FIELD_H": 5, "FIELD_PASSES": 3}.items()}
    assert got == want
