"""Where an MNIST-style dataset's files come from, first that applies: ``path`` (a local file or
folder, no network), a system copy (e.g. Debian's ``/usr/share/datasets/fashion-mnist``), then
each URL in turn (a cached download counts, and with ``ZOO_OFFLINE=1`` nothing else does); each
verified, and the downloads remembered by what they are."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins
from zoo.data import cache_path, fetch

from . import idx
from .spec import Source, Spec

SOURCES = ".sources.json"  # the downloads a dataset was loaded from, whichever URL they came from


def remember(spec: Spec, source: Source) -> None:
    """Note a dataset's downloaded files by what they are (their recorded sha256), so a copy
    fetched from any mirror serves later loads that name no URL, offline too."""
    files = {role: path.name for role, path in source.files.items()}
    _note(spec, source, {"files": files}, lambda e: e["files"] != files)


def remember_official(spec: Spec, source: Source) -> None:
    """A local copy of the official files (their content matches the dataset's pins) becomes
    what later loads that name no URL use, offline too: its prepared copy, found by digests."""
    _note(spec, source, {"prepared": True, "files": {}}, lambda e: e["digests"] != source.digests)


def _note(spec: Spec, source: Source, fields: dict, keep: Callable[[dict], bool]) -> None:
    """Put an entry first in the dataset's remembered sources, keeping the others ``keep``
    accepts (at most 8 in all)."""
    entry = {"format": spec.format, "origin": source.origin, **fields, "digests": source.digests}
    known = [e for e in _remembered(spec) if keep(e)]
    with contextlib.suppress(OSError):
        cache.write_atomic(spec.folder / SOURCES, json.dumps([entry, *known][:8]).encode())


def _plain_name(name: object) -> bool:
    """A file name inside the cache folder, nothing that leads elsewhere."""
    return isinstance(name, str) and "/" not in name and "\\" not in name and name[:1] != "."


def _remembered(spec: Spec) -> list[dict]:
    try:
        with open(spec.folder / SOURCES, "rb") as f:
            entries = json.loads(f.read(1 << 16))
    except (OSError, ValueError):
        return []
    return [
        e
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict)
        and isinstance(e.get("files"), dict)
        and isinstance(e.get("digests"), dict)
        and all(_plain_name(n) for n in e["files"].values())
    ]


def roles(spec: Spec) -> list[str]:
    return ["pickle"] if spec.format == "pickle" else list(idx.FILES)


def locate(spec: Spec) -> Source:
    if spec.path is not None:
        return _local(spec, Path(spec.path).expanduser(), "dataset.path")
    if system_copy(spec):
        return _local(spec, Path(spec.system_dir), "the system copy")
    if not spec.urls:
        raise zoo.DataError(f"{spec.name}: no dataset.url and no dataset.path to load from")
    failures = []
    for url in spec.urls:
        try:
            return _download(spec, url)
        except zoo.DataError as exc:
            failures.append((url, str(exc)))
    if spec.offline:
        looked = ", ".join([str(spec.folder)] + ([spec.system_dir] if spec.system_dir else []))
        hint = f"looked in {looked}; run once with the network, or give --set dataset.path=..."
    else:
        hint = "use --set dataset.url=URL for a mirror, or --set dataset.path=... for a local copy"
    if len(failures) == 1:
        raise zoo.DataError(f"{failures[0][1]} — {hint}")
    lines = "\n".join(f"  {url}: {error}" for url, error in failures)
    raise zoo.DataError(
        f"could not get {spec.name} from any of its {len(failures)} sources:\n{lines}\n{hint}"
    )


def recorded(spec: Spec) -> Source | None:
    """The first URL whose files are all in the cache, by their records alone. The files are not
    re-hashed here: only a prepared copy derived from them is used, and it is verified itself."""
    for url in spec.urls:
        files = {}
        for role in roles(spec):
            candidates = _urls(url, role, spec.format)
            found = [cache_path(u, spec.folder) for u in candidates]
            found = [p for p in found if _recorded_ok(p, spec.pin(role))]
            if not found:
                break
            files[role] = found[0]
        else:
            digests = {role: cache.read_record(p).sha256 for role, p in files.items()}
            return Source(files, digests, url, downloaded=True)
    pinned = spec.sha256 is not None
    for entry in _remembered(spec) if not spec.chosen_urls or pinned else []:
        digests = entry["digests"]
        if entry.get("prepared") and entry.get("format") == spec.format:  # the official files
            if set(digests) == set(roles(spec)) and all(
                isinstance(d, str) for d in digests.values()
            ):
                return Source({}, dict(digests), str(entry.get("origin")))
            continue
        files = {role: spec.folder / name for role, name in entry["files"].items()}
        if (
            entry.get("format") == spec.format
            and set(files) == set(roles(spec))
            and all(_recorded_ok(path, spec.pin(role)) for role, path in files.items())
        ):
            digests = {role: cache.read_record(p).sha256 for role, p in files.items()}
            return Source(files, digests, str(entry.get("origin")), downloaded=True)
    return None


def _recorded_ok(path: Path, pin: str | None) -> bool:
    record = cache.read_record(path)
    return record is not None and (not pin or record.sha256 == pin.lower())


def _urls(url: str, role: str, format: str) -> list[str]:
    """The URLs a file of ``role`` is fetched from: the pickle's own, or an IDX base + name."""
    if format == "pickle":
        return [url]
    base = url if url.endswith("/") else url + "/"
    return [f"{base}{idx.FILES[role]}.gz", f"{base}{idx.FILES[role]}"]


def _local(spec: Spec, path: Path, what: str) -> Source:
    if spec.format == "pickle":
        if path.is_dir():
            raise zoo.DataError(
                f"{what} {path} is a folder, not an mnist.pkl.gz (for a folder of the four IDX "
                "files, set dataset.format=idx)"
            )
        if not path.is_file():
            raise zoo.DataError(f"{what} {path} does not exist (expected an mnist.pkl.gz)")
        files = {"pickle": path}
    else:
        if not path.is_dir():
            shown = "does not exist" if not path.exists() else "is a file"
            raise zoo.DataError(
                f"{what} {path} {shown}: with dataset.format=idx it is a folder holding the four "
                "IDX files"
            )
        files = {}
        for role, name in idx.FILES.items():
            found = _find_idx(path, name)
            if found is None:
                raise zoo.DataError(f"{what} {path} has no {name} or {name}.gz")
            files[role] = found
    digests = {role: cache.verify(file, spec.pin(role)) for role, file in files.items()}
    return Source(files, digests, _as_typed(path))


def _as_typed(path: Path) -> str:
    """A path below the current folder as the user would type it (zoo hands full paths)."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def system_copy(spec: Spec) -> bool:
    """Whether a complete system copy (e.g. Debian's) of the IDX files is there."""
    folder = Path(spec.system_dir) if spec.system_dir else None
    return bool(
        folder and spec.format == "idx" and all(_find_idx(folder, n) for n in idx.FILES.values())
    )


def _download(spec: Spec, url: str) -> Source:
    options = dict(
        progress=spec.progress,
        offline=spec.offline,
        retries=spec.retries,
        timeout=(10.0, spec.timeout),
        max_bytes=spec.max_bytes,
        deadline=spec.deadline,
    )
    files = {}
    for role in roles(spec):
        gz, *plain = _urls(url, role, spec.format)
        try:
            files[role] = fetch(
                gz, spec.folder, sha256=spec.pin(role), magic=idx.GZIP_MAGIC, **options
            )
        except zoo.DataError as gz_failure:
            if not plain:
                raise
            try:  # mirrors that serve the IDX files uncompressed
                files[role] = fetch(
                    plain[0], spec.folder, sha256=spec.pin(role), magic=idx.magic(role), **options
                )
            except zoo.DataError:
                raise gz_failure from None
    digests = {role: cache.read_record(path).sha256 for role, path in files.items()}
    return Source(files, digests, url, downloaded=True)
