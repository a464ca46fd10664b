"""Command-line front end of the golden model: select exemplars from your own data.

    python -m golden_model.cli select INPUT --ratio R [--method adapsne|nms] [--preset NAME]
        [--set key=value ...] [--arithmetic float|fixed] [--perplexity P]
        [--labels LABELS.npy] [--label-column COL] [--header auto|yes|no]
        [--out OUT.json] [--indices OUT.npy] [--details]
    python -m golden_model.cli presets

Exit status: 0 on success, 2 on any invalid input or argument (the message on stderr names the
problem and the allowed range; no output file is written or touched), 1 on an internal error.
Outputs are written atomically, and only after the whole selection has succeeded.

See docs/usage.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

from . import config
from .config import PRESETS, AccelConfig, ConfigError, get_preset
from .dataio import (DataError, label_to_python, load_dataset, validate_dataset,
                     validate_perplexity, validate_ratio)

#: Preset used when --preset is not given.
from .config import DEFAULT_PRESET  # noqa: E402  (one default for every command)
#: Identifier of the JSON output layout.
OUTPUT_FORMAT = "adapsne-select/1"
METHODS = ("adapsne", "nms")
ARITHMETICS = ("float", "fixed")


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


def _user_perplexities(method: str, overrides: dict, explicit: float | None) -> list:
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


def _check_output_path(path: str, what: str, input_paths: Sequence[str]) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UsageError(f"{what} {path!r} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{what} {path!r}: directory {parent!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{what} {path!r}: directory {parent!r} is not writable")
    for ip in input_paths:
        if ip is not None and os.path.exists(ip) and os.path.exists(path) and os.path.samefile(ip, path):
            raise UsageError(f"{what} {path!r} is an input file; refusing to overwrite it")
    return path


def write_atomically(files: Sequence[tuple]) -> None:
    """Write ``[(path, bytes), ...]``: every payload goes to a temporary file next to its target
    first; only when all are written are they renamed into place (``os.replace``).  On any error
    the temporaries are removed and no target is touched."""
    temps = []
    try:
        for path, payload in files:
            d = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        for (path, _), tmp in zip(files, temps):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _npy_bytes(a: np.ndarray) -> bytes:
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


def format_summary(doc: dict, elapsed: float, written: Sequence[str], show_indices: bool) -> str:
    lines = []
    inp = doc["input"]
    lines.append(
        f"{doc['method']} ({doc['arithmetic']}) on {inp['path']}: {inp['n_samples']} samples, "
        f"{inp['n_features']} features, {inp['n_classes']} classes; ratio {doc['ratio']:g} -> "
        f"{doc['n_selected']} selected (preset {doc['preset']}"
        + (f", overrides {', '.join(f'{k}={v}' for k, v in doc['overrides'].items())}" if doc["overrides"] else "")
        + ")")
    w = max([5] + [len(str(c["label"])) for c in doc["classes"]])
    lines.append(f"  {'class':<{w}} {'N':>5} {'k':>4} {'perplexity':>10} {'KL':>8} {'occ.H':>6} {'passes':>6}")
    notes = []
    for c in doc["classes"]:
        kl = "n/a" if c["kl"] is None else f"{c['kl']:.3f}"
        oh = "n/a" if c["occupancy_entropy"] is None else f"{c['occupancy_entropy']:.3f}"
        lines.append(f"  {str(c['label']):<{w}} {c['n']:>5} {c['k']:>4} {c['perplexity']:>10.4g} {kl:>8} "
                     f"{oh:>6} {c['search_passes_mean']:>6.1f}")
        req = c["perplexity_requested"]
        reqs = req if isinstance(req, list) else [req]
        clamped = sorted({p for p in reqs if p > c["perplexity_cap"]})
        if clamped:
            notes.append(f"note: class {c['label']!r} (N={c['n']}): perplexity "
                         f"{', '.join(f'{p:g}' for p in clamped)} clamped to the per-class cap "
                         f"(N-1)/2 = {c['perplexity_cap']:g}; effective perplexity used: {c['perplexity']:g}")
    lines.extend(notes)
    if show_indices:
        lines.append("indices: " + " ".join(str(i) for i in doc["indices"]))
    for p in written:
        lines.append(f"wrote {p}")
    lines.append(f"done in {elapsed:.2f} s")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m golden_model.cli",
                description="AdapSNE / NMS golden model: select exemplars from your own data.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("select", help="select exemplars per class",
                       description="Select round(ratio*N) exemplars from every class of INPUT.")
    s.add_argument("input", metavar="INPUT", help=".npz (arrays X, y), .npy (with --labels) or .csv")
    s.add_argument("--ratio", required=True, metavar="R", help="fraction of each class to keep, in (0, 1]")
    s.add_argument("--method", default="adapsne", choices=METHODS,
                   help="adapsne (FWA search + entropy-guided perplexity, default) or nms (bisection, fixed perplexity)")
    s.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                   help=f"accelerator preset: {', '.join(PRESETS)} (default {DEFAULT_PRESET})")
    s.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one AccelConfig parameter (repeatable), e.g. --set tsne_iters=300")
    s.add_argument("--arithmetic", default="float", choices=ARITHMETICS,
                   help="arithmetic of the sigma search (default float)")
    s.add_argument("--perplexity", default=None, metavar="P",
                   help="target perplexity (nms: replaces the preset's; adapsne: fixes it, no entropy-guided search)")
    s.add_argument("--labels", default=None, metavar="LABELS.npy", help="labels for a .npy (or label-less .csv) input")
    s.add_argument("--label-column", default=None, metavar="COL",
                   help="CSV label column: header name or index (negative from the end); default the last column")
    s.add_argument("--header", default="auto", choices=("auto", "yes", "no"),
                   help="CSV header row (default auto-detect)")
    s.add_argument("--out", default=None, metavar="OUT.json", help="write indices and summary as JSON")
    s.add_argument("--indices", default=None, metavar="OUT.npy", help="write the selected indices as an int64 .npy")
    s.add_argument("--details", action="store_true",
                   help="include per-class embedding, betas, search passes in the JSON")
    sub.add_parser("presets", help="list the accelerator presets")
    return p


def _cmd_presets(out) -> int:
    out.write(f"{'preset':<8} {'lanes':>5} {'n_max':>6} {'d_max':>6} {'feature range':>14} "
              f"{'perplexity':>10}  candidates\n")
    for name, c in PRESETS.items():
        out.write(f"{name:<8} {c.lanes:>5} {c.n_max:>6} {c.d_max:>6} {'0..' + str(c.feature_max):>14} "
                  f"{c.perplexity:>10g}  {', '.join(f'{p:g}' for p in c.perplexity_candidates)}\n")
    return 0


def _parse_float_arg(name: str, text: str | None):
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{name} must be a number, got {text!r}") from None


def _cmd_select(args, out) -> int:
    t0 = time.perf_counter()
    from .select import select  # imported here so `presets` and --help stay light

    # 1. arguments that do not need the data
    ratio = validate_ratio(args.ratio)
    perplexity = _parse_float_arg("--perplexity", args.perplexity)
    if perplexity is not None and not (math.isfinite(perplexity) and perplexity > 1.0):
        raise DataError(f"--perplexity={args.perplexity} is out of range: allowed 1 < perplexity < "
                        f"smallest class size")
    cfg, overrides = resolve_config(args.preset, args.sets, perplexity, args.method)
    label_column = args.label_column  # a name or an index; dataio decides with the header
    inputs = [args.input, args.labels]
    outs = []
    if args.out is not None:
        outs.append(_check_output_path(args.out, "--out", inputs))
    if args.indices is not None:
        outs.append(_check_output_path(args.indices, "--indices", inputs))
    if len(outs) == 2 and os.path.abspath(outs[0]) == os.path.abspath(outs[1]):
        raise UsageError("--out and --indices name the same file")

    # 2. data
    ds = load_dataset(args.input, labels=args.labels, label_column=label_column, header=args.header)
    data = validate_dataset(ds.X, ds.y, cfg, ratio=ratio, feature_names=ds.feature_names)
    for name, p in _user_perplexities(args.method, overrides, perplexity):
        validate_perplexity(p, data.sizes, name=name)

    # 3. selection
    try:
        indices, details = select(data.X, data.y, ratio, method=args.method, cfg=cfg,
                                  arithmetic=args.arithmetic, return_details=True)
    except NotImplementedError as e:
        raise UsageError(f"--arithmetic {args.arithmetic}: {e}") from None
    details = {label_to_python(k): v for k, v in details.items()}
    indices = np.asarray(indices, dtype=np.int64)

    # 4. outputs, all or nothing
    doc = build_summary(args, cfg, overrides, data, indices, details, args.preset)
    payloads = []
    if args.out is not None:
        payloads.append((args.out, dumps_json(doc).encode()))
    if args.indices is not None:
        payloads.append((args.indices, _npy_bytes(indices)))
    write_atomically(payloads)
    out.write(format_summary(doc, time.perf_counter() - t0, [p for p, _ in payloads],
                             show_indices=not payloads))
    return 0


def main(argv: Sequence[str] | None = None, stdout=None, stderr=None) -> int:
    """Run the command line `argv` (default ``sys.argv[1:]``); return the exit status."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = _parser()
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
        return _cmd_select(args, stdout)
    except (UsageError, DataError, ConfigError) as e:
        stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
