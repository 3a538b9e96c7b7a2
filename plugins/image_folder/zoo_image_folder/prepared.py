"""The prepared copy of a folder of pictures: every picture decoded once (in worker processes)
into uint8 rows of one size and mode, kept in zoo's verified cache under a name derived from what
the folder holds, then read back in a fraction of a second as ``zoo.Splits``: in memory when its
floats fit the memory budget, else streamed from the file a batch at a time.

The copy is numpy ``.npy`` records one after another, read back without pickles: ``x`` (uint8,
``[N, C, H, W]``), ``y`` (int64 class indices, -1 for a picture skipped), ``split`` (uint8:
0 train, 1 valid, 2 test, as the folders say) and ``meta`` (UTF-8 JSON bytes: the classes, the
pictures skipped and why)."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import mmap
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins

from . import decode
from .pool import Workers
from .scan import TEST, TRAIN, VALID, Found, scan

PREPARED_VERSION = "1"  # bump when the layout or the decoding changes: old copies are then unused
#: The largest input (channels, height, width) this dataset gives.
MAX_SHAPE = (3, 1024, 1024)
#: Without ``size``, pictures mostly larger than this on a side are read at this size instead.
DEFAULT_SIDE = 256
#: Fewer pictures than this are decoded in this process (starting workers costs more).
IN_PROCESS = 2_000
#: How many pictures' headers are read first to choose the size and mode to decode at.
SAMPLE = 500
RECORDS = ("x", "y", "split", "meta")


@dataclass(frozen=True)
class Options:
    size: tuple[int, int] | None
    mode: str | None  # "grey", "rgb" or None: found from the pictures
    on_error: str  # "stop" or "skip"
    workers: int
    progress: bool

    def say(self, text: str) -> None:
        if self.progress:
            print(f"zoo: image_folder: {text}", file=sys.stderr, flush=True)


def load(
    path: str,
    *,
    valid: float,
    seed: int,
    size: int | list[int] | None,
    mode: str | None,
    on_error: str,
    memory_budget_mb: int | None,
    workers: int | None,
    progress: bool,
) -> zoo.Splits:
    start = time.perf_counter()
    if not 0 < valid < 1:
        raise zoo.ConfigError(f"dataset.valid: expected a share between 0 and 1, got {valid!r}")
    if mode not in (None, "grey", "rgb"):
        raise zoo.ConfigError(f"dataset.mode: expected grey or rgb (or none: found), got {mode!r}")
    if on_error not in ("stop", "skip"):
        raise zoo.ConfigError(f"dataset.on_error: expected stop or skip, got {on_error!r}")
    if memory_budget_mb is not None and memory_budget_mb < 1:
        raise zoo.ConfigError("dataset.memory_budget_mb: expected a positive number of megabytes")
    if workers is not None and not 1 <= workers <= 64:
        raise zoo.ConfigError(f"dataset.workers: expected 1 to 64 processes, got {workers}")
    options = Options(
        size=_size(size),
        mode=mode,
        on_error=on_error,
        workers=workers or min(os.cpu_count() or 1, 8),
        progress=progress,
    )
    found = scan(path)
    key = "\n".join([PREPARED_VERSION, found.key, repr(options.size), str(mode), on_error])
    digest = hashlib.sha256(key.encode()).hexdigest()
    copy = cache.dataset_dir("image_folder") / f"prepared-{digest[:16]}.npys"
    with cache.locked(copy):
        cache.clean_stale(copy)
        if cache.read_record(copy) is None or not copy.is_file():
            prepare(found, options, copy)
    budget = (memory_budget_mb << 20) if memory_budget_mb else cache.memory_bytes() // 4
    splits, note = read(copy, found, valid=valid, seed=seed, budget=budget)
    skipped = _meta(copy).get("skipped", [])
    if skipped:
        options.say(_skipped_line(len(skipped), skipped[0]))
    took = time.perf_counter() - start
    c, h, w = splits.input_shape
    count = sum(len(s) for s in (splits.train, splits.valid, splits.test) if s is not None)
    options.say(
        f"{count:,} pictures of {len(found.classes)} classes ({c}x{h}x{w} "
        f"{'grey' if c == 1 else 'RGB'}) ready in {took:.2f} s{note}"
    )
    return splits


def _size(size: int | list[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = [size, size] if isinstance(size, int) else list(size)
    if len(pair) != 2 or not all(isinstance(n, int) and 1 <= n <= MAX_SHAPE[1] for n in pair):
        raise zoo.ConfigError(
            f"dataset.size: expected a side or [height, width], each 1 to {MAX_SHAPE[1]}, "
            f"got {size!r}"
        )
    return pair[0], pair[1]


def prepare(found: Found, options: Options, copy: Path) -> None:
    """Decode every picture of ``found`` into a new prepared copy at ``copy`` (committed to the
    cache only when complete: a failure leaves nothing).

    One pass opens each picture once: its header is read and it is decoded at the size and mode
    that a sample of the headers says are the folder's. When the whole pass finds otherwise (a
    most common size the sample missed, a picture with colour among grey ones), it is decoded
    again at what the pass found."""
    start = time.perf_counter()
    root = str(found.root)
    options.say(
        f"preparing {len(found.paths):,} pictures of {len(found.classes)} classes from {root} "
        "(once; later runs read the prepared copy)"
    )
    size, grey = options.size, options.mode == "grey" if options.mode else None
    if size is None or grey is None:
        step = max(1, len(found.paths) // SAMPLE)
        sample = [h for h in decode.headers(root, found.paths[::step]) if h is not None]
        guess = (size or _common_size(sample), grey if grey is not None else _all_grey(sample))
    else:
        guess = (size, grey)
    tmp = cache.temp_file(copy)
    try:
        with _workers(options, len(found.paths)) as pool:
            heads, failed, offset = _decode(pool, found, options, tmp, *guess)
            readable = [h for h in heads if h is not None]
            if not readable:
                raise zoo.DataError(
                    f"{root}: none of its {len(found.paths):,} pictures can be read"
                )
            found_size = size or _common_size(readable)
            found_grey = grey if grey is not None else _all_grey(readable)
            if size is None:
                _say_capped(options, readable, found_size)
            if (found_size, found_grey) != guess:
                options.say(
                    f"a sample of the pictures said {_shape_text(*guess)}, the whole folder "
                    f"says {_shape_text(found_size, found_grey)}: decoding them again"
                )
                heads, failed, offset = _decode(pool, found, options, tmp, found_size, found_grey)
        size, grey = found_size, found_grey
        labels = np.array(found.labels, np.int64)
        for i in failed:
            labels[i] = -1
        skipped = [f"{found.paths[i]}: {failed[i]}" for i in sorted(failed)]
        meta = {"classes": list(found.classes), "skipped": skipped, "layout": found.layout}
        with open(tmp, "r+b") as f:
            f.seek(offset + len(found.paths) * (1 if grey else 3) * size[0] * size[1])
            for array in (labels, np.array(found.splits, np.uint8), _text(meta)):
                np.lib.format.write_array(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        cache.commit(tmp, copy, f"prepared from {root}")
    finally:
        tmp.unlink(missing_ok=True)
    options.say(f"prepared in {time.perf_counter() - start:.1f} s as {_shape_text(size, grey)}")


def _shape_text(size: tuple[int, int], grey: bool) -> str:
    return f"{1 if grey else 3}x{size[0]}x{size[1]} {'grey' if grey else 'RGB'}"


def _common_size(heads: list[tuple[int, int, bool]]) -> tuple[int, int]:
    """The most common (height, width) (the smaller on a tie), scaled down to
    :data:`DEFAULT_SIDE` on its longer side when larger."""
    if not heads:
        return (DEFAULT_SIDE, DEFAULT_SIDE)
    counts = collections.Counter((h, w) for h, w, _ in heads)
    (height, width), _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if max(height, width) > DEFAULT_SIDE:
        scale = DEFAULT_SIDE / max(height, width)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def _say_capped(options: Options, heads: list, size: tuple[int, int]) -> None:
    counts = collections.Counter((h, w) for h, w, _ in heads)
    (height, width), _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if (height, width) != size:
        options.say(
            f"the pictures are mostly {height}x{width}; read at {size[0]}x{size[1]} (set "
            "dataset.size to choose)"
        )


def _all_grey(heads: list[tuple[int, int, bool]]) -> bool:
    return all(g for _, _, g in heads)


def _decode(
    pool: Workers | None,
    found: Found,
    options: Options,
    tmp: Path,
    size: tuple[int, int],
    grey: bool,
) -> tuple[list, dict[int, str], int]:
    """One pass over the pictures into a new ``tmp`` of their rows: each picture's header
    (``None`` where unreadable), the failures kept (index -> reason) and where the rows start."""
    shape = (len(found.paths), 1 if grey else 3, *size)
    with open(tmp, "wb") as f:
        header = {"descr": "|u1", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(f, header)
        offset = f.tell()
        f.truncate(offset + int(np.prod(shape)))
    root, paths = str(found.root), found.paths
    chunk = max(64, min(2048, len(paths) // (options.workers * 8) + 1))
    args = (str(tmp), offset, size, grey)
    parts = [(paths[i : i + chunk], i) for i in range(0, len(paths), chunk)]
    if pool is None:
        results = [decode.prepare_chunk(root, part, first, *args) for part, first in parts]
    else:
        out, at = args[0], args[1]
        results = list(pool.map(
            {"root": root, "paths": list(part), "first": first, "out": out, "offset": at,
             "size": list(size), "grey": grey}
            for part, first in parts
        ))  # fmt: skip
    heads: list = []
    failures: list = []
    for h, f in results:
        heads += h
        failures += f
    return heads, _stop_or_keep(found, options, failures), offset


@contextlib.contextmanager
def _workers(options: Options, count: int):
    """Worker processes for ``count`` pictures (``None``: few enough to decode here)."""
    if count < IN_PROCESS or options.workers == 1:
        yield None
        return
    with Workers(options.workers) as pool:
        yield pool


def _text(meta: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(meta, ensure_ascii=True).encode(), np.uint8)


def _stop_or_keep(found: Found, options: Options, failures: list) -> dict[int, str]:
    """The failed pictures (index -> reason): with ``on_error: stop`` the first stops the run."""
    if failures and options.on_error == "stop":
        i, reason = min(failures)
        raise zoo.DataError(
            f"{found.root / found.paths[i]}: cannot read this picture ({reason}): fix or remove "
            "it, or set dataset.on_error=skip"
        )
    return dict(failures)


def _skipped_line(count: int, first: str) -> str:
    return f"{count:,} pictures that could not be read were skipped (the first: {first})"


def _records(f: Any, size: int) -> dict[str, tuple[np.dtype, tuple[int, ...], int]]:
    """The prepared copy's records: dtype, shape and data offset of each, each checked."""
    fmt = np.lib.format
    found = {}
    for name in RECORDS:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject or fortran:
            raise ValueError(f"{name} is not plain numbers")
        offset = f.tell()
        end = offset + int(np.prod(shape)) * dtype.itemsize
        if end > size:
            raise ValueError(f"{name} claims more than the file holds")
        found[name] = (dtype, tuple(int(n) for n in shape), offset)
        f.seek(end)
    x, y, split = found["x"], found["y"], found["split"]
    if x[0] != np.uint8 or len(x[1]) != 4 or y[1] != x[1][:1] or split[1] != x[1][:1]:
        raise ValueError("its records do not fit together")
    return found


def _meta(copy: Path) -> dict[str, Any]:
    with open(copy, "rb") as f:
        dtype, shape, offset = _records(f, os.fstat(f.fileno()).st_size)["meta"]
        f.seek(offset)
        return json.loads(f.read(int(np.prod(shape))).decode())


def read(
    copy: Path, found: Found, *, valid: float, seed: int, budget: int
) -> tuple[zoo.Splits, str]:
    """The splits of a prepared copy (hashed against its record first), and a note on how they
    are held (in memory, or streamed from the file)."""
    record = cache.read_record(copy)
    problem = "no record"
    if record is not None:
        try:
            return _read(copy, record.sha256, found, valid=valid, seed=seed, budget=budget)
        except (OSError, ValueError) as exc:
            problem = str(exc)
    cache.forget(copy)  # zoo's own file, and not what it wrote: prepared again next time
    raise zoo.DataError(
        f"the prepared copy of {found.root} was damaged ({problem}) and is removed: run again "
        "to prepare it anew"
    )


def _read(
    copy: Path, sha256: str, found: Found, *, valid: float, seed: int, budget: int
) -> tuple[zoo.Splits, str]:
    import torch

    with open(copy, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        records = _records(f, size)
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    digest: list[str] = []
    hasher = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
    hasher.start()
    try:
        arrays = {
            name: np.frombuffer(data, dtype, int(np.prod(shape)), offset).reshape(shape)
            for name, (dtype, shape, offset) in records.items()
        }
        labels, where = np.array(arrays["y"]), np.array(arrays["split"])
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("classes") != list(found.classes):
            raise ValueError("its classes are not the folder's")
        if labels.size and (labels.min() < -1 or labels.max() >= len(found.classes)):
            raise ValueError("its labels are not the folder's classes")
        indices = _split_indices(labels, where, valid, seed)
        _, channels, height, width = records["x"][1]
        floats = (
            sum(len(i) for i in indices.values() if i is not None) * channels * height * width * 4
        )
        streamed = floats > budget
        if streamed:
            from .stream import OnDisk

            hasher.join()  # every byte checked before any is trusted
            if digest != [sha256]:
                raise ValueError("it does not match its recorded sha256")
            x_offset = records["x"][2]
            splits = {
                name: (OnDisk(copy, x_offset, (channels, height, width), idx, labels[idx])
                       if idx is not None else None)
                for name, idx in indices.items()
            }  # fmt: skip
            note = (
                f", streamed from disk ({floats / 1e9:.1f} GB as floats is more than the memory "
                f"budget of {budget / 1e9:.1f} GB, dataset.memory_budget_mb)"
            )
        else:
            x = arrays["x"]
            splits = {}
            for name, idx in indices.items():
                if idx is None:
                    splits[name] = None
                    continue
                with warnings.catch_warnings():  # read-only views, only read: copied below
                    warnings.simplefilter("ignore", UserWarning)
                    rows = torch.from_numpy(x[idx].reshape(len(idx), -1)).float().div_(255)
                splits[name] = torch.utils.data.TensorDataset(rows, torch.from_numpy(labels[idx]))
            note = ""
    finally:
        hasher.join()
        with contextlib.suppress(NameError):
            del arrays
        with contextlib.suppress(BufferError):  # else it closes when the last view goes
            data.close()
    if digest != [sha256]:
        raise ValueError("it does not match its recorded sha256")
    return (
        zoo.Splits(
            train=splits["train"],
            valid=splits["valid"],
            test=splits["test"],
            num_classes=len(found.classes),
            input_shape=(channels, height, width),
            classes=found.classes,
            digest=sha256,
            pictures="photo",
        ),
        note,
    )


def _split_indices(
    labels: np.ndarray, where: np.ndarray, valid: float, seed: int
) -> dict[str, np.ndarray | None]:
    """Each split's picture indices: as the folders say, with a seeded, stratified ``valid``
    share of train held out when there is no valid folder."""
    kept = labels >= 0
    train = np.flatnonzero(kept & (where == TRAIN))
    held = np.flatnonzero(kept & (where == VALID))
    test = np.flatnonzero(kept & (where == TEST))
    if not len(held):
        keep, out = cache.stratified(labels[train], valid, seed)
        train, held = train[keep], train[out]
    # a folder lists its pictures class by class: a recipe that does not shuffle (the tutorial's
    # logistic regression) would learn one class after another, so train comes in a seeded order
    train = np.random.default_rng(seed).permutation(train)
    return {"train": train, "valid": held, "test": test if len(test) else None}
