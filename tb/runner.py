"""Build one Verilator model per configuration and run cocotb test modules against it.

    from tb import runner
    model = runner.build(cfg, dut="core")            # cached in build/sim/<preset>-<hash>/
    result = runner.run(model, spec, name="clean")   # runs tb.core_tests in the simulator
    result.raise_on_failure()

* The Verilog comes from `hw.generate.generate_verilog(cfg, trace)` (dut="core") or from the
  stand-in `tb.standin.generate_verilog(cfg)` (dut="standin").
* The build directory is `build/sim/<preset>-<sha of cfg json + dut + trace + waves>`; inside it a
  stamp records the hash of the Verilog text and of the Verilator arguments, so a model is rebuilt
  only when the generated Verilog (i.e. hw/ or the configuration) or the flags change.  A file lock
  serialises concurrent builds of the same model.
* Port layouts are read off the component's Amaranth signature (`tb.layout.ports_of`) and stored
  in `ports.json` beside the model; `run()` merges them, the configuration and the test's scenario
  description into one `spec.json` and passes its path in $ADAPSNE_TB_SPEC to the simulator.  The
  cocotb module (`tb.core_tests`) reads everything from there (the runner overwrites PYTHONPATH, so
  the repository root is put on sys.path before the run).
* `tie_reset=True` builds the core inside tb/simtop.py's wrapper (rst tied to 0: one scenario per
  run) for long single runs, and compiles it with g++ `LONG_RUN_OPT` (-O2) instead of Verilator's
  -Os (`opt_fast`), profile-guided (`LONG_RUN_PGO`, `_build_pgo`), with the clock made inside the
  wrapper (`INTERNAL_CLOCK`); `RunResult.cpu_seconds` is the simulator's CPU time
  (docs/verification.md, "Simulation speed").
* Waveforms (tb/waves.py): `waves=True` (or a format name), or ADAPSNE_WAVES=1, or pytest
  `--waves`.  FST by default, VCD with waves_format="vcd"; a waves build is a separate model per
  format (Verilator needs --trace at build time) and the dump is `<run dir>/dump.fst|dump.vcd`
  (`RunResult.waves_file`).  `run()` takes a time window and a scope/depth (no rebuild).  Names
  containing `$` (Amaranth/Yosys intermediates) are not traced.  Off by default.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.config import AccelConfig

from . import layout as lay
from . import toolchain
from . import waves as wv

REPO_ROOT = Path(__file__).resolve().parent.parent
SIM_ROOT = REPO_ROOT / "build" / "sim"
CLOCK_PERIOD_NS = 10
TIMESCALE = ("1ns", "1ps")
TEST_MODULE = "tb.core_tests"

#: the tied-reset models (long single runs) make their clock inside the wrapper (`tb.simtop`):
#: no VPI timer callback and value put per clock edge (docs/verification.md, "Simulation speed")
INTERNAL_CLOCK = True
TIMING_ARGS = ["--timing"]

#: VPI access to the top module's ports only (`public_ports_vlt`), except in waves builds
PORTS_ONLY_VPI = True
# Amaranth's Verilog trips several Verilator lint warnings (width extensions, unused bits); none is
# fatal for simulation.  -Wno-fatal keeps any remaining warning from failing the build.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "--x-assign", "unique",
                  "--x-initial", "unique"]


def waves_requested(explicit: bool | str | None = None) -> bool:
    """Whether waveforms are on: `explicit` (True/False/format name), else $ADAPSNE_WAVES."""
    return wv.resolve_format(explicit) is not None


def cfg_hash(cfg: AccelConfig, dut: str, trace: bool, waves: bool | str) -> str:
    """`waves`: False, or the waveform format (True means the default format)."""
    waves = wv.DEFAULT_FORMAT if waves is True else waves
    key = json.dumps({"cfg": cfg.to_dict(derived=False), "dut": dut, "trace": trace, "waves": waves}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def model_dir(cfg: AccelConfig, dut: str = "core", trace: bool = False, waves: bool | str = False,
              tie_reset: bool = False) -> Path:
    """Build directory of a model (`build`); `tie_reset`: the tb/simtop.py wrapper, a model of its own."""
    tag = cfg.name if dut == "core" else f"{cfg.name}-{dut}"
    tag += "-tiedrst" if tie_reset else ""
    opt = opt_fast(tie_reset)
    tag += "" if opt == "-Os" else opt          # a separate model per optimisation
    tag += "-pgo" if pgo_enabled(tie_reset) else ""
    return SIM_ROOT / f"{tag}-{cfg_hash(cfg, dut, trace, waves)}"


@dataclass
class Model:
    """A built Verilator model and everything the cocotb side needs to drive it."""
    cfg: AccelConfig
    dut: str
    trace: bool
    waves: bool
    build_dir: Path
    toplevel: str
    ports: dict
    waves_format: str | None = None   # 'fst' / 'vcd' when waves
    scopes: list = field(default_factory=list)   # dotted instance paths (for --waves-scope)
    built: bool = False            # True if this call (re)built it, False if reused
    build_seconds: float = 0.0     # Verilog generation + Verilator + C++ compile of this call
    generate_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    tied_reset: bool = False       # built with tb/simtop.py's wrapper: one scenario per run

    @property
    def has_trace(self) -> bool:
        return any(p.startswith("trace__") for p in self.ports)


def _elaborate(cfg: AccelConfig, dut: str, trace: bool) -> tuple:
    """(component, verilog text) for the requested design."""
    if dut == "core":
        import importlib
        import importlib.util
        # imported lazily: hw/ is developed in parallel and may not have its generator yet
        hwgen = importlib.import_module("hw.generate") if importlib.util.find_spec("hw.generate") else None
        if hwgen is not None and hasattr(hwgen, "build_core"):
            comp = hwgen.build_core(cfg, trace=trace)
        else:
            from hw.top import AdapSNECore
            comp = AdapSNECore(cfg, trace=trace)
        if hwgen is not None:
            text = hwgen.generate_verilog(cfg, trace=trace)
        else:  # fallback until hw/generate.py exists: the same conversion the generator does
            from hw.convert import to_verilog
            text = to_verilog(AdapSNECore(cfg, trace=trace), name="adapsne_core", emit_src=False)
    elif dut == "standin":
        from . import standin
        comp = standin.build_core(cfg, trace=trace)
        text = standin.generate_verilog(cfg)
    else:
        raise ValueError(f"unknown dut {dut!r}: 'core' or 'standin'")
    return comp, text


def _toplevel_of(text: str) -> str:
    """Name of the module marked (* top = 1 *) by Yosys, else the last module in the file."""
    m = re.search(r"\(\*\s*top\s*=\s*1\s*\*\)\s*(?:\(\*[^)]*\*\)\s*)*module\s+\\?([A-Za-z_][\w$]*)", text)
    if m:
        return m.group(1)
    mods = re.findall(r"^\s*module\s+\\?([A-Za-z_][\w$]*)", text, re.M)
    if not mods:
        raise ValueError("no module found in the generated Verilog")
    return mods[-1]


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _makeflags(overrides: list):
    """Temporarily add make variable overrides to $MAKEFLAGS (read by the runner's `make`)."""
    old = os.environ.get("MAKEFLAGS")
    if overrides:
        os.environ["MAKEFLAGS"] = " ".join(([old] if old else []) + overrides)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


@contextlib.contextmanager
def _env_flags(flags: dict):
    """Temporarily append to environment variables (CXXFLAGS, LDFLAGS) read by the model's make."""
    old = {k: os.environ.get(k) for k in flags}
    for k, v in flags.items():
        os.environ[k] = " ".join(x for x in (old[k], v) if x)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _runtime_dir(waves: bool | str, tc, make: list) -> Path:
    key = json.dumps({"waves": waves, "make": make, "verilator": str(tc.verilator),
                      "version": tc.version, "cocotb": tc.cocotb_version})
    return SIM_ROOT / f"_runtime-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _global_objs(bdir: Path) -> list:
    """The Verilator run-time objects (VM_GLOBAL_FAST/SLOW of Vtop_classes.mk) of a model build."""
    mk = (bdir / "Vtop_classes.mk").read_text()
    names = []
    for var in ("VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"):
        m = re.search(rf"^{var} \+= \\\n((?:[ \t]+\S+ \\\n)*)", mk, re.M)
        if m:
            names += [ln.strip().rstrip("\\").strip() for ln in m.group(1).splitlines() if ln.strip()]
    return names


#: g++ optimisation of the long-run (tied-reset) models: -O2 simulates the digits core ~1.3x faster
#: than Verilator's -Os for a ~1.5x longer build (docs/verification.md, "Simulation speed"); the
#: default suite's models are build-dominated and keep -Os
LONG_RUN_OPT = "-O2"

#: g++ profile-guided optimisation of the long-run models (`_build_pgo`): the model is built with
#: -fprofile-generate, runs a short training class (`pgo_training_spec`), and is built again with
#: the profile (docs/verification.md, "Simulation speed"); $ADAPSNE_PGO=0 turns it off
LONG_RUN_PGO = True
PGO_FLAGS = {"generate": {"CXXFLAGS": "-fprofile-generate", "LDFLAGS": "-fprofile-generate"},
             "use": {"CXXFLAGS": "-fprofile-use -fprofile-partial-training -Wno-missing-profile"}}


def pgo_enabled(long_run: bool) -> bool:
    """Profile-guided build of a long-run (tied-reset) model: `LONG_RUN_PGO` unless $ADAPSNE_PGO=0."""
    v = os.environ.get("ADAPSNE_PGO", "").strip()
    if v not in ("", "0", "1"):
        raise ValueError(f"ADAPSNE_PGO must be 0 or 1, got {v!r}")
    return long_run and LONG_RUN_PGO and v != "0"


def pgo_training_spec(cfg: AccelConfig) -> dict:
    """The training run of a profile-guided build: one synthetic class (`tb.data.synthetic_class`:
    64 points, or n_max, of 8 clustered features, seeded) through the phases the model has - MODE 1
    (search, affinities, t-SNE with the configured schedule) when it has them, else the search -
    with its values checked like any scenario (a wrong training run fails the build)."""
    from . import reference as ref
    from .data import synthetic_class
    n = min(64, cfg.n_max)
    X = synthetic_class(n, min(8, cfg.d_max), cfg, seed=20261205, clusters=4)
    perp = min(cfg.perplexity, (n - 1) / 2 - 1)
    if cfg.phases:
        job = ref.mode1_job(X, perp, "ksection", cfg, name="pgo-train", p_dump=False)
        return {"scenarios": [ref.classes_scenario("mode1", [job])]}
    return {"scenarios": [ref.classes_scenario("clean", [ref.class_job(X, perp, "ksection", cfg)])]}


def opt_fast(long_run: bool = False) -> str:
    """g++ optimisation of the model's per-cycle code and of the Verilator run-time (OPT_FAST,
    OPT_GLOBAL): $ADAPSNE_OPT_FAST if set (``-O0`` .. ``-O3``, ``-Os``, ``-Og``), else
    `LONG_RUN_OPT` for the tied-reset models of long runs (`long_run`), else Verilator's ``-Os``."""
    v = os.environ.get("ADAPSNE_OPT_FAST", LONG_RUN_OPT if long_run else "-Os").strip()
    if not re.fullmatch(r"-O[0-3sg]", v):
        raise ValueError(f"ADAPSNE_OPT_FAST must be one of -O0 -O1 -O2 -O3 -Os -Og, got {v!r}")
    return v


def public_ports_vlt(top: str) -> str:
    """Verilator control file: VPI read/write access to the top module's own signals (its ports)
    only.  The testbench drives and samples ports, never internal names, so the inside need not
    be public: cocotb's default ``--public-flat-rw`` keeps every signal of the design as a VPI
    variable and stops Verilator from optimising them away (docs/verification.md, "Simulation
    speed")."""
    return f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'


def _verilator_runner(main_cpp: Path | None, ports_only: bool = False):
    """cocotb's Verilator runner; with `main_cpp`, that file replaces cocotb's verilator.cpp on the
    Verilator command line (the waves main of tb/waves_main.cpp, which #includes cocotb's file);
    with `ports_only`, cocotb's ``--public-flat-rw`` is dropped (`public_ports_vlt` is then among
    the build arguments).  cocotb has no option for either: both are fixed in its _build_command,
    hence the subclass."""
    from cocotb_tools.runner import Verilator, get_runner
    if main_cpp is None and not ports_only:
        return get_runner("verilator")
    import cocotb_tools.config
    stock = str(cocotb_tools.config.share_dir / wv.COCOTB_MAIN_REL)

    class _AdapsneVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            if stock not in cmds[0] or "--public-flat-rw" not in cmds[0]:
                raise RuntimeError(f"cocotb's Verilator command line does not name {stock} / --public-flat-rw "
                                   "any more; tb/runner.py _verilator_runner needs updating for this cocotb version")
            if main_cpp is not None:
                cmds[0] = [str(main_cpp) if a == stock else a for a in cmds[0]]
            if ports_only:
                cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds
    return _AdapsneVerilator()


def _cocotb_main() -> Path:
    import cocotb_tools.config
    return Path(cocotb_tools.config.share_dir) / wv.COCOTB_MAIN_REL


def _verilate(bdir: Path, src: Path, top: str, waves: str | None, verbose: bool, tc, opt: str = "-Os",
              more_args: list = (), pgo: str | None = None) -> None:
    """Verilator + C++ compile through cocotb's runner.

    With waves (a format), the build adds the format's flags, the control file that hides
    generated names and the waves main (tb/waves.py).

    The Verilator run-time library (verilated.cpp, verilated_vpi.cpp, ... — about 40 s of g++ per
    model on this machine) does not depend on the design: the first build archives its objects
    into build/sim/_runtime-<key>/libvlrt.a and later builds link that archive instead of
    recompiling (make overrides VM_GLOBAL_FAST/SLOW= LIBS=<archive>).  If that link fails, the
    model is rebuilt the normal way.

    `pgo`: "generate" or "use" (`PGO_FLAGS`, g++ profile-guided optimisation of the model code,
    `_build_pgo`), passed in $CXXFLAGS / $LDFLAGS, which verilated.mk appends to; such a build
    never archives the run-time objects it may have compiled."""
    base = toolchain.make_overrides(tc) + ([f"OPT_FAST={opt}", f"OPT_GLOBAL={opt}"] if opt != "-Os" else [])
    if "--timing" in more_args:
        base += toolchain.timing_make_overrides(tc)
    if waves == "fst":  # the FST writer needs lz4 + zlib (a stand-in lz4.h when liblz4-dev is missing)
        base += list(toolchain.fst_make_overrides(SIM_ROOT / "_fstshim"))
    rt = _runtime_dir(waves or False, tc, base)
    lib = rt / "libvlrt.a"
    args, main_cpp = list(VERILATOR_ARGS) + list(more_args), None
    # waves builds keep every signal public (their dumps are the debugging view of the inside)
    ports_only = PORTS_ONLY_VPI and not waves
    if ports_only:
        pv = bdir / "public_ports.vlt"
        pv.write_text(public_ports_vlt(top))
        args.append(str(pv))
    if waves:
        vlt, main_cpp = bdir / "waves.vlt", bdir / "adapsne_main.cpp"
        vlt.write_text(wv.CONTROL_FILE)
        main_cpp.write_text(wv.main_source(_cocotb_main()))
        args += wv.BUILD_ARGS[waves] + [str(vlt)]

    def attempt(extra: list) -> None:
        with _makeflags(base + extra), _env_flags(PGO_FLAGS[pgo] if pgo else {}):
            _verilator_runner(main_cpp, ports_only).build(sources=[src], hdl_toplevel=top, build_dir=bdir, build_args=args,
                                              timescale=TIMESCALE, waves=bool(waves), always=True, verbose=verbose,
                                              log_file=bdir / "build.log")

    def failure(e: Exception) -> RuntimeError:
        log = (bdir / "build.log").read_text(errors="replace") if (bdir / "build.log").is_file() else ""
        errs = [ln for ln in log.splitlines() if "rror" in ln][:30]
        return RuntimeError(f"Verilator build of {bdir.name} failed ({e}); see {bdir / 'build.log'}:\n"
                            + "\n".join(errs))

    if lib.is_file():
        try:
            attempt(["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW=", f"LIBS={lib}"])
            return
        except RuntimeError:
            pass  # fall back to a self-contained build below
    try:
        attempt([])
    except RuntimeError as e:
        raise failure(e) from None
    objs = [bdir / f"{n}.o" for n in _global_objs(bdir)]
    if objs and all(o.is_file() for o in objs) and not lib.is_file() and not pgo:
        with _locked(rt.with_name(rt.name + ".lock")):
            rt.mkdir(parents=True, exist_ok=True)
            tmp = rt / f"libvlrt.{os.getpid()}.a"
            subprocess.run(["ar", "rcs", str(tmp)] + [str(o) for o in objs], check=True, capture_output=True)
            os.replace(tmp, lib)


_MODELS: dict = {}


def _build_pgo(cfg, bdir: Path, src: Path, top: str, ports: dict, verbose: bool, tc, opt: str, more_args) -> None:
    """Profile-guided build of a long-run model: an instrumented build, one training run
    (`pgo_training_spec`; it must pass), then the build with the profile (every object compiled
    again; the .gcda files beside the objects are the profile)."""
    for f in bdir.glob("*.gcda"):
        f.unlink()
    _verilate(bdir, src, top, None, verbose, tc, opt, more_args, pgo="generate")
    train = Model(cfg=cfg, dut="core", trace=False, waves=False, build_dir=bdir, toplevel=top, ports=ports,
                  tied_reset=True)
    res = run(train, pgo_training_spec(cfg), name="pgo-train", echo=verbose)
    if not res.passed or not list(bdir.glob("*.gcda")):
        raise RuntimeError(f"the profile-guided build of {bdir.name}: the training run failed or wrote no profile "
                           f"(see {res.run_dir}); ADAPSNE_PGO=0 builds without a profile")
    for pat in ("*.o", "*.gch", "*.a", top):
        for f in bdir.glob(pat):
            f.unlink()
    _verilate(bdir, src, top, None, verbose, tc, opt, more_args, pgo="use")


def build(cfg: AccelConfig, dut: str = "core", trace: bool = False, waves: bool | str | None = None,
          verbose: bool = False, waves_format: str | None = None, tie_reset: bool = False) -> Model:
    """Generate the Verilog and build (or reuse) the Verilator model of one configuration.

    `waves`: True/False/'fst'/'vcd', None = $ADAPSNE_WAVES; `waves_format`: 'fst' (default) or
    'vcd', None = $ADAPSNE_WAVES_FORMAT (tb/waves.py).  Raises tb.waves.WavesError on bad values."""
    fmt = wv.resolve_format(waves, waves_format)
    waves = fmt or False
    if tie_reset and (fmt or dut != "core"):
        raise ValueError("tie_reset: only for the core without waves (tb/simtop.py)")
    opt = opt_fast(tie_reset)
    pgo = pgo_enabled(tie_reset)
    key = (cfg_hash(cfg, dut, trace, waves), dut, trace, waves, tie_reset, opt, pgo)
    if key in _MODELS:
        return _MODELS[key]
    tc = toolchain.setup()
    bdir = model_dir(cfg, dut, trace, waves, tie_reset)
    t0 = time.monotonic()
    comp, text = _elaborate(cfg, dut, trace)
    t_gen = time.monotonic() - t0
    top = _toplevel_of(text)
    scopes = wv.instance_paths(text, top)
    if tie_reset:
        from .simtop import tied_reset_wrapper
        wrapper, top = tied_reset_wrapper(text, top, CLOCK_PERIOD_NS if INTERNAL_CLOCK else None)
        text += "\n" + wrapper
    ports = lay.ports_of(comp)
    comp._MustUse__silence = True  # only its signature was needed
    more_args = TIMING_ARGS if tie_reset and INTERNAL_CLOCK else []
    stamp_info = {"verilog": hashlib.sha256(text.encode()).hexdigest(), "args": VERILATOR_ARGS + more_args,
                  "timescale": TIMESCALE, "vpi": "ports" if PORTS_ONLY_VPI and not fmt else "all",
                  **({"opt_fast": opt} if opt != "-Os" else {}),
                  **({"pgo": PGO_FLAGS} if pgo else {}),
                  "waves": bool(waves), "verilator": tc.version, "top": top}
    if fmt:  # the waves main and control file are part of the model
        stamp_info.update(format=fmt, vlt=wv.CONTROL_FILE, flags=wv.BUILD_ARGS[fmt],
                     main=hashlib.sha256(wv.MAIN_CPP.read_bytes() + _cocotb_main().read_bytes()).hexdigest())
    stamp_key = hashlib.sha256(json.dumps(stamp_info).encode()).hexdigest()
    built = False
    with _locked(bdir.with_name(bdir.name + ".lock")):
        stamp = bdir / "model.stamp"
        exe = bdir / top
        if not (stamp.is_file() and stamp.read_text().strip() == stamp_key and exe.is_file()):
            bdir.mkdir(parents=True, exist_ok=True)
            if stamp.exists():
                stamp.unlink()
            src = bdir / "adapsne_core.v"
            src.write_text(text)
            (bdir / "config.json").write_text(cfg.to_json())
            if pgo:
                _build_pgo(cfg, bdir, src, top, ports, verbose, tc, opt, more_args)
            else:
                _verilate(bdir, src, top, fmt, verbose, tc, opt, more_args)
            stamp.write_text(stamp_key + "\n")
            built = True
        (bdir / "ports.json").write_text(json.dumps(ports, indent=1))
    model = Model(cfg=cfg, dut=dut, trace=trace, waves=bool(fmt), build_dir=bdir, toplevel=top, ports=ports,
                  waves_format=fmt, scopes=scopes, built=built, tied_reset=tie_reset, build_seconds=time.monotonic() - t0, generate_seconds=t_gen,
                  extra={"toolchain": tc.describe()})
    _MODELS[key] = model
    return model


# --------------------------------------------------------------------------- running


@dataclass
class TestOutcome:
    name: str
    passed: bool
    message: str = ""
    sim_time_ns: float = 0.0
    real_time_s: float = 0.0


@dataclass
class RunResult:
    run_dir: Path
    outcomes: list
    log: str
    seconds: float
    exit_error: str = ""
    observations: dict | None = None   # what the cocotb side wrote to observations.json
    waves_file: Path | None = None     # the dump (dump.fst / dump.vcd) when waves were on
    cpu_seconds: float = 0.0           # CPU time of the simulator process (user + system): less load-dependent

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes) and not self.exit_error

    def failures(self) -> list:
        return [o for o in self.outcomes if not o.passed]

    def summary(self) -> str:
        lines = [f"cocotb run in {self.run_dir} ({self.seconds:.1f} s): "
                 f"{sum(o.passed for o in self.outcomes)}/{len(self.outcomes)} tests passed"]
        if self.exit_error:
            lines.append(f"  simulator: {self.exit_error}")
        for o in self.outcomes:
            lines.append(f"  {'PASS' if o.passed else 'FAIL'} {o.name} (sim {o.sim_time_ns / 1e3:.1f} us, "
                         f"{o.real_time_s:.1f} s)")
            if o.message:
                lines.extend("      " + ln for ln in o.message.strip().splitlines()[:40])
        return "\n".join(lines)

    def raise_on_failure(self) -> None:
        if not self.passed:
            tail = "\n".join(self.log.splitlines()[-60:])
            raise AssertionError(self.summary() + "\n--- end of simulator log ---\n" + tail)


def _parse_results(xml_path: Path) -> list:
    outcomes = []
    if not xml_path.is_file():
        return outcomes
    root = ET.parse(xml_path).getroot()
    for tc in root.iter("testcase"):
        msgs = []
        for tag in ("failure", "error"):
            for el in tc.findall(tag):
                msgs.append((el.get("message") or "") + ("\n" + el.text if el.text else ""))
        skipped = tc.find("skipped") is not None
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        try:
            sim_ns = float(props.get("sim_time_duration", 0) or 0)
            if props.get("sim_time_unit", "ns") == "ps":
                sim_ns /= 1e3
        except ValueError:
            sim_ns = 0.0
        outcomes.append(TestOutcome(
            name=tc.get("name", "?"), passed=not msgs,
            message=("skipped" if skipped and not msgs else "\n".join(msgs)),
            sim_time_ns=sim_ns, real_time_s=float(tc.get("time", 0) or 0)))
    return outcomes


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the simulator is one, run to completion)."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)[:120] or "run"


def run(model: Model, spec: dict, name: str = "run", test_module: str = TEST_MODULE,
        testcase: str | None = None, seed: int = 1, waves: bool | None = None,
        echo: bool = True, waves_from=None, waves_to=None, waves_scope: str | None = None,
        waves_depth: int | None = None) -> RunResult:
    """Run a cocotb test module against a built model.

    `spec` is the scenario description (JSON-serialisable); the runner adds `cfg`, `ports`,
    `clock_period_ns`, `dut`, `out` (path of observations.json the test writes) and writes it to
    <run dir>/spec.json.  Never raises on a failing test: inspect / `raise_on_failure()` the result.

    Waveforms (model built with waves): `waves` (None = $ADAPSNE_WAVES); the dump can be limited
    to a window `waves_from`..`waves_to` (clock cycles from time 0, or '5000ns'/'5us') and to an
    instance `waves_scope` ('adapsne_core.ctrl') with `waves_depth` levels (1 = its own signals,
    0 = all); None = the $ADAPSNE_WAVES_* variables (tb/waves.py).  Bad values raise
    tb.waves.WavesError before the simulation starts.
    """
    from cocotb_tools.runner import get_runner

    toolchain.setup()
    if model.tied_reset and len(spec.get("scenarios", [])) > 1:
        raise ValueError("a tied-reset model (tb/simtop.py) runs one scenario per run: the scenarios' resets "
                         f"would not act; got {len(spec['scenarios'])}")
    waves = waves_requested(waves)
    if waves and not model.waves:
        raise ValueError("waves requested but the model was built without --trace: build(..., waves=True)")
    window = wv.Window()
    if waves:
        window = wv.resolve_window(model.toplevel, model.scopes, CLOCK_PERIOD_NS, waves_from, waves_to,
                                   waves_scope, waves_depth)
    elif any(v is not None for v in (waves_from, waves_to, waves_scope, waves_depth)):
        raise wv.WavesError("waves_from/waves_to/waves_scope/waves_depth given but waves are off (waves=True)")
    run_dir = model.build_dir / "runs" / _safe(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("results.xml", "observations.json", "sim.log") + tuple(wv.DUMP_FILES.values()):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / stale).unlink()
    full = dict(spec)
    full.update({"cfg": model.cfg.to_dict(), "ports": model.ports, "clock_period_ns": CLOCK_PERIOD_NS,
                 "clock_internal": bool(model.tied_reset and INTERNAL_CLOCK),
                 "dut": model.dut, "out": str(run_dir / "observations.json")})
    spec_path = run_dir / "spec.json"
    spec_path.write_text(json.dumps(full))
    if str(REPO_ROOT) not in sys.path:  # the runner passes sys.path as the simulator's PYTHONPATH
        sys.path.insert(0, str(REPO_ROOT))
    results_xml = run_dir / "results.xml"
    runner = get_runner("verilator")
    t0, cpu0 = time.monotonic(), _children_cpu()
    exit_error = ""
    try:
        runner.test(test_module=test_module, hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
                    build_dir=model.build_dir, test_dir=run_dir, results_xml=str(results_xml),
                    extra_env={"ADAPSNE_TB_SPEC": str(spec_path)}, testcase=testcase, seed=seed,
                    waves=waves, plusargs=window.plusargs(), timescale=TIMESCALE, log_file=run_dir / "sim.log")
    except SystemExit as e:  # cocotb's runner exits the interpreter on failures under pytest
        if e.code not in (0, None):
            exit_error = f"runner exited with {e.code}"
    except Exception as e:  # noqa: BLE001 - a crashed simulator is a failed run, with the reason
        exit_error = f"{type(e).__name__}: {e}"
    seconds, cpu = time.monotonic() - t0, _children_cpu() - cpu0
    log = (run_dir / "sim.log").read_text(errors="replace") if (run_dir / "sim.log").is_file() else ""
    outcomes = _parse_results(results_xml)
    if not outcomes and not exit_error:
        exit_error = "no cocotb test results (did the test module import?)"
    if outcomes and all(o.passed for o in outcomes) and exit_error.startswith("runner exited"):
        exit_error = ""  # nonzero exit only because of cocotb's own bookkeeping
    obs = None
    if (run_dir / "observations.json").is_file():
        obs = json.loads((run_dir / "observations.json").read_text())
    dump = wv.dump_file(run_dir, model.waves_format) if waves else None
    res = RunResult(run_dir=run_dir, outcomes=outcomes, log=log, seconds=seconds, exit_error=exit_error,
                    observations=obs, cpu_seconds=cpu, waves_file=dump if dump is not None and dump.is_file() else None)
    if echo:
        print(res.summary())
    return res
