"""The prepared copy: after the first load the arrays are kept as numpy records of uint8 beside
the downloads, derived from the verified files and hashed the same way, so later runs skip gzip
and unpickling; and those arrays as ``zoo.Splits``."""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins
from zoo.data import temp_file

from .parsing import parse
from .sources import roles
from .spec import Source, Spec

PREPARED_VERSION = "1"  # bump when the layout changes: old copies are then ignored


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
            arrays = parse(spec, source)
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
