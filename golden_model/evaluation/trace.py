"""Which golden-model code a selection actually executes (for the report's "what is fixed-point").

The report does not state from memory which phases run in fixed point: the first class of each
t-SNE based method's first-seed selection runs under :class:`FirstClassTracer` (or any block
under :func:`traced`), which records every golden-model function called (``sys.setprofile``,
Python ``call`` events only), and :func:`phase_table` maps the recorded modules onto the
pipeline's phases.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

#: Pipeline phases in order: (phase, fixed-point module, float64 reference functions).  A phase
#: is reported fixed-point for a method when its fixed-point module ran, float64 when one of the
#: reference functions ran instead.  ``fixed`` is the shared table/format module.
PHASES = (
    ("sigma search", "golden_model.search_fixed",
     ("search_all_rows", "search_row", "search_bisection", "search_fwa", "search_ksection")),
    ("joint affinities P", "golden_model.affinity_fixed", ("joint_p", "conditional_p")),
    ("t-SNE", "golden_model.tsne_fixed", ("tsne",)),
    ("occupancy entropy and perplexity choice", "golden_model.entropy_fixed",
     ("occupancy_entropy", "choose_perplexity")),
    ("grid sampler", "golden_model.grid_fixed", ("grid_sample",)),
)
REFERENCE = "golden_model.reference"

#: Modules not recorded: the evaluation itself.
_SKIP = ("golden_model.evaluation",)


def _is_reference(module: str) -> bool:
    """True for the float64 reference package and its modules (``golden_model.reference.*``)."""
    return module == REFERENCE or module.startswith(REFERENCE + ".")


def _hook(calls: set):
    def hook(frame, event, arg):  # noqa: ARG001
        if event == "call":
            mod = frame.f_globals.get("__name__", "")
            if mod.startswith("golden_model.") and not mod.startswith(_SKIP):
                calls.add((mod, frame.f_code.co_name))
    return hook


class FirstClassTracer:
    """``select(progress=...)`` callback that traces the first class only (the hook doubles the
    run time of the Python-heavy fixed-point search, so one class of one seed is traced; every
    class takes the same code path).  The recorded ``(module, function)`` pairs are in `calls`."""

    def __init__(self):
        self.calls: set = set()
        self._old = None

    def __call__(self, event: str, info: dict) -> None:
        if info["index"] != 0:
            return
        if event == "start":
            self._old = sys.getprofile()
            sys.setprofile(_hook(self.calls))
        elif event == "done":
            sys.setprofile(self._old)


@contextmanager
def traced(calls: set):
    """Add ``(module, function)`` of every golden-model function called inside the block to `calls`.

    The hook only inspects ``call`` events of Python frames, so NumPy-heavy code pays little; a
    previously installed profile function is restored on exit.
    """
    old = sys.getprofile()
    sys.setprofile(_hook(calls))
    try:
        yield calls
    finally:
        sys.setprofile(old)


def phase_table(calls) -> list:
    """Per phase of :data:`PHASES`: ``{"phase", "arithmetic", "code"}`` from a traced call set.

    ``arithmetic`` is ``"fixed"`` when the phase's fixed-point module ran, ``"float64"`` when only
    reference functions of the phase ran, ``"both"`` when both did and ``"not run"`` otherwise;
    ``code`` names what ran (module, or ``reference.<function>`` list).
    """
    calls = {tuple(c) for c in calls}
    mods = {m for m, _ in calls}
    ref_funcs = {f for m, f in calls if _is_reference(m)}
    out = []
    for phase, fixed_mod, ref_names in PHASES:
        fx = fixed_mod in mods
        fl = sorted(ref_funcs & set(ref_names))
        arith = "both" if fx and fl else "fixed" if fx else "float64" if fl else "not run"
        code = ([fixed_mod.split(".", 1)[1]] if fx else []) + [f"reference.{f}" for f in fl]
        out.append({"phase": phase, "arithmetic": arith, "code": code})
    return out


def reference_helpers(calls) -> list:
    """Public reference functions a run called outside the phases' float64 functions (sorted):
    shared integer helpers (distances, grid side) and diagnostics (KL)."""
    phase_funcs = {f for _, _, names in PHASES for f in names}
    return sorted({f for m, f in calls if _is_reference(m) and f not in phase_funcs
                   and f.isidentifier() and not f.startswith("_")})
