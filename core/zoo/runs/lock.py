"""The run directory's lock: one process trains or resumes a run at a time, and anyone can ask,
without writing into the folder, whether a live process holds it."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from .. import files, text
from ..errors import ZooError
from ..files import write_atomic

LOCK = ".zoo.lock"
OWNER = ".zoo.lock.owner"  # who holds the lock, for the message a second process gets


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory for one process (a run, a resume): a second one is refused with a
    line saying who holds it, instead of interleaving epochs in the same files."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    for name in (LOCK, OWNER):  # opening a link would truncate or overwrite where it leads
        if (run_dir / name).is_symlink() or (
            (run_dir / name).exists() and not (run_dir / name).is_file()
        ):
            raise ZooError(f"{run_dir / name} is not a file zoo wrote (a link?): refused")
    lock = FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            note = files.read_bounded(run_dir / OWNER, 4096).decode("utf-8", "replace")
            owner = text.printable(note.strip()) or "another zoo process"
        except (OSError, ZooError):
            owner = "another zoo process"
        raise ZooError(
            f"{run_dir} is in use by {owner}: wait for it to end (or stop it), then try again"
        ) from None
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError):  # replaced whole: a link put there is not followed
            note = f"zoo (pid {os.getpid()} on {_host()}, since {started})"
            write_atomic(run_dir / OWNER, note.encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            (run_dir / OWNER).unlink()
        lock.release()


def _host() -> str:
    import socket

    return socket.gethostname()


#: Where Linux lists every file lock in the system (``flock``'s among them): whether a run's lock
#: is held is read there, without taking it (a probe that took it, even for a moment, could make
#: a ``zoo resume`` starting then fail) and without writing into the folder.
PROC_LOCKS = Path("/proc/locks")
_NOTE = re.compile(r"pid (\d+) on ([^,\s]+)")


def holder(run_dir: Path) -> str | None:
    """Who holds the run directory now (its owner note, in words), ``None`` when no live process
    does: one killed with SIGKILL left its note behind, but no lock."""
    lock, owner = Path(run_dir) / LOCK, Path(run_dir) / OWNER
    try:
        info = os.stat(lock, follow_symlinks=False)
    except OSError:
        return None
    try:
        note = files.read_bounded(owner, 4096).decode("utf-8", "replace").strip()
    except (OSError, ZooError):
        note = ""
    shown = text.printable(note) or "another zoo process"
    held = _flocked(info.st_ino)
    if held is None:  # no /proc/locks (not Linux): the note's process, if it is on this machine
        found = _NOTE.search(note)
        if found is None:
            return None
        if found[2] != _host():
            return shown  # another machine's process: zoo cannot see it, and believes the note
        held = _alive(int(found[1]))
    return shown if held else None


def _flocked(inode: int) -> bool | None:
    """Whether some process holds a lock on the file with ``inode`` (``None``: cannot tell)."""
    try:
        with open(PROC_LOCKS, "rb") as f:
            table = f.read(8 << 20).decode("ascii", "replace")
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields:  # a process waiting for the lock, not holding it
            continue
        where = next((f for f in fields if f.count(":") == 2), None)
        if where is not None and where.rsplit(":", 1)[1] == str(inode):
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    except (OSError, OverflowError):
        return False
    return True
