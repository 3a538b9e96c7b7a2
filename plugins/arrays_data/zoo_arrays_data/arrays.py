"""Reading arrays someone made: each ``.npy`` record's header is read and checked (dtype, shape,
no objects) before a byte of its data, its size is held to what the file holds, and the data is
read without pickles; then the images become zoo's flat float rows and the labels its classes."""

from __future__ import annotations

import math
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

import zoo

#: The largest image an array may hold (channels, height, width), and the most samples.
MAX_SHAPE = (3, 1024, 1024)
MAX_SAMPLES = 10_000_000
#: The most classes.
MAX_CLASSES = 10_000


def max_bytes() -> int:
    """The most bytes an .npz's arrays may hold once read: a quarter of this machine's memory."""
    return max(zoo.data.memory_bytes() // 4, 1 << 30)


SPLITS = ("train", "valid", "test")


def load(
    path: str, *, valid: float, seed: int, classes: list[str] | None, progress: bool
) -> zoo.Splits:
    start = time.perf_counter()
    if not 0 < valid < 1:
        raise zoo.ConfigError(f"dataset.valid: expected a share between 0 and 1, got {valid!r}")
    found = read(Path(path).expanduser())
    if "x" in found:
        x, y = found["x"], found["y"]
        train, held = zoo.data.stratified(y, valid, seed)
        parts = {"train": (x[train], y[train]), "valid": (x[held], y[held])}
    else:
        parts = {s: (found[f"x_{s}"], found[f"y_{s}"]) for s in SPLITS if f"x_{s}" in found}
    shapes = {s: image_shape(x, f"{path}: x_{s}") for s, (x, _) in parts.items()}
    if len(set(shapes.values())) != 1:
        raise zoo.DataError(f"{path}: the splits' images differ in shape ({shapes})")
    shape = shapes["train"]
    count = zoo.data.class_count([y for _, y in parts.values()], classes, str(path))
    splits = {s: tensors(x, y, shape) for s, (x, y) in parts.items()}
    if progress:
        took = time.perf_counter() - start
        print(f"zoo: arrays loaded from {path} in {took:.2f} s", file=sys.stderr)
    return zoo.Splits(
        train=splits["train"],
        valid=splits["valid"],
        test=splits.get("test"),
        num_classes=count,
        input_shape=shape,
        classes=tuple(classes) if classes else None,
        digest=zoo.data.digest(*(found[name] for name in sorted(found))),  # as the file holds
    )


def read(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` or of a folder of ``.npy`` files, by name, each checked."""
    if path.is_dir():
        found = {p.stem: read_npy(p) for p in sorted(path.glob("*.npy")) if p.is_file()}
    elif path.is_file():
        found = read_npz(path)
    else:
        raise zoo.DataError(f"{path}: no such file or folder (an .npz, or a folder of .npy)")
    names = set(found)
    if {"x", "y"} <= names:
        found = {"x": found["x"], "y": found["y"]}
    elif {"x_train", "y_train", "x_valid", "y_valid"} <= names:
        found = {k: v for k, v in found.items() if k.split("_")[-1] in SPLITS and k[0] in "xy"}
        if ("x_test" in found) != ("y_test" in found):
            raise zoo.DataError(f"{path}: x_test and y_test go together")
    else:
        raise zoo.DataError(
            f"{path} holds {', '.join(sorted(names)) or 'no arrays'}: expected x and y, or "
            "x_train, y_train, x_valid, y_valid (and x_test, y_test)"
        )
    for name, array in found.items():
        if name.startswith("y"):
            labels(array, f"{path}: {name}")
    for split in ("", *(f"_{s}" for s in SPLITS)):
        x, y = found.get(f"x{split}"), found.get(f"y{split}")
        if x is not None and len(x) != len(y):
            raise zoo.DataError(f"{path}: x{split} holds {len(x)} images, y{split} {len(y)} labels")
    return found


def read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        shape, dtype, offset = header(f, f"{path}")
        size = path.stat().st_size
        if offset + math.prod(shape) * dtype.itemsize > size:
            raise zoo.DataError(f"{path}: its header claims more data than the file holds")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise zoo.DataError(f"{path}: not an .npz file ({exc})") from exc
    found, total = {}, 0
    with archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
        if len(members) > 64:
            raise zoo.DataError(f"{path}: {len(members)} arrays, more than an image dataset has")
        for member in members:
            name = member.filename[: -len(".npy")]
            where = f"{path}: {name}"
            with archive.open(member) as f:
                shape, dtype, offset = header(f, where)
            data = math.prod(shape) * dtype.itemsize
            if offset + data != member.file_size:
                raise zoo.DataError(f"{where}: its header does not match the data it holds")
            total += data
            if total > max_bytes():
                raise zoo.DataError(
                    f"{path}: its arrays hold {total:,} bytes, more than a quarter of this "
                    "machine's memory"
                )
            with archive.open(member) as f:
                raw = f.read()
            found[name] = np.frombuffer(raw, dtype, offset=offset).reshape(shape)
    return found


def header(f: Any, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """An ``.npy`` record's shape, dtype and data offset, refused unless it is plain numbers."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
    except (ValueError, OSError, EOFError) as exc:
        raise zoo.DataError(f"{where}: not a numpy array file ({exc})") from exc
    if dtype.hasobject or dtype.kind not in "biuf" or fortran:
        raise zoo.DataError(f"{where}: holds {dtype} values: images and labels are plain numbers")
    if len(shape) > 4 or (shape and shape[0] > MAX_SAMPLES):
        raise zoo.DataError(f"{where}: an array of shape {shape} is not images or labels")
    return tuple(int(n) for n in shape), dtype, f.tell()


def image_shape(x: np.ndarray, where: str) -> tuple[int, int, int]:
    """(channels, height, width) of ``x``'s images: [N, H, W], [N, C, H, W] or [N, H, W, C]."""
    if x.ndim == 3:
        shape = (1, *x.shape[1:])
    elif x.ndim == 4 and x.shape[1] in (1, 3):
        shape = tuple(x.shape[1:])
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        shape = (x.shape[3], x.shape[1], x.shape[2])
    else:
        raise zoo.DataError(
            f"{where}: images of shape {list(x.shape[1:])}: expected [H, W], [C, H, W] or "
            "[H, W, C] with 1 or 3 channels"
        )
    if any(n > m for n, m in zip(shape, MAX_SHAPE, strict=True)) or 0 in shape:
        raise zoo.DataError(f"{where}: images of {shape}, larger than {MAX_SHAPE} or empty")
    return shape


def labels(y: np.ndarray, where: str) -> None:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise zoo.DataError(f"{where}: labels are one integer per image (got {y.dtype} {y.shape})")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= MAX_CLASSES):
        raise zoo.DataError(
            f"{where}: labels run {int(y.min())}..{int(y.max())}: expected 0..K-1 "
            f"(at most {MAX_CLASSES:,} classes)"
        )


def tensors(x: np.ndarray, y: np.ndarray, shape: tuple[int, int, int]) -> Any:
    """Flat float rows in [0, 1] (zoo's models take ``[N, C*H*W]``) and int64 labels."""
    import torch
    from torch.utils.data import TensorDataset

    if x.ndim == 4 and x.shape[1] not in (1, 3):  # channels last
        x = np.moveaxis(x, 3, 1)
    if x.dtype == np.uint8:
        with warnings.catch_warnings():  # a read-only view (mapped, or the file's bytes), only
            warnings.simplefilter("ignore", UserWarning)  # read: .float() makes the copy
            pixels = torch.from_numpy(np.ascontiguousarray(x).reshape(len(x), -1))
        rows = pixels.float().div_(255)
    elif x.dtype.kind == "f":
        rows = torch.from_numpy(np.array(x, np.float32).reshape(len(x), -1))
        if rows.numel() and not bool(rows.isfinite().all()):
            raise zoo.DataError("the images hold values that are not numbers (NaN or infinite)")
        if rows.numel() and (float(rows.min()) < 0 or float(rows.max()) > 1):
            raise zoo.DataError("float images are expected in 0..1 (uint8 ones in 0..255)")
    else:
        raise zoo.DataError(f"images of {x.dtype}: expected uint8 in 0..255 or floats in 0..1")
    assert rows.shape[1] == math.prod(shape)
    return TensorDataset(rows, torch.from_numpy(np.array(y, np.int64)))
