"""Images as rows of a CSV file: a header naming the columns, a label column (``label``) and one
column per pixel, row-major, as Kaggle's digit recognizer has them. Read with numpy's C parser,
every value checked (a number, within 0..max_value), the file's size bounded by this machine's
memory before a byte is parsed."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import zoo

MAX_COLUMNS = 3 * 1024 * 1024 + 1
MAX_CLASSES = 10_000
#: The most channels, height and width one row may make.
MAX_SHAPE = (3, 1024, 1024)


@dataclass(frozen=True)
class Table:
    pixels: np.ndarray  # float32 [N, columns], in 0..1
    labels: np.ndarray | None  # int64 [N], or None: a file to predict


def max_bytes() -> int:
    """The largest CSV file read: parsed, its values take up to twice its size as floats."""
    return max(zoo.data.memory_bytes() // 8, 1 << 28)


def read(path: Path, label: str, max_value: float) -> Table:
    where = str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise zoo.DataError(f"{where}: not a file (a CSV of images, one per row)")
    except FileNotFoundError:
        raise zoo.DataError(f"{where}: no such file") from None
    if size > max_bytes():
        raise zoo.DataError(
            f"{where}: {size:,} bytes, more than zoo reads as a CSV here ({max_bytes():,}; an "
            ".npz through the arrays dataset holds images in less)"
        )
    with open(path, encoding="utf-8", errors="strict", newline="") as f:
        try:
            first = f.readline(1 << 24)
        except UnicodeDecodeError:
            raise zoo.DataError(f"{where}: not text (a CSV file is UTF-8 text)") from None
    names = [n.strip().strip('"') for n in first.rstrip("\r\n").split(",")]
    if len(names) > MAX_COLUMNS or not first.endswith("\n"):
        raise zoo.DataError(f"{where}: its first line is not a CSV header zoo reads")
    if all(re.fullmatch(r"-?[0-9.eE+-]+", n or "x") for n in names):
        raise zoo.DataError(
            f"{where}: its first line holds numbers: zoo reads CSVs with a header naming the "
            f"columns ({label},pixel0,pixel1,...)"
        )
    columns = [i for i, n in enumerate(names) if n != label]
    has_label = len(columns) < len(names)
    if len(names) - len(columns) > 1:
        raise zoo.DataError(f"{where}: two columns are named {label!r}")
    try:
        with warnings.catch_warnings():  # an empty file is said below, in one line
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2,
                                encoding="utf-8")  # fmt: skip
    except ValueError as exc:
        raise zoo.DataError(f"{where}: {_reason(exc)}") from None
    if values.size == 0:
        raise zoo.DataError(f"{where}: no rows after its header")
    if values.shape[1] != len(names):
        raise zoo.DataError(
            f"{where}: its rows have {values.shape[1]} values, its header {len(names)} names"
        )
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0][0]) + 2
        raise zoo.DataError(f"{where}: line {row} holds a value that is not a number")
    labels = None
    if has_label:
        raw = values[:, names.index(label)]
        bad = (raw != np.round(raw)) | (raw < 0) | (raw >= MAX_CLASSES)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise zoo.DataError(
                f"{where}: line {row + 2}: label {raw[row]:g} is not a class (0, 1, 2... up to "
                f"{MAX_CLASSES - 1:,})"
            )
        labels = raw.astype(np.int64)
    pixels = values[:, columns]
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high > max_value:
        where_bad = np.argwhere((pixels < 0) | (pixels > max_value))[0]
        raise zoo.DataError(
            f"{where}: line {int(where_bad[0]) + 2}, column {names[columns[where_bad[1]]]!r}: "
            f"{pixels[tuple(where_bad)]:g} is outside 0..{max_value:g} (dataset.max_value)"
        )
    return Table((pixels / max_value).astype(np.float32), labels)


def _reason(exc: ValueError) -> str:
    text = " ".join(str(exc).split())
    text = re.sub(r"at row (\d+)", lambda m: f"at line {int(m.group(1)) + 2}", text)
    return text[:300]


def image_shape(columns: int, shape: list[int] | None, where: str) -> tuple[int, int, int]:
    """(channels, height, width) of rows of ``columns`` pixels: ``shape`` ([H, W] or [C, H, W])
    when given, else square grey, else square RGB."""
    if shape is not None:
        full = (1, *shape) if len(shape) == 2 else tuple(shape)
        if (
            len(full) != 3
            or full[0] not in (1, 3)
            or not all(isinstance(n, int) and n > 0 for n in full)
        ):
            raise zoo.ConfigError(
                f"dataset.shape: expected [height, width] or [channels, height, width] with 1 or "
                f"3 channels, got {shape!r}"
            )
        if math.prod(full) != columns:
            raise zoo.ConfigError(
                f"dataset.shape {list(shape)} makes {math.prod(full)} pixels; {where}'s rows "
                f"have {columns}"
            )
    else:
        side = math.isqrt(columns)
        third = math.isqrt(columns // 3)
        if side * side == columns:
            full = (1, side, side)
        elif columns % 3 == 0 and third * third * 3 == columns:
            full = (3, third, third)
        else:
            raise zoo.ConfigError(
                f"{where}: rows of {columns} pixels are not a square picture: set dataset.shape "
                "to [height, width] (or [channels, height, width])"
            )
    if any(n > m for n, m in zip(full, MAX_SHAPE, strict=True)):
        raise zoo.ConfigError(f"{where}: pictures of {full}, larger than {MAX_SHAPE}")
    return full
