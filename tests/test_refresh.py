"""synth.refresh: the regeneration plan run as a job graph within a number of process slots."""

from __future__ import annotations

import sys

import pytest

from synth import refresh
from synth.refresh_plan import Step

PY = f"'{sys.executable}' -c"


def _touch(tmp_path, name, then=""):
    """A command that appends `name` to order.txt at its start and at its end (after `then`)."""
    order = tmp_path / "order.txt"
    return (f"{PY} \"open('{order}','a').write('start {name}\\n')\" && {then}"
            f"{PY} \"open('{order}','a').write('end {name}\\n')\"")


def _sleep(s):
    return f"{PY} 'import time; time.sleep({s})' && "


def _plan(tmp_path):
    return [Step("synthesis", _touch(tmp_path, "digits", _sleep(0.3)), 60.0, report="reports/synth/digits.json"),
            Step("synthesis", _touch(tmp_path, "tiny"), 10.0, report="reports/synth/tiny.json"),
            Step("seeds", _touch(tmp_path, "seeds"), 40.0, report="reports/synth/digits.json", cores=2),
            Step("sweep", _touch(tmp_path, "K4"), 8.0),
            Step("sweep", _touch(tmp_path, "whole"), None, late=True),
            Step("speed", _touch(tmp_path, "speed")),
            Step("readme", _touch(tmp_path, "readme")),
            Step("check", _touch(tmp_path, "check"))]


def test_dependencies_follow_what_each_command_reads(tmp_path):
    jobs = refresh.dependencies(_plan(tmp_path))
    needs = {j.index: j.needs for j in jobs}
    assert needs[2] == {0}                      # seeds of digits after digits, not after tiny
    assert needs[4] == {3}                      # the whole sweep after the single points
    assert needs[5] == {0, 2}                   # speed after its clock report and its seeds
    assert needs[6] == {0, 1, 2, 3, 4, 5}       # the README table after everything else
    assert needs[7] == {0, 1, 2, 3, 4, 5, 6}
    assert not needs[0] and not needs[1] and not needs[3]
    chain = refresh.chain_minutes(jobs)
    assert chain[0] == 100.0 and chain[1] == 10.0       # digits heads the longest chain


def test_runs_in_dependency_order_within_the_slots(tmp_path):
    jobs = refresh.dependencies(_plan(tmp_path))
    lines = []
    assert refresh.run(jobs, 2, tmp_path / "logs", tmp_path, log=lines.append, poll_s=0.05)
    order = (tmp_path / "order.txt").read_text().split("\n")[:-1]
    pos = {e: i for i, e in enumerate(order)}
    assert "start 0 " in lines[0]                        # the longest chain (digits) starts first
    assert pos["end digits"] < pos["start seeds"] and pos["end K4"] < pos["start whole"]
    assert pos["end seeds"] < pos["start speed"] and pos["end speed"] < pos["start readme"]
    assert order[-2:] == ["start check", "end check"]
    # the seeds step counts both slots: nothing starts while it runs
    assert not any(e.startswith("start") for e in order[pos["start seeds"] + 1:pos["end seeds"]]), order
    assert all(j.state == "done" for j in jobs) and len(list((tmp_path / "logs").iterdir())) == len(jobs)
    assert sum("start" in m for m in lines) == len(jobs)


def test_one_slot_runs_one_command_at_a_time(tmp_path):
    jobs = refresh.dependencies(_plan(tmp_path))
    assert refresh.run(jobs, 1, tmp_path / "logs", tmp_path, log=lambda m: None, poll_s=0.05)
    order = (tmp_path / "order.txt").read_text().split("\n")[:-1]
    assert all(a.startswith("start") and b == "end" + a[5:] for a, b in zip(order[::2], order[1::2])), order


def test_a_failure_skips_what_needs_it_and_the_rest_goes_on(tmp_path):
    steps = _plan(tmp_path)
    steps[0] = Step("synthesis", f"{PY} 'import sys; sys.exit(3)'", 60.0, report="reports/synth/digits.json")
    jobs = refresh.dependencies(steps)
    lines = []
    assert not refresh.run(jobs, 2, tmp_path / "logs", tmp_path, log=lines.append, poll_s=0.05)
    state = {j.index: j.state for j in jobs}
    assert state[0] == "failed" and jobs[0].rc == 3
    assert state[2] == state[5] == state[6] == state[7] == "skipped"
    assert state[1] == state[3] == state[4] == "done"
    assert any("FAILED (exit 3)" in m for m in lines)


def test_bad_slot_count_is_refused_before_anything_runs(tmp_path):
    jobs = refresh.dependencies(_plan(tmp_path))
    with pytest.raises(ValueError, match="--jobs must be >= 1, got 0"):
        refresh.run(jobs, 0, tmp_path / "logs", tmp_path)
    assert not (tmp_path / "order.txt").exists() and not (tmp_path / "logs").exists()
    with pytest.raises(SystemExit):
        refresh.main(["--jobs", "0"])


def test_a_two_process_step_holds_both_slots(tmp_path):
    steps = [Step("seeds", _touch(tmp_path, "seeds", _sleep(0.3)), 40.0, report="r.json", cores=2),
             Step("sweep", _touch(tmp_path, "K4"), 8.0), Step("sweep", _touch(tmp_path, "K8"), 8.0)]
    jobs = refresh.dependencies(steps)
    assert refresh.run(jobs, 2, tmp_path / "logs", tmp_path, log=lambda m: None, poll_s=0.05)
    order = (tmp_path / "order.txt").read_text().split("\n")[:-1]
    assert order[:2] == ["start seeds", "end seeds"], order
    # with one slot it still runs (on one slot), alone
    (tmp_path / "order.txt").unlink()
    jobs = refresh.dependencies(steps)
    assert refresh.run(jobs, 1, tmp_path / "logs", tmp_path, log=lambda m: None, poll_s=0.05)
    assert (tmp_path / "order.txt").read_text().split("\n")[:2] == ["start seeds", "end seeds"]
