"""zoo's own files: where they live (``$ZOO_HOME``) and how they are written so that a kill at
any moment leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PARTIAL = ".part"  # the suffix of a temp file that is not yet renamed into place


def zoo_home() -> Path:
    """``$ZOO_HOME``, else ``~/.cache/zoo``: downloads and settings live below it."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".cache" / "zoo").expanduser()


def temp_file(path: Path) -> Path:
    """A new empty temporary file beside ``path`` (same filesystem: ``os.replace`` is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; after the block writes it, it is fsync'd and renamed
    over ``path`` in one step. An error or a kill leaves ``path`` as it was."""
    tmp = temp_file(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        make_readable(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    with atomic(path) as tmp:
        tmp.write_bytes(data)


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_readable(path: Path) -> None:
    """mkstemp makes files only their owner can read; zoo's files get the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
