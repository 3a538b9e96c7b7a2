"""The official MNIST/Fashion-MNIST IDX files: magic numbers, dimensions and lengths checked."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

import zoo

#: role -> official file name (each may also come gzipped, with ``.gz``).
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"


def magic(role: str) -> bytes:
    """The first four bytes of an uncompressed IDX file of this role: 0, 0, type, dimensions."""
    return bytes([0, 0, UBYTE, 3 if role.endswith("images") else 1])


#: The most images (or labels) one file may hold: MNIST's largest has 60,000. A header that says
#: more is refused before anything else is read, so a small hostile file cannot become a huge one.
MAX_ITEMS = 100_000
SHAPE = (28, 28)


def read(path: Path, role: str, official: str | None = None) -> np.ndarray:
    """A uint8 array of the IDX file at ``path`` (gzipped or not), checked against its header:
    the header is read and checked first, then exactly the bytes it announces (one more proves
    the file longer than it says), never the whole of a file that lies."""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
        with (gzip.open if gzipped else open)(path, "rb") as f:
            head = f.read(4)
            expected = magic(role)
            if head != expected:
                raise zoo.DataError(
                    f"{path}: wrong magic number {head.hex()} for an IDX "
                    f"{role.replace('_', ' ')} file (expected {expected.hex()})"
                )
            raw_dims = f.read(4 * head[3])
            if len(raw_dims) < 4 * head[3]:
                raise zoo.DataError(f"{path}: the IDX header is cut short")
            dims = tuple(
                int.from_bytes(raw_dims[i : i + 4], "big") for i in range(0, len(raw_dims), 4)
            )
            _check_dims(path, role, dims)
            size = int(np.prod(dims, dtype=np.int64))
            data = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise zoo.DataError(f"{path} is not a complete gzip file ({exc})") from exc
    if len(data) != size:
        held = f"{len(data):,}" if len(data) <= size else "more"
        raise zoo.DataError(
            f"{path}: the header says {' x '.join(map(str, dims))} = {size:,} "
            f"bytes but the file holds {held}"
        )
    if official is not None:
        content = hashlib.sha256(head + raw_dims + data).hexdigest()
        if content != official:
            raise zoo.DataError(
                f"{path} is not the official {role.replace('_', ' ')} file: its content has "
                f"sha256 {content}, the official one {official}"
            )
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _check_dims(path: Path, role: str, dims: tuple[int, ...]) -> None:
    count = dims[0]
    if count > MAX_ITEMS:
        raise zoo.DataError(
            f"{path}: the header announces {count:,} items; an MNIST-style file holds at most "
            f"{MAX_ITEMS:,}: not read"
        )
    if role.endswith("images") and dims[1:] != SHAPE:
        raise zoo.DataError(
            f"{path}: images are {'x'.join(map(str, dims[1:]))}, expected "
            f"{'x'.join(map(str, SHAPE))}"
        )


def is_official(files: dict[str, Path], official: dict[str, str]) -> bool:
    """Whether each file's content (uncompressed) has the official sha256."""
    for role, path in files.items():
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as raw:
                gzipped = raw.read(2) == GZIP_MAGIC
            with (gzip.open if gzipped else open)(path, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
        except (OSError, EOFError, zlib.error):
            return False
        if digest.hexdigest() != official.get(role):
            return False
    return True


def read_all(
    files: dict[str, Path], official: dict[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels), checked against each other and,
    given ``official`` (role -> the content's sha256), against the official files."""
    pins = official or {}
    arrays = {role: read(path, role, pins.get(role)) for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise zoo.DataError(f"{split}: {len(images):,} images but {len(labels):,} labels")
        if labels.size and labels.max() > 9:
            raise zoo.DataError(f"{files[f'{split}_labels']}: label {labels.max()} is not 0-9")
    return (
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
    )
