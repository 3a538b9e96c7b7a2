"""zoo's own files: where they live (``$ZOO_HOME``), how they are written so that a kill at
any moment leaves the old file or the new one, never half of one, and how files from outside
(a run directory someone shared, a card, a picture) are read: only regular files, only inside
the folder they belong to, never more bytes than such a file can honestly hold. Names that
become file or folder names are checked against one pattern.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError, ZooError
from .text import shown

PARTIAL = ".part"  # the suffix of a temp file that is not yet renamed into place

#: The one pattern of a name that becomes part of a file or folder name (a model, a dataset, a
#: run, a weights entry MODEL.TAG...): letters, digits, ``_``, ``-`` and ``.``, starting with a
#: letter or a digit, at most 100 characters. No ``/``, no ``..`` alone, no newline, no ``:``.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def is_name(value: Any) -> bool:
    """Whether ``value`` is a string matching :data:`NAME` as a whole (``fullmatch``: a trailing
    newline is not accepted, as ``$`` would)."""
    return isinstance(value, str) and NAME.fullmatch(value) is not None


def check_name(value: Any, what: str) -> str:
    """``value`` when it is a safe name, else a :class:`ConfigError` naming ``what``."""
    if not is_name(value):
        raise ConfigError(
            f"{what} {shown(value)}: expected letters, digits, _, - and . (starting with a "
            "letter or a digit, at most 100 characters), since it becomes a file name"
        )
    return value


# --- reading what came from outside ---------------------------------------------------------------


def inside(root: Path, path: str | Path, what: str) -> Path:
    """``path`` (relative to ``root``, or absolute) with every link resolved, refused when it
    leads out of ``root``: what zoo writes, deletes or reads for a run stays in its folder."""
    root = Path(root)
    name = os.fspath(path)
    if name and "/" not in name and os.sep not in name and name not in (".", ".."):
        # one plain name in root: inside it unless it is itself a link (one lstat, no walk)
        with contextlib.suppress(OSError):
            if not stat.S_ISLNK(os.lstat(root / name).st_mode):
                return root.resolve() / name
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ZooError(
            f"{what} {root / path} leads outside {root}: refused (nothing read or written)"
        )
    return resolved


def regular(path: Path, what: str = "") -> os.stat_result:
    """The stat of ``path``, refused unless it is a regular file (a FIFO would block a reader
    forever, a device never ends). ``FileNotFoundError`` passes through."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ZooError(f"{what or path} is {kind}: zoo reads only regular files there")
    return info


def read_bounded(path: Path, limit: int, what: str = "") -> bytes:
    """The bytes of the regular file ``path``, refused when it holds more than ``limit`` (read
    without blocking on a FIFO: opened non-blocking, checked by its open handle).
    ``FileNotFoundError`` passes through; other OS errors are one line."""
    label = what or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ZooError(f"cannot read {label}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder or a FIFO: before it is read
        os.close(fd)
        raise ZooError(f"{label} is not a regular file: zoo reads only regular files there")
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ZooError(f"{label} is larger than zoo ever writes one ({limit:,} bytes): not read")
    return data


def parse_json(data: str | bytes) -> Any:
    """JSON from outside: ``ValueError`` for anything that is not plain JSON, including nesting
    deep enough to exhaust the stack and the constants NaN and Infinity."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a number zoo writes")

    def number(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{text[:20]} is too large a number")
        return value

    try:
        return json.loads(data, parse_constant=refuse, parse_float=number)
    except RecursionError:
        raise ValueError("nested too deeply") from None


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
def atomic(path: Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; after the block writes it, it is fsync'd (unless not
    ``durable``: a note that is rewritten every second) and renamed over ``path`` in one step.
    An error or a kill leaves ``path`` as it was."""
    tmp = temp_file(path)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        make_readable(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    with atomic(path, durable) as tmp:
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
