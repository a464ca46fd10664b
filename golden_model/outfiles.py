"""Output files of the command-line tools: checked before the work, written all or nothing.

Rules (docs/usage.md, "Where the outputs go"):

* An output goes to a **regular file** (replaced) or to a **new path** in an existing directory.
  Anything else (a directory, a FIFO, a device node, a socket) is refused.
* A **symlink** is followed: its final target is written (the link itself stays a link), under
  the same rules.  A link whose target directory does not exist, or a link loop, is refused.
* A new file gets the mode ``0666 & ~umask``; a replaced file keeps its mode (and, when we may,
  its owner and group).  A read-only existing file is refused instead of replaced.
* ``-`` (:data:`STDOUT`) means standard output (text outputs only).
* Every location is checked *before* the work starts by creating the temporary file that will
  hold the payload, next to the target; :func:`commit` fills the temporaries and renames them
  into place only when every payload is ready, :func:`discard` removes them on any failure.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Sequence

#: The output name that means standard output.
STDOUT = "-"

_KIND = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))


class OutputError(ValueError):
    """An output location cannot or must not be written; the message names it and why."""


@dataclass
class Target:
    """One checked output location.

    Attributes
    ----------
    option, given : str
        The command-line option and the path as given (for messages).
    path : str or None
        The file that will be replaced or created (symlinks resolved); None for standard output.
    existing : os.stat_result or None
        The stat of the file being replaced (its mode and owner are kept).
    tmp : str or None
        The reserved temporary file next to `path`.
    fd : int or None
        Open descriptor of `tmp`.
    """

    option: str
    given: str
    path: str | None = None
    existing: os.stat_result | None = None
    tmp: str | None = None
    fd: int | None = None

    @property
    def is_stdout(self) -> bool:
        return self.path is None


def _kind(mode: int) -> str:
    for test, name in _KIND:
        if test(mode):
            return name
    return "not a regular file"


def _resolve(option: str, given: str) -> tuple:
    """-> (path to write, stat of the existing regular file or None)."""
    link = os.path.islink(given)
    path = os.path.realpath(given)
    via = f" (symlink to {path!r})" if link else ""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise OutputError(f"{option} {given!r}{via}: directory {parent!r} does not exist") from None
        return path, None
    except OSError as e:  # a link loop, a path through a non-directory, no permission
        raise OutputError(f"{option} {given!r}{via}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{option} {given!r}{via} is {_kind(st.st_mode)}; outputs are written only to "
                          f"a regular file or a new path")
    if not os.access(path, os.W_OK):
        raise OutputError(f"{option} {given!r}{via} is read-only; refusing to replace it")
    return path, st


def _reserve(t: Target) -> None:
    """Create the temporary file next to ``t.path`` (this is the writability check)."""
    d, base = os.path.split(t.path)
    for i in range(1000):  # pid + counter: unique without randomness
        tmp = os.path.join(d, f".{base}.{os.getpid()}.{i}.tmp")
        try:
            # mode 0666: the kernel applies the umask, as for any new file
            t.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"{t.option} {t.given!r}: cannot create a file in directory {d!r}: "
                              f"{e.strerror}") from None
        t.tmp = tmp
        return
    raise OutputError(f"{t.option} {t.given!r}: cannot create a temporary file in {d!r}")


def prepare(specs: Sequence[tuple], inputs: Sequence[str | None] = (), stdout_ok: Sequence[str] = ()) -> list:
    """Check the output locations ``[(option, path or None), ...]`` and reserve their temporaries.

    Parameters
    ----------
    specs : sequence of (str, str or None)
        Option name and the path given (None: option not used, skipped).
    inputs : sequence of str or None
        Input files: an output that is one of them is refused.
    stdout_ok : sequence of str
        Options that may be :data:`STDOUT`.

    Returns
    -------
    list of Target
        In the order of `specs`.  Call :func:`commit` or :func:`discard` with it.

    Raises
    ------
    OutputError
        The first location that cannot or must not be written (nothing is left behind).
    """
    targets: list = []
    try:
        for option, given in specs:
            if given is None:
                continue
            given = os.fspath(given)
            if given == STDOUT:
                if option not in stdout_ok:
                    raise OutputError(f"{option} {STDOUT}: standard output is not supported for {option}; "
                                      f"give a file name (./- for a file named '-')")
                if any(t.is_stdout for t in targets):
                    raise OutputError(f"{option} {STDOUT}: standard output is already used by "
                                      f"{[t.option for t in targets if t.is_stdout][0]}")
                targets.append(Target(option, given))
                continue
            path, st = _resolve(option, given)
            for ip in inputs:
                if ip is not None and st is not None and os.path.exists(ip) and os.path.samefile(ip, path):
                    raise OutputError(f"{option} {given!r} is an input file; refusing to overwrite it")
            for t in targets:
                if t.path == path:
                    raise OutputError(f"{t.option} and {option} name the same file {path!r}")
            t = Target(option, given, path, st)
            targets.append(t)
            _reserve(t)
    except BaseException:
        discard(targets)
        raise
    return targets


def commit(targets: Sequence[Target], payloads: Sequence[bytes]) -> None:
    """Write ``payloads[i]`` to the temporary of ``targets[i]`` (files only, not stdout), then
    rename every temporary into place.  On any error every temporary is removed and no target is
    touched (as long as the error happens before the renames start)."""
    files = [(t, p) for t, p in zip(targets, payloads) if not t.is_stdout]
    try:
        for t, payload in files:
            with os.fdopen(t.fd, "wb") as f:
                t.fd = None
                f.write(payload)
                f.flush()
                if t.existing is not None:  # a replaced file keeps its owner and mode
                    try:
                        os.fchown(f.fileno(), t.existing.st_uid, t.existing.st_gid)
                    except OSError:
                        pass  # not permitted for an ordinary user: the file becomes ours
                    os.fchmod(f.fileno(), stat.S_IMODE(t.existing.st_mode))
                os.fsync(f.fileno())
        for t, _ in files:  # the location may have changed during the run
            try:
                st = os.stat(t.path)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                raise OutputError(f"{t.option} {t.given!r} became {_kind(st.st_mode)} during the run; "
                                  f"nothing written")
        for t, _ in files:
            os.replace(t.tmp, t.path)
            t.tmp = None
    finally:
        discard(targets)


def discard(targets: Sequence[Target]) -> None:
    """Close and remove every reserved temporary that is still there."""
    for t in targets:
        if t.fd is not None:
            os.close(t.fd)
            t.fd = None
        if t.tmp is not None:
            try:
                os.unlink(t.tmp)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
            t.tmp = None


__all__ = ["STDOUT", "OutputError", "Target", "prepare", "commit", "discard"]
