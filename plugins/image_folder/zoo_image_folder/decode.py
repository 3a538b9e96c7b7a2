"""The work of the processes that prepare a folder: each picture opened once, its header read
(its size and whether it has colour), decoded with ``zoo.data.photo`` (torchvision's ``Resize`` +
``CenterCrop``, as uint8) and its bytes placed in its chunk's rows, which go into the prepared
copy at their place in one write. A picture that cannot be read is a failure with its reason,
never a crash of the run; its row stays zero."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from zoo import data

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def inside(path: str, root: str) -> bool:
    """Whether ``path`` (followed through symlinks) lies inside ``root``."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


class Opener:
    """Opens the pictures of ``root`` for reading, refusing any that now lead out of it (the
    folder may have changed since it was scanned): each folder's real path is checked once, and
    a picture itself only when it is a symlink."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.folders: dict[str, bool] = {}

    def __call__(self, rel: str):
        path = os.path.join(self.root, rel)
        folder = os.path.dirname(path)
        ok = self.folders.get(folder)
        if ok is None:
            ok = self.folders[folder] = inside(folder, self.root)
        if not ok:
            raise ValueError(f"it now leads out of {self.root}")
        try:
            fd = os.open(path, os.O_RDONLY | NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            fd = None  # a symlink: followed only when it stays inside
        if fd is None or not NOFOLLOW:
            if not inside(path, self.root):
                if fd is not None:
                    os.close(fd)
                raise ValueError(f"it now leads out of {self.root}")
            if fd is None:
                fd = os.open(path, os.O_RDONLY)
        return os.fdopen(fd, "rb")


def prepare_chunk(
    root: str,
    paths: Sequence[str],
    first: int,
    out: str,
    offset: int,
    size: tuple[int, int],
    grey: bool,
) -> tuple[list[tuple[int, int, bool] | None], list[tuple[int, str]]]:
    """Decode ``paths`` (pictures ``first``, ``first + 1``... of the dataset) into the file
    ``out``, picture ``i``'s bytes at ``offset + i * bytes_per_picture``. Returns each
    picture's ``(height, width, grey)`` as its header said (``None`` where it cannot be read)
    and the failures as ``(index, reason)``."""
    each = (1 if grey else 3) * size[0] * size[1]
    rows = bytearray(each * len(paths))
    found: list[tuple[int, int, bool] | None] = []
    failures = []
    opener = Opener(root)
    for n, rel in enumerate(paths):
        try:
            with opener(rel) as f, data.open_picture(f, rel) as image:
                head = (image.height, image.width, data.is_grey(image))
                rows[n * each : (n + 1) * each] = data.photo(image, size, grey).tobytes()
        except Exception as exc:  # whatever a hostile file makes a decoder raise
            found.append(None)
            failures.append((first + n, _reason(exc, rel)))
            continue
        found.append(head)
    fd = os.open(out, os.O_WRONLY)
    try:
        view = memoryview(rows)
        at = offset + first * each
        while view:  # a write may take fewer bytes than asked
            done = os.pwrite(fd, view, at)
            view, at = view[done:], at + done
    finally:
        os.close(fd)
    return found, failures


def headers(root: str, paths: Sequence[str]) -> list[tuple[int, int, bool] | None]:
    """Each picture's ``(height, width, grey)`` from its header (``None`` where it cannot be
    read): a sample of them tells the size and mode to decode at before the whole pass."""
    found: list[tuple[int, int, bool] | None] = []
    opener = Opener(root)
    for rel in paths:
        try:
            with opener(rel) as f, data.open_picture(f, rel) as image:
                found.append((image.height, image.width, data.is_grey(image)))
        except Exception:  # the whole pass says why
            found.append(None)
    return found


def _reason(exc: BaseException, rel: str) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.startswith(f"{rel}: "):
        text = text[len(rel) + 2 :]
    return text[:300]
