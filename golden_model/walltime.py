"""Wall-clock timing of software runs, the one method every benchmark uses: median of several
runs (the thread-count environment variables are the caller's: they must be set before NumPy
loads)."""

from __future__ import annotations

import statistics
import time

__all__ = ["median_time"]


def median_time(fn, runs: int) -> dict:
    """Run ``fn()`` `runs` times; ``{"median_s": median seconds, "runs_s": every run}``."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(ts), "runs_s": [round(t, 6) for t in ts]}
