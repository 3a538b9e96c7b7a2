"""Find the files of an MNIST-style dataset, verified, and turn them into ``zoo.Splits``.

Where the files come from, first that applies: ``path`` (a local file or folder, no network), a
system copy (e.g. Debian's ``/usr/share/datasets/fashion-mnist``), then each URL in turn (a cached
download counts, and with ``ZOO_OFFLINE=1`` nothing else does). After the first load the arrays
are kept as a ``.npz`` of uint8 beside the downloads, derived from the verified files and hashed
the same way, so later runs skip gzip and unpickling.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins
from zoo.data import cache_path, fetch, is_offline, temp_file

from . import idx
from .safe_pickle import read_pickle

FORMATS = ("pickle", "idx")
PREPARED_VERSION = "1"  # bump when the .npz layout changes: old copies are then ignored


@dataclass
class Spec:
    """What one dataset call asked for."""

    name: str
    format: str
    urls: list[str]
    # the factory's options, as it was given them (their defaults are in its signature only)
    path: str | None
    sha256: str | Mapping[str, str] | None
    cache_dir: str | None
    offline: bool
    progress: bool
    retries: int
    timeout: float
    max_bytes: int
    deadline: float
    system_dir: str | None = None  # fashion_mnist's option: a copy the system has
    classes: tuple[str, ...] | None = None
    chosen_urls: bool = False  # the user named the URLs (else they are the dataset's defaults)
    official: Mapping[str, str] | None = None  # the IDX files' content sha256, from the defaults
    fallback: list[str] | None = None  # the official IDX files' URLs, if the pickle fails
    folder: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise zoo.ConfigError(f"dataset.format: expected pickle or idx, got {self.format!r}")
        if isinstance(self.retries, bool) or not 0 <= self.retries <= 20:
            raise zoo.ConfigError(f"dataset.retries: expected 0 to 20, got {self.retries!r}")
        if isinstance(self.max_bytes, bool) or self.max_bytes < 1:
            raise zoo.ConfigError(
                f"dataset.max_bytes: expected a size in bytes, got {self.max_bytes!r}"
            )
        if not 0 < self.deadline <= 86_400:
            raise zoo.ConfigError(
                f"dataset.deadline: expected seconds, more than 0 and at most a day, got "
                f"{self.deadline!r}"
            )
        if not 0 < self.timeout <= 3600:
            raise zoo.ConfigError(
                f"dataset.timeout: expected seconds, more than 0 and at most 3600, got "
                f"{self.timeout!r}"
            )
        self.folder = (
            Path(self.cache_dir).expanduser() if self.cache_dir else cache.dataset_dir(self.name)
        )

    def pin(self, role: str) -> str | None:
        """The pinned sha256 of a file: one string for the pickle, a mapping for IDX files."""
        if isinstance(self.sha256, Mapping):
            return self.sha256.get(idx.FILES.get(role, role)) or self.sha256.get(role)
        return self.sha256


@dataclass
class Source:
    """Verified local files, by role, and where they came from."""

    files: dict[str, Path]
    digests: dict[str, str]
    origin: str
    downloaded: bool = False  # files zoo itself put in its cache (never a user's own files)


def load(spec: Spec) -> zoo.Splits:
    start = time.perf_counter()
    # The quick way: a prepared copy, found from the records of earlier downloads (no re-hashing
    # of those) or from local files (hashed: they have no record)...
    local = spec.path is not None or _system_copy(spec)
    source = locate(spec) if local else recorded(spec)
    splits = quick_splits(spec, source) if source is not None else None
    if source is None and not local and spec.fallback and recorded(_idx_instead(spec)):
        return load(_idx_instead(spec))  # the official files are cached: no network at all
    if splits is None:  # ...else find and verify the files, and prepare them
        try:
            source = source if local else locate(spec)
        except zoo.DataError as exc:
            if local or not spec.fallback:
                raise
            return _from_idx_instead(spec, exc)
        splits = to_splits(prepared(spec, source), spec.classes)
    if source.downloaded and (not spec.chosen_urls or cache.shared_by_user()):
        remember(spec, source)  # the dataset's copy from now on, for loads that name no URL
    elif source.downloaded and spec.sha256 is None:
        warnings.warn(
            f"{spec.name} comes from {source.origin}, which no pin covers (dataset.sha256): it "
            f"serves only runs that name this URL, never the default {spec.name} (to make it "
            f"that: zoo data fetch {spec.name} --set url=URL)",
            zoo.DataWarning,
            stacklevel=2,
        )
    if spec.progress:
        print(
            f"zoo: {spec.name} loaded from {source.origin} in {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
    return splits


def _idx_instead(spec: Spec) -> Spec:
    """The same dataset from the official IDX files (the pickle's fallback)."""
    return replace(spec, format="idx", urls=list(spec.fallback or []), fallback=None)


def _from_idx_instead(spec: Spec, failure: zoo.DataError) -> zoo.Splits:
    """The tutorial's pickle could not be had: the same digits from the official IDX files."""
    if spec.progress:
        reason = str(failure).split(" — ")[0]
        print(f"zoo: {spec.name}: {reason}; using the official IDX files instead", file=sys.stderr)
    try:
        return load(_idx_instead(spec))
    except zoo.DataError as exc:
        raise zoo.DataError(f"{failure}; and the official IDX files: {exc}") from exc


# --- where the files come from ------------------------------------------------------------------

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
    if _system_copy(spec):
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


def _system_copy(spec: Spec) -> bool:
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


# --- the prepared copy --------------------------------------------------------------------------


def prepared_path(spec: Spec, source: Source) -> Path:
    """The prepared copy's name: derived from the source files' sha256, so new data, new copy."""
    key = " ".join([PREPARED_VERSION, spec.format, *(source.digests[r] for r in roles(spec))])
    return spec.folder / f"prepared-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npys"


def cached_prepared(spec: Spec, source: Source) -> dict[str, np.ndarray] | None:
    """The arrays of a verified prepared copy, or ``None``. One read: hashed, then viewed."""
    path = prepared_path(spec, source)
    record = cache.read_record(path)
    if record is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != record.sha256:
        return None
    return read_arrays(data)


def quick_splits(spec: Spec, source: Source) -> zoo.Splits | None:
    """Splits from a prepared copy, made into tensors while a second thread hashes it (both
    release the GIL): nothing is returned unless the hash matches the copy's record."""
    path = prepared_path(spec, source)
    record = cache.read_record(path)
    if record is None:
        return None
    try:
        with open(path, "rb") as f:  # mapped, not copied: the tensors below are new memory
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    digest: list[str] = []
    hasher = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
    hasher.start()
    arrays = None
    try:
        arrays = read_arrays(data)
        splits = to_splits(arrays, spec.classes) if arrays is not None else None
    finally:
        hasher.join()
        del arrays  # the views must go before the map can close
        with contextlib.suppress(BufferError):  # else it closes when the last view goes
            data.close()
    return splits if digest == [record.sha256] else None


def prepared(spec: Spec, source: Source) -> dict[str, np.ndarray]:
    """The dataset's arrays: from the prepared copy, else parsed from the verified source files
    and written as a new prepared copy."""
    path = prepared_path(spec, source)
    with cache.locked(path):
        cache.clean_stale(path)
        arrays = cached_prepared(spec, source)
        if arrays is not None:
            return arrays
        try:
            arrays = _parse(spec, source)
        except Exception as exc:  # whatever a hostile file makes a decoder raise
            if source.downloaded:
                _forget_downloads(spec, source)  # a download that cannot be used is not kept
            if isinstance(exc, zoo.DataError):
                raise
            raise zoo.DataError(
                f"{spec.name}: the files from {source.origin} could not be read "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        tmp = temp_file(path)
        try:
            with open(tmp, "wb") as f:
                write_arrays(f, arrays)
                f.flush()
                os.fsync(f.fileno())
            cache.commit(tmp, path, f"prepared from {source.origin}")
        finally:
            tmp.unlink(missing_ok=True)
    return arrays


# A prepared copy is numpy's own .npy records one after another, in this order: read back as
# views of one buffer (no copy), and never with allow_pickle.
ARRAYS = ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test", "scale")


def write_arrays(f, arrays: Mapping[str, np.ndarray]) -> None:
    for name in ARRAYS:
        np.lib.format.write_array(f, np.asarray(arrays[name], order="C"), allow_pickle=False)


def read_arrays(data: bytes | mmap.mmap) -> dict[str, np.ndarray] | None:
    """The arrays of a prepared copy, or ``None`` if it is not one."""
    fmt = np.lib.format
    stream = io.BytesIO(data)
    arrays = {}
    try:
        for name in ARRAYS:
            version = fmt.read_magic(stream)
            read_header = (
                fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(stream)
            if dtype.hasobject or fortran:
                return None
            count = int(np.prod(shape))
            arrays[name] = np.reshape(np.frombuffer(data, dtype, count, stream.tell()), shape)
            stream.seek(stream.tell() + count * dtype.itemsize)
    except ValueError:
        return None
    return arrays


def _forget_downloads(spec: Spec, source: Source) -> None:
    """Delete what zoo downloaded for ``source``: files it recorded in its cache folder, only."""
    for path in source.files.values():
        if path.parent == spec.folder and cache.read_record(path) is not None:
            cache.forget(path)


def _parse(spec: Spec, source: Source) -> dict[str, np.ndarray]:
    if spec.format == "pickle":
        splits = read_pickle(source.files["pickle"])
        if len(splits) < 3:
            splits.append((np.zeros((0, 784), np.float32), np.zeros(0, np.int64)))
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
        xs, scale = _as_uint8([x_train, x_valid, x_test])
    else:
        official = spec.official if source.downloaded and not spec.chosen_urls else None
        images, labels, test_images, test_labels = idx.read_all(source.files, official)
        if not source.downloaded and spec.official and idx.is_official(source.files, spec.official):
            remember_official(spec, source)  # your own copy of the official files: the default
        n_valid = 10_000 if len(images) >= 20_000 else len(images) // 6
        n_train = len(images) - n_valid  # 60,000 -> the tutorial's 50,000 / 10,000
        flat = images.reshape(len(images), -1)
        xs = [flat[:n_train], flat[n_train:], test_images.reshape(len(test_images), -1)]
        y_train, y_valid, y_test = labels[:n_train], labels[n_train:], test_labels
        scale = np.float32(255)
    for name, y in (("train", y_train), ("valid", y_valid), ("test", y_test)):
        if y.size and (y.min() < 0 or y.max() > 9):
            raise zoo.DataError(
                f"{spec.name}: {name} labels run {y.min()}..{y.max()}, expected 0..9"
            )
    return {
        "x_train": xs[0],
        "y_train": np.asarray(y_train, np.uint8),
        "x_valid": xs[1],
        "y_valid": np.asarray(y_valid, np.uint8),
        "x_test": xs[2],
        "y_test": np.asarray(y_test, np.uint8),
        "scale": np.asarray(scale, np.float32),
    }


def _as_uint8(xs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.float32]:
    """Pixels stored as uint8 when ``uint8 / scale`` gives back exactly the same float32 values
    (for 255 or 256); otherwise kept as float32 (scale 0)."""
    for scale in (np.float32(255), np.float32(256)):
        quantised = [np.clip(np.rint(x * scale), 0, 255).astype(np.uint8) for x in xs]
        if all(
            np.array_equal(q.astype(np.float32) / scale, x)
            for q, x in zip(quantised, xs, strict=True)
        ):
            return quantised, scale
    return [np.asarray(x, np.float32) for x in xs], np.float32(0)


def to_splits(arrays: Mapping[str, np.ndarray], classes: tuple[str, ...] | None) -> zoo.Splits:
    import torch
    from torch.utils.data import TensorDataset

    scale = float(arrays["scale"])

    def tensor(name: str, dtype: torch.dtype) -> torch.Tensor:
        array = arrays[name]
        if array.dtype == np.float32:  # kept as floats: the tensor must own writable memory
            return torch.from_numpy(array.copy())
        with warnings.catch_warnings():  # a read-only view, only ever read: converted below
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(array).to(dtype)

    def split(name: str) -> TensorDataset:
        x = tensor(f"x_{name}", torch.float32)
        if scale:
            x.div_(scale)  # the same float32 division the check in _as_uint8 made
        return TensorDataset(x, tensor(f"y_{name}", torch.int64))

    test = split("test") if len(arrays["y_test"]) else None
    return zoo.Splits(
        train=split("train"),
        valid=split("valid"),
        test=test,
        num_classes=10,
        input_shape=(1, 28, 28),
        classes=classes,
    )


def load_dataset(
    name: str,
    default_urls: Mapping[str, list[str]],
    classes: tuple[str, ...],
    *,
    url: str | list[str] | None,
    format: str | None,
    offline: bool | None,
    official: Mapping[str, str] | None = None,
    **options,
) -> zoo.Splits:
    """What the dataset factories share: their options (as the factory took them: each is
    written once, in its signature) -> a Spec -> Splits. ``format`` ``None`` is what ``path``
    is: a folder holds IDX files, a file is the pickle; with no path, the pickle."""
    if format is None:
        path = options.get("path")
        format = "idx" if path is not None and Path(path).expanduser().is_dir() else "pickle"
    urls = (
        default_urls.get(format, [])
        if url is None
        else [url]
        if isinstance(url, str)
        else list(url)
    )
    offline = is_offline() if offline is None else bool(offline)
    fallback = default_urls.get("idx") if url is None and format == "pickle" else None
    spec = Spec(name, format, urls, offline=offline, classes=classes, **options)
    spec.chosen_urls, spec.fallback, spec.official = url is not None, fallback, official
    return load(spec)
