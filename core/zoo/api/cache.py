"""The download cache, for a program: what ``zoo data list``, ``verify`` and ``rm`` show and do
($ZOO_HOME/datasets: each file with the sha256 recorded beside it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..data import cache
from ..errors import ConfigError
from ..hints import did_you_mean


@dataclass(frozen=True)
class Cached:
    """A file in the cache: its dataset, path and size, the sha256 and source it was recorded
    with (``None`` when unrecorded), and, once verified, whether it still matches."""

    dataset: str
    path: Path
    size: int
    sha256: str | None
    source: str
    ok: bool | None = None


def cached_files(name: str | None = None, *, verify: bool = False) -> list[Cached]:
    """Every cached file (or dataset ``name``'s), re-hashed against its record when ``verify``.
    A ``name`` with nothing cached is a :class:`ConfigError`."""
    rows = []
    for dataset, path, record in cache.entries():
        if name is not None and dataset != name:
            continue
        ok = (record is not None and cache.check(path) is not None) if verify else None
        sha = record.sha256 if record else None
        source = record.source if record else ""
        rows.append(Cached(dataset, path, path.stat().st_size, sha, source, ok))
    if name is not None and not rows:
        raise ConfigError(_nothing_cached(name))
    return rows


def remove_cached(name: str) -> tuple[Path, int]:
    """Remove everything cached for dataset ``name``; returns the folder and the bytes freed."""
    folder = cache.dataset_dir(name)
    if not name or "/" in name or name.startswith(".") or not folder.is_dir():
        raise ConfigError(_nothing_cached(name))
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise ConfigError(f"cannot remove {folder}: {exc.strerror or exc}") from exc
    return folder, freed


def _nothing_cached(name: str) -> str:
    hint = did_you_mean(name, {dataset for dataset, _, _ in cache.entries()})
    return f"nothing cached for '{name}'{hint} (zoo data list shows what is)"
