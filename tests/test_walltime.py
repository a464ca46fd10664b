"""The one wall-clock method of the benchmarks (`golden_model.walltime`)."""

import pytest

from golden_model.walltime import median_time


def test_median_of_runs_and_every_run_recorded():
    calls = []
    out = median_time(lambda: calls.append(1), 3)
    assert len(calls) == 3 and len(out["runs_s"]) == 3
    assert sorted(out["runs_s"])[1] == pytest.approx(out["median_s"], abs=1e-6)


def test_runs_must_be_positive():
    with pytest.raises(ValueError, match="runs must be at least 1"):
        median_time(lambda: None, 0)
