"""zoo's on-disk cache: files with their sha256 recorded beside them, written atomically, under
a lock so that two processes filling the same cache end with one good file.

Layout: ``$ZOO_HOME/datasets/<dataset>/<file>`` and ``<file>.sha256`` ("<hash>  <source>\\n").
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..files import PARTIAL, make_readable, write_atomic, zoo_home

SIDECAR = ".sha256"


#: Whether the user asked, for this call, that downloads from URLs they named become the dataset's
#: copy for every later load (``zoo data fetch NAME --set url=...``). No config can say so: a run
#: directory someone shared names URLs too, and what it fetched must not become everyone's data.
_SHARING: contextvars.ContextVar[bool] = contextvars.ContextVar("zoo_sharing", default=False)


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    """Inside the block, a dataset fetched from a URL the user named is remembered for loads
    that name no URL (what ``zoo data fetch`` does); outside, it serves only loads naming it."""
    token = _SHARING.set(True)
    try:
        yield
    finally:
        _SHARING.reset(token)


def shared_by_user() -> bool:
    """Whether the current call is inside :func:`sharing`."""
    return _SHARING.get()


def dataset_dir(name: str) -> Path:
    """Where dataset ``name`` keeps its downloads and prepared copies."""
    return zoo_home() / "datasets" / name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


@dataclass(frozen=True)
class Record:
    """What the sidecar of a cached file says."""

    sha256: str
    source: str


def read_record(path: Path) -> Record | None:
    try:
        digest, _, source = sidecar(path).read_text(encoding="utf-8").strip().partition("  ")
    except OSError:
        return None
    return Record(digest, source) if len(digest) == 64 else None


def check(path: Path, expected: str | None = None) -> str | None:
    """The sha256 of a cached file when it matches its record (and ``expected``, when given);
    ``None`` when it is missing, unrecorded or changed."""
    record = read_record(path)
    if record is None or not path.is_file():
        return None
    actual = sha256_of(path)
    if actual != record.sha256 or (expected and actual != expected.lower()):
        return None
    return actual


def verify(path: Path, expected: str | None = None) -> str:
    """Hash ``path`` and check it against ``expected`` when given; returns the hash."""
    actual = sha256_of(path)
    if expected and actual != expected.lower():
        raise DataError(f"{path} has sha256 {actual}, expected {expected.lower()}")
    return actual


def forget(path: Path) -> None:
    """Remove a cached file and its record."""
    for stale in (path, sidecar(path)):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def commit(tmp: Path, path: Path, source: str, digest: str | None = None) -> str:
    """Move a complete, fsync'd ``tmp`` into place at ``path`` and record its sha256 last, so a
    kill at any moment leaves no file, or a complete one (an unrecorded file is never trusted)."""
    digest = digest or sha256_of(tmp)
    make_readable(tmp)
    os.replace(tmp, path)
    write_atomic(sidecar(path), f"{digest}  {source}\n".encode())
    return digest


def clean_stale(path: Path) -> None:
    """Remove temp files a killed writer of ``path`` left behind (call with the lock held)."""
    for stale in path.parent.glob(f".{path.name}.*{PARTIAL}"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for writing ``path``; other processes wait for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a+b") as f:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks, the atomic rename still protects
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def entries(root: Path | None = None) -> list[tuple[str, Path, Record | None]]:
    """Every cached file as ``(dataset, path, record)``, sorted."""
    root = root or zoo_home() / "datasets"
    found = []
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.name.endswith(SIDECAR) or not path.is_file():
                continue
            found.append((folder.name, path, read_record(path)))
    return found
