"""The official MNIST/Fashion-MNIST IDX files: magic numbers, dimensions and lengths checked."""

from __future__ import annotations

import gzip
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


def read(path: Path, role: str) -> np.ndarray:
    """A uint8 array of the IDX file at ``path`` (gzipped or not), checked against its header."""
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise zoo.DataError(f"{path} is not a complete gzip file ({exc})") from exc
    expected = magic(role)
    if data[:4] != expected:
        raise zoo.DataError(
            f"{path}: wrong magic number {data[:4].hex()} for an IDX "
            f"{role.replace('_', ' ')} file (expected {expected.hex()})"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise zoo.DataError(f"{path}: the IDX header is cut short")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(dims))
    if len(data) - header != size:
        raise zoo.DataError(
            f"{path}: the header says {' x '.join(map(str, dims))} = {size:,} "
            f"bytes but the file holds {len(data) - header:,}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_all(files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels), checked against each other."""
    arrays = {role: read(path, role) for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (28, 28):
            raise zoo.DataError(
                f"{files[f'{split}_images']}: images are "
                f"{'x'.join(map(str, images.shape[1:]))}, expected 28x28"
            )
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
