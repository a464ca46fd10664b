"""Command-line front end of the golden model: select exemplars from your own data.

    python -m golden_model.cli select INPUT --ratio R [--method adapsne|nms] [--preset NAME]
        [--set key=value ...] [--arithmetic float|fixed] [--perplexity P]
        [--labels LABELS.npy] [--label-column COL] [--header auto|yes|no]
        [--out OUT.json|-] [--indices OUT.npy] [--details] [--quiet]
    python -m golden_model.cli presets

Exit status: 0 on success, 2 on any invalid input or argument (the message on stderr names the
problem and the allowed range; no output file is written or touched), 1 on an internal error.
Output locations are checked before the work starts (golden_model.outfiles); the files are
written atomically, and only after the whole selection has succeeded.

See docs/usage.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from typing import Any, Sequence

import numpy as np

from . import config, outfiles
from .config import PRESETS, SIZE_LIMITS, AccelConfig, ConfigError, get_preset
from .dataio import (DataError, label_to_python, load_dataset, validate_dataset,
                     validate_perplexity, validate_ratio)
from .precheck import precheck

#: Preset used when --preset is not given.
from .config import DEFAULT_PRESET  # noqa: E402  (one default for every command)
#: Identifier of the JSON output layout.
OUTPUT_FORMAT = "adapsne-select/1"
METHODS = ("adapsne", "nms")
ARITHMETICS = ("float", "fixed")
#: Progress lines go to stderr once a run has taken this long, or from the start when the
#: estimated run time exceeds it (seconds).
PROGRESS_AFTER_S = 2.0
#: Rough speed of the float model for the run-time estimate: units of
#: N_class**2 * tsne_iters * perplexities evaluated, per second (our measurement: the digits
#: example of docs/usage.md, 1.2e9 units, took 35 s wall on a shared 2-core machine).
WORK_PER_S = 3.0e7
#: Inputs up to this size (bytes) that fail the early size check are still loaded and validated
#: in full, so that the message can take the feature range into account; larger ones are refused
#: from their sizes alone.
FULL_CHECK_BYTES = 8 << 20


class UsageError(Exception):
    """Bad command line / input: printed as ``error: ...`` and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises instead of calling sys.exit on a usage error."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message}")


# --------------------------------------------------------------------------------------------
# configuration from the command line
# --------------------------------------------------------------------------------------------
def parse_overrides(items: Sequence[str]) -> dict:
    """``["key=value", ...]`` -> ``{key: typed value}`` (later items win); see
    :func:`golden_model.config.parse_override`."""
    return config.parse_overrides(items)


def resolve_config(preset: str | None, sets: Sequence[str] = (), perplexity: float | None = None,
                   method: str = "adapsne") -> tuple:
    """Build the configuration: preset, then ``--set`` overrides, then ``--perplexity``.

    ``--perplexity P`` sets ``perplexity=P``; with ``method="adapsne"`` it also fixes the
    candidate set to ``(P,)``, i.e. it turns the entropy-guided search off.

    Returns ``(cfg, overrides)`` where `overrides` is the dict of every changed parameter.
    Raises :class:`ConfigError` (unknown preset/key, value out of range).
    """
    base = get_preset(preset if preset is not None else DEFAULT_PRESET)
    try:
        overrides = parse_overrides(sets)
    except ConfigError as e:
        raise ConfigError(f"--set: {e}") from None
    try:
        cfg = base.with_overrides(**overrides) if overrides else base
    except ConfigError as e:
        raise ConfigError(f"--set: {e}") from None
    except TypeError as e:  # defensive: a value of a type dataclasses.replace cannot take
        raise ConfigError(f"--set: {e}") from None
    if perplexity is not None:
        extra = {"perplexity": float(perplexity)}
        if method == "adapsne":
            extra["perplexity_candidates"] = (float(perplexity),)
        try:
            cfg = cfg.with_overrides(**extra)
        except ConfigError as e:
            raise ConfigError(f"--perplexity: {e}") from None
        overrides.update(extra)
    return cfg, overrides


def user_perplexities(method: str, overrides: dict, explicit: float | None) -> list:
    """(name, value) of every perplexity the *user* asked for and the method uses."""
    out = []
    if explicit is not None:
        out.append(("--perplexity", explicit))
        return out
    if method == "nms" and "perplexity" in overrides:
        out.append(("perplexity", overrides["perplexity"]))
    if method == "adapsne" and "perplexity_candidates" in overrides:
        for p in overrides["perplexity_candidates"]:
            out.append(("perplexity_candidates", p))
    return out


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------
def _jsonable(v: Any) -> Any:
    """numpy -> plain Python; non-finite floats -> None (strict JSON)."""
    if isinstance(v, dict):
        return {str(label_to_python(k)) if not isinstance(k, str) else k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.str_):
        return str(v)
    return v


def dumps_json(doc: Any, indent: int = 2) -> str:
    """Strict, deterministic JSON: objects indented one key per line, lists of scalars (and lists
    of short scalar lists, e.g. an embedding) kept on one line each."""
    def scalar(v):
        return not isinstance(v, (dict, list))

    def enc(v, level):
        pad = " " * (indent * (level + 1))
        end = " " * (indent * level)
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f"{pad}{json.dumps(str(k))}: {enc(x, level + 1)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + end + "}"
        if isinstance(v, list):
            if all(scalar(x) for x in v):
                return "[" + ", ".join(json.dumps(x, allow_nan=False) for x in v) + "]"
            if all(isinstance(x, list) and all(scalar(e) for e in x) for x in v):
                return "[\n" + ",\n".join(pad + enc(x, level + 1) for x in v) + "\n" + end + "]"
            return "[\n" + ",\n".join(pad + enc(x, level + 1) for x in v) + "\n" + end + "]"
        return json.dumps(v, allow_nan=False)

    return enc(doc, 0) + "\n"


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def build_summary(args, cfg: AccelConfig, overrides: dict, data, indices: np.ndarray,
                  details: dict, preset: str) -> dict:
    """The JSON document (deterministic: no times, no absolute paths)."""
    from .reference import perplexity_cap  # the one perplexity rule (golden_model.fixed.perplexity_max)
    classes = []
    for label, n in data.sizes.items():
        det = details[label]
        if args.method == "nms":
            requested: Any = float(cfg.perplexity)
        else:
            requested = [float(p) for p in cfg.perplexity_candidates]
        used = float(det["perplexity"])
        entry = {
            "label": label,
            "n": int(n),
            "k": int(det["k"]),
            "perplexity": used,
            "perplexity_requested": requested,
            "perplexity_cap": perplexity_cap(int(n)),
            "perplexity_history": [[float(p), float(h)] for p, h in det["perplexity_history"]],
            "kl": float(det["kl"]),
            "occupancy_entropy": float(det["occupancy_entropy"]),
            "search_passes_mean": float(np.mean(det["passes"])),
            "search_passes_max": int(np.max(det["passes"])),
            "search_converged_fraction": float(np.mean(det["converged"])),
            "indices": np.asarray(det["indices"]).tolist(),
        }
        if args.details:
            entry["details"] = {
                "embedding": det["Y"],
                "betas": det["betas"],
                "passes": det["passes"],
                "evaluations": det["evaluations"],
                "converged": det["converged"],
            }
        classes.append(entry)
    doc = {
        "format": OUTPUT_FORMAT,
        "input": {
            "path": args.input,
            "labels": args.labels,
            "label_column": args.label_column,
            "n_samples": int(data.X.shape[0]),
            "n_features": int(data.X.shape[1]),
            "n_classes": len(data.sizes),
        },
        "method": args.method,
        "arithmetic": args.arithmetic,
        "ratio": float(data.ratio),
        "n_selected": int(indices.size),
        "indices": indices.tolist(),
        "classes": classes,
        "preset": preset,
        "overrides": overrides,
        "config_name": cfg.name,
        "config": cfg.to_dict(),
    }
    return _jsonable(doc)


def format_summary(doc: dict, elapsed: float, written: Sequence[str]) -> str:
    lines = []
    inp = doc["input"]
    lines.append(
        f"{doc['method']} ({doc['arithmetic']}) on {inp['path']}: {inp['n_samples']} samples, "
        f"{inp['n_features']} features, {inp['n_classes']} classes; ratio {doc['ratio']:g} -> "
        f"{doc['n_selected']} selected (preset {doc['preset']}"
        + (f", overrides {', '.join(f'{k}={v}' for k, v in doc['overrides'].items())}" if doc["overrides"] else "")
        + ")")
    w = max([5] + [len(str(c["label"])) for c in doc["classes"]])
    lines.append(f"  {'class':<{w}} {'N':>5} {'k':>4} {'perplexity':>10} {'KL':>8} {'occ.H':>6} {'passes':>6} "
                 f"{'conv.':>6}")
    notes = []
    for c in doc["classes"]:
        kl = "n/a" if c["kl"] is None else f"{c['kl']:.3f}"
        oh = "n/a" if c["occupancy_entropy"] is None else f"{c['occupancy_entropy']:.3f}"
        lines.append(f"  {str(c['label']):<{w}} {c['n']:>5} {c['k']:>4} {c['perplexity']:>10.4g} {kl:>8} "
                     f"{oh:>6} {c['search_passes_mean']:>6.1f} {100 * c['search_converged_fraction']:>5.1f}%")
        req = c["perplexity_requested"]
        reqs = req if isinstance(req, list) else [req]
        clamped = sorted({p for p in reqs if p > c["perplexity_cap"]})
        if clamped:
            notes.append(f"note: class {c['label']!r} (N={c['n']}): perplexity "
                         f"{', '.join(f'{p:g}' for p in clamped)} clamped to the per-class cap "
                         f"(N-1)/2 = {c['perplexity_cap']:g}; effective perplexity used: {c['perplexity']:g}")
    lines.extend(notes)
    n_all = sum(c["n"] for c in doc["classes"])
    conv = sum(c["search_converged_fraction"] * c["n"] for c in doc["classes"]) / max(1, n_all)
    lines.append(f"sigma search reached its tolerance for {100 * conv:.1f}% of the points "
                 f"(column conv.; max_passes={doc['config']['max_passes']})")
    for p in written:
        lines.append(f"wrote {p}")
    lines.append(f"done in {elapsed:.2f} s")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m golden_model.cli",
                description="AdapSNE / NMS golden model: select exemplars from your own data.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    lo = {k: v[1] for k, v in SIZE_LIMITS.items()}
    s = sub.add_parser(
        "select", help="select exemplars per class",
        description="Select round(ratio*N) exemplars from every class of INPUT.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "limits: every class has 2 .. n_max samples, D <= d_max features, features are integers in\n"
            "  0 .. 2**feature_bits - 1, all from the configuration (--preset, --set; see the `presets`\n"
            f"  command); no configuration allows more than n_max={lo['n_max']}, d_max={lo['d_max']}, "
            f"feature_bits={lo['feature_bits']}.\n"
            "  Inputs beyond n_max or d_max are refused before they are loaded.\n"
            "outputs: --out FILE gets the JSON (--out - : standard output), --indices FILE the .npy;\n"
            "  each must be a regular file (replaced, keeping its mode) or a new path (mode from the\n"
            "  umask); a symlink is followed to its target; anything else is refused. Locations are\n"
            "  checked before the work starts; files are written only when the selection succeeded.\n"
            "  The summary goes to standard output (standard error with --out -); progress lines\n"
            "  (long runs) to standard error. Without --out/--indices the indices are printed.\n"
            "exit status: 0 success, 2 invalid input or argument (nothing written), 1 internal error."))
    s.add_argument("input", metavar="INPUT", help=".npz (arrays X, y), .npy (with --labels) or .csv")
    s.add_argument("--ratio", required=True, metavar="R", help="fraction of each class to keep, in (0, 1]")
    s.add_argument("--method", default="adapsne", choices=METHODS,
                   help="adapsne (FWA search + entropy-guided perplexity, default) or nms (bisection, fixed perplexity)")
    s.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                   help=f"accelerator preset: {', '.join(PRESETS)} (default {DEFAULT_PRESET})")
    s.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one AccelConfig parameter (repeatable), e.g. --set tsne_iters=300")
    s.add_argument("--arithmetic", default="float", choices=ARITHMETICS,
                   help="float: the float64 reference; fixed: the whole pipeline in the accelerator's bit-exact arithmetic (default float)")
    s.add_argument("--perplexity", default=None, metavar="P",
                   help="target perplexity (nms: replaces the preset's; adapsne: fixes it, no entropy-guided search)")
    s.add_argument("--labels", default=None, metavar="LABELS.npy", help="labels for a .npy (or label-less .csv) input")
    s.add_argument("--label-column", default=None, metavar="COL",
                   help="CSV label column: header name or index (negative from the end); default the last column")
    s.add_argument("--header", default=None, choices=("auto", "yes", "no"),
                   help="CSV header row (default auto-detect); CSV input only")
    s.add_argument("--out", default=None, metavar="OUT.json",
                   help="write indices and summary as JSON; - for standard output")
    s.add_argument("--indices", default=None, metavar="OUT.npy", help="write the selected indices as an int64 .npy")
    s.add_argument("--details", action="store_true",
                   help="include per-class embedding, betas, search passes in the JSON")
    s.add_argument("--quiet", action="store_true",
                   help="print no progress and no summary (errors, and the indices when no output is given, still)")
    sub.add_parser("presets", help="list the accelerator presets")
    return p


def _cmd_presets(out) -> int:
    out.write(f"{'preset':<8} {'lanes':>5} {'n_max':>6} {'d_max':>6} {'feature range':>14} "
              f"{'perplexity':>10}  candidates\n")
    for name, c in PRESETS.items():
        out.write(f"{name:<8} {c.lanes:>5} {c.n_max:>6} {c.d_max:>6} {'0..' + str(c.feature_max):>14} "
                  f"{c.perplexity:>10g}  {', '.join(f'{p:g}' for p in c.perplexity_candidates)}\n")
    return 0


def parse_float_arg(name: str, text: str | None):
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{name} must be a number, got {text!r}") from None


def estimate_seconds(sizes: dict, cfg: AccelConfig, method: str) -> float:
    """Rough run time of the float model (see :data:`WORK_PER_S`), to decide on progress lines."""
    if method == "nms":
        runs = 1
    elif cfg.perplexity_search == "fixed":
        runs = len(cfg.perplexity_candidates)
    else:
        runs = cfg.perplexity_fwa_iters * cfg.lanes
    return sum(n * n for n in sizes.values()) * cfg.tsne_iters * runs / WORK_PER_S


class _Progress:
    """Per-class progress lines on `err`, shown when the run is estimated to be long or has
    already taken :data:`PROGRESS_AFTER_S`."""

    def __init__(self, err, t0: float, long_run: bool):
        self.err, self.t0, self.long_run = err, t0, long_run

    def __call__(self, event: str, info: dict) -> None:
        elapsed = time.perf_counter() - self.t0
        if not (self.long_run or elapsed >= PROGRESS_AFTER_S):
            return
        head = f"[{info['index'] + 1}/{info['n_classes']}] class {info['label']!r} (N={info['n']}, k={info['k']})"
        if event == "start":
            self.err.write(f"{head}: started at {elapsed:.1f} s\n")
        else:
            self.err.write(f"{head}: done at {elapsed:.1f} s, sigma search reached its tolerance for "
                           f"{100 * info['converged_fraction']:.1f}% of the points\n")
        self.err.flush()


def _cmd_select(args, out, err) -> int:
    t0 = time.perf_counter()
    from .select import select  # imported here so `presets` and --help stay light

    # 1. arguments that do not need the data
    ratio = validate_ratio(args.ratio)
    perplexity = parse_float_arg("--perplexity", args.perplexity)
    if perplexity is not None and not (math.isfinite(perplexity) and perplexity > 1.0):
        raise DataError(f"--perplexity={args.perplexity} is out of range: allowed 1 < perplexity < "
                        f"smallest class size")
    cfg, overrides = resolve_config(args.preset, args.sets, perplexity, args.method)
    # 2. output locations: checked (their temporaries created) before anything is loaded
    targets = outfiles.prepare([("--out", args.out), ("--indices", args.indices)],
                               inputs=[args.input, args.labels], stdout_ok=("--out",))
    try:
        to_stdout = any(t.is_stdout for t in targets)
        report = err if to_stdout else out  # stdout carries the JSON then
        # 3. data: sizes first (cheap), then everything
        try:
            precheck(args.input, cfg, labels=args.labels, label_column=args.label_column, header=args.header)
            early = None
        except DataError as e:
            if os.path.getsize(args.input) > FULL_CHECK_BYTES:
                raise
            early = e
        ds = load_dataset(args.input, labels=args.labels, label_column=args.label_column, header=args.header)
        data = validate_dataset(ds.X, ds.y, cfg, ratio=ratio, feature_names=ds.feature_names)
        if early is not None:  # cannot happen (the early counts are lower bounds); never pass it
            raise early
        for name, p in user_perplexities(args.method, overrides, perplexity):
            validate_perplexity(p, data.sizes, name=name)

        # 4. selection
        progress = None if args.quiet else _Progress(
            err, t0, estimate_seconds(data.sizes, cfg, args.method) > PROGRESS_AFTER_S)
        indices, details = select(data.X, data.y, ratio, method=args.method, cfg=cfg,
                                  arithmetic=args.arithmetic, return_details=True, progress=progress)
        details = {label_to_python(k): v for k, v in details.items()}
        indices = np.asarray(indices, dtype=np.int64)

        # 5. outputs, all or nothing
        doc = build_summary(args, cfg, overrides, data, indices, details, args.preset)
        payloads = {"--out": dumps_json(doc).encode(), "--indices": None}
        if args.indices is not None:
            payloads["--indices"] = npy_bytes(indices)
        outfiles.commit(targets, [payloads[t.option] for t in targets])
    finally:
        outfiles.discard(targets)
    if to_stdout:
        out.write(payloads["--out"].decode())
        out.flush()
    written = [t.given for t in targets if not t.is_stdout]
    if not args.quiet:
        report.write(format_summary(doc, time.perf_counter() - t0, written))
    if not targets:
        out.write("indices: " + " ".join(str(i) for i in doc["indices"]) + "\n")
    return 0


def main(argv: Sequence[str] | None = None, stdout=None, stderr=None) -> int:
    """Run the command line `argv` (default ``sys.argv[1:]``); return the exit status."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as e:  # --help / --version
            return int(e.code or 0)
        if args.command is None:
            parser.print_usage(stderr)
            stderr.write("error: a command is required: select or presets\n")
            return 2
        if args.command == "presets":
            return _cmd_presets(stdout)
        return _cmd_select(args, stdout, stderr)
    except (UsageError, DataError, ConfigError, outfiles.OutputError) as e:
        stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
