"""The work of the processes that prepare a folder: each picture's header read (its size and
whether it has colour), then each picture decoded with ``zoo.data.photo`` (torchvision's
``Resize`` + ``CenterCrop``, as uint8) and written straight into the prepared copy at its place.
A worker holds one picture at a time; a picture that cannot be read is a failure with its
reason, never a crash of the run."""

from __future__ import annotations

import os
from collections.abc import Sequence

from zoo import data


def inside(path: str, root: str) -> bool:
    """Whether ``path`` (followed through symlinks) lies inside ``root``."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _open(root: str, rel: str):
    path = os.path.join(root, rel)
    if not inside(path, root):
        raise ValueError(f"it now leads out of {root}")
    return data.open_picture(path, rel)


def headers(
    root: str, paths: Sequence[str], first: int
) -> tuple[list[tuple[int, int, bool] | None], list[tuple[int, str]]]:
    """Each picture's ``(height, width, grey)`` from its header (``None`` where it cannot be
    read), and the failures as ``(index, reason)``, counted from ``first``."""
    found: list[tuple[int, int, bool] | None] = []
    failures = []
    for i, rel in enumerate(paths, start=first):
        try:
            with _open(root, rel) as image:
                found.append((image.height, image.width, data.is_grey(image)))
        except Exception as exc:  # whatever a hostile file makes a decoder raise
            found.append(None)
            failures.append((i, _reason(exc, rel)))
    return found, failures


def write_chunk(
    root: str,
    paths: Sequence[str],
    first: int,
    out: str,
    offset: int,
    size: tuple[int, int],
    grey: bool,
) -> list[tuple[int, str]]:
    """Decode ``paths`` (pictures ``first``, ``first + 1``... of the dataset) into the file
    ``out``, picture ``i``'s bytes at ``offset + i * bytes_per_picture``; returns the failures as
    ``(index, reason)`` (their bytes stay zero)."""
    each = (1 if grey else 3) * size[0] * size[1]
    failures = []
    fd = os.open(out, os.O_WRONLY)
    try:
        for i, rel in enumerate(paths, start=first):
            try:
                with _open(root, rel) as image:
                    pixels = data.photo(image, size, grey)
            except Exception as exc:  # whatever a hostile file makes a decoder raise
                failures.append((i, _reason(exc, rel)))
                continue
            os.pwrite(fd, pixels.tobytes(), offset + i * each)
    finally:
        os.close(fd)
    return failures


def _reason(exc: BaseException, rel: str) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.startswith(f"{rel}: "):
        text = text[len(rel) + 2 :]
    return text[:300]
