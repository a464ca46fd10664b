"""Where `python -m golden_model.cli select` writes: regular files or new paths only, symlinks
followed, file modes, locations checked before the work, ``--out -``, progress and --quiet."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import golden_model.select as select_mod
from golden_model import cli
from golden_model.select import select
from test_cli import FAST_ARGS, SENTINEL, TINY, _npz, blobs, run


@pytest.fixture
def data(tmp_path):
    X, y = blobs()
    return _npz(tmp_path, X, y), X, y


def _select(p, *extra):
    return run(["select", p, "--ratio", "0.25", *FAST_ARGS, *extra])


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _no_temporaries(d):
    assert not [f for f in os.listdir(d) if f.endswith(".tmp")]


# --------------------------------------------------------------------------------------------
# 1. only regular files or new paths; symlinks are followed
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["--out", "--indices"])
def test_symlink_output_writes_its_target(tmp_path, data, option):
    p, X, y = data
    target = tmp_path / "real.out"
    target.write_bytes(SENTINEL)
    link = tmp_path / "link.out"
    link.symlink_to(target.name)
    rc, _, err = _select(p, option, link)
    assert rc == 0, err
    assert link.is_symlink() and os.readlink(link) == target.name  # the link is left as it was
    assert target.read_bytes() != SENTINEL
    if option == "--out":
        assert json.loads(target.read_text())["indices"] == select(X, y, 0.25, cfg=TINY).tolist()
    else:
        np.testing.assert_array_equal(np.load(target), select(X, y, 0.25, cfg=TINY))
    _no_temporaries(tmp_path)


def test_dangling_symlink_creates_its_target(tmp_path, data):
    p, _, _ = data
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "sub" / "new.json")
    rc, _, err = _select(p, "--out", link)
    assert rc == 0, err
    assert link.is_symlink() and (tmp_path / "sub" / "new.json").is_file()


def test_symlink_into_missing_directory_is_refused(tmp_path, data):
    p, _, _ = data
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "nowhere" / "new.json")
    rc, _, err = _select(p, "--out", link)
    assert rc == 2 and "does not exist" in err and "symlink" in err
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("option", ["--out", "--indices"])
@pytest.mark.parametrize("via_link", [False, True])
def test_fifo_output_is_refused(tmp_path, data, option, via_link):
    p, _, _ = data
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = fifo
    if via_link:
        target = tmp_path / "link"
        target.symlink_to(fifo)
    before = sorted(os.listdir(tmp_path))
    rc, _, err = _select(p, option, target)
    assert rc == 2, err
    assert err.startswith("error: ") and option in err and "FIFO" in err and "regular file" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == before


def test_directory_output_is_refused(tmp_path, data):
    p, _, _ = data
    rc, _, err = _select(p, "--out", tmp_path)
    assert rc == 2 and "directory" in err and tmp_path.is_dir()


# --------------------------------------------------------------------------------------------
# 2. modes: new files follow the umask, replaced files keep theirs
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_outputs_follow_the_umask(tmp_path, data, umask, mask):
    p, _, _ = data
    umask(mask)
    rc, _, err = _select(p, "--out", tmp_path / "o.json", "--indices", tmp_path / "o.npy")
    assert rc == 0, err
    assert _mode(tmp_path / "o.json") == 0o666 & ~mask
    assert _mode(tmp_path / "o.npy") == 0o666 & ~mask


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o664])
def test_replaced_outputs_keep_their_mode(tmp_path, data, umask, mode):
    p, _, _ = data
    umask(0o077)
    for name in ("o.json", "o.npy"):
        (tmp_path / name).write_bytes(SENTINEL)
        os.chmod(tmp_path / name, mode)
    rc, _, err = _select(p, "--out", tmp_path / "o.json", "--indices", tmp_path / "o.npy")
    assert rc == 0, err
    for name in ("o.json", "o.npy"):
        assert (tmp_path / name).read_bytes() != SENTINEL
        assert _mode(tmp_path / name) == mode


# --------------------------------------------------------------------------------------------
# 3. unwritable locations: exit 2 before any work
# --------------------------------------------------------------------------------------------
def _no_work(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the work started although an output location is unusable")
    monkeypatch.setattr(cli, "load_dataset", boom)
    monkeypatch.setattr(select_mod, "select", boom)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_directory_fails_before_the_work(data, monkeypatch):
    p, _, _ = data
    _no_work(monkeypatch)
    rc, _, err = _select(p, "--out", "/proc/o.json")
    assert rc == 2
    assert err.startswith("error: --out '/proc/o.json'") and "cannot create a file in directory '/proc'" in err


@pytest.mark.parametrize("option", ["--out", "--indices"])
def test_missing_directory_fails_before_the_work(tmp_path, data, monkeypatch, option):
    p, _, _ = data
    _no_work(monkeypatch)
    rc, _, err = _select(p, "--out", tmp_path / "ok.json", option, tmp_path / "no" / "x")
    assert rc == 2 and "does not exist" in err
    assert sorted(os.listdir(tmp_path)) == ["data.npz"]  # the reserved temporary of ok.json is gone too


# --------------------------------------------------------------------------------------------
# 4. --out - is standard output
# --------------------------------------------------------------------------------------------
def test_out_dash_is_standard_output(tmp_path, data, monkeypatch):
    p, X, y = data
    monkeypatch.chdir(tmp_path)
    rc, out, err = _select(p, "--out", "-", "--indices", "i.npy")
    assert rc == 0, err
    doc = json.loads(out)  # stdout holds the JSON and nothing else
    assert doc["indices"] == select(X, y, 0.25, cfg=TINY).tolist()
    assert not os.path.exists("-")
    assert "selected" in err and "wrote i.npy" in err and "wrote -" not in err  # the summary: stderr
    assert np.load("i.npy").tolist() == doc["indices"]


def test_dash_is_refused_for_the_binary_indices(tmp_path, data, monkeypatch):
    p, _, _ = data
    monkeypatch.chdir(tmp_path)
    rc, _, err = _select(p, "--indices", "-")
    assert rc == 2 and "--indices -" in err and "./-" in err
    assert not os.path.exists("-")


# --------------------------------------------------------------------------------------------
# 12. progress, --quiet and the converged share
# --------------------------------------------------------------------------------------------
def test_progress_after_the_threshold(tmp_path, data, monkeypatch):
    p, X, y = data
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)  # every run counts as long
    rc, out, err = _select(p, "--out", tmp_path / "o.json")
    assert rc == 0, err
    _, det = select(X, y, 0.25, cfg=TINY, return_details=True)
    lines = err.splitlines()
    for i, (label, d) in enumerate(det.items()):
        done = [ln for ln in lines if ln.startswith(f"[{i + 1}/3] class {label!r}") and "done" in ln]
        assert len(done) == 1, err
        assert f"{100 * np.mean(d['converged']):.1f}% of the points" in done[0]
    assert "[" not in out  # progress never goes to stdout


def test_progress_from_the_start_when_estimated_long(tmp_path, data, monkeypatch):
    p, _, _ = data
    monkeypatch.setattr(cli, "WORK_PER_S", 1.0)  # estimate: hours
    rc, _, err = _select(p, "--out", tmp_path / "o.json")
    assert rc == 0
    assert err.splitlines()[0].startswith("[1/3] class 0 (N=12, k=3): started")
    rc, _, err = _select(p, "--out", tmp_path / "o.json", "--quiet")
    assert rc == 0 and err == ""


def test_no_progress_for_a_short_run(tmp_path, data):
    p, _, _ = data
    rc, out, err = _select(p, "--out", tmp_path / "o.json")
    assert rc == 0 and err == "" and "done in" in out


def test_quiet_prints_nothing_but_the_result(tmp_path, data, monkeypatch):
    p, X, y = data
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)
    rc, out, err = _select(p, "--out", tmp_path / "o.json", "--quiet")
    assert rc == 0 and out == "" and err == ""
    rc, out, err = _select(p, "--quiet")  # no output file: the indices are the result
    assert rc == 0 and err == ""
    assert out == "indices: " + " ".join(map(str, select(X, y, 0.25, cfg=TINY))) + "\n"


def test_summary_shows_the_converged_share(tmp_path, data):
    p, X, y = data
    rc, out, _ = _select(p, "--method", "nms", "--out", tmp_path / "o.json")
    assert rc == 0
    _, det = select(X, y, 0.25, method="nms", cfg=TINY, return_details=True)
    share = np.mean(np.concatenate([d["converged"] for d in det.values()]))
    assert "conv." in out.splitlines()[1]
    assert f"sigma search reached its tolerance for {100 * share:.1f}% of the points" in out
    for label, d in det.items():
        row = [ln for ln in out.splitlines() if ln.split()[:1] == [str(label)]][0]
        assert row.endswith(f"{100 * np.mean(d['converged']):.1f}%")


def test_select_reports_progress_per_class():
    X, y = blobs(n_per_class=(10, 12))
    events = []
    _, det = select(X, y, 0.3, method="nms", cfg=TINY, return_details=True,
                    progress=lambda ev, info: events.append((ev, dict(info))))
    assert [(e, i["label"], i["n"]) for e, i in events] == [
        ("start", 0, 10), ("done", 0, 10), ("start", 1, 12), ("done", 1, 12)]
    for ev, info in events[1::2]:
        assert info["converged_fraction"] == np.mean(det[info["label"]]["converged"])


def test_help_lists_outputs_and_limits(capsys):
    from golden_model.config import SIZE_LIMITS
    rc = cli.main(["select", "--help"])
    text = capsys.readouterr().out
    assert rc == 0
    for key, (_, hi) in SIZE_LIMITS.items():
        if key != "lanes":
            assert f"{key}={hi}" in text
    for words in ("--out - : standard output", "regular file", "symlink", "umask", "standard error",
                  "before the work starts", "--quiet"):
        assert words in " ".join(text.split()), words
