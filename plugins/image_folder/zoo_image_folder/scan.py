"""What a folder of pictures holds: its layout, its classes and its pictures, found without
opening a picture, bounded in depth, count and names, and never outside the folder."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import zoo

#: The names pictures have (other files, hidden files and the files systems leave behind,
#: ``Thumbs.db``, ``desktop.ini``, ``.DS_Store``, are not pictures and are left out).
SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
)  # fmt: skip
LEFT_BEHIND = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
#: The split folders of the ``DIR/train|valid|test/<class>/`` layout (``val`` is ``valid``).
SPLIT_FOLDERS = {"train": 0, "valid": 1, "val": 1, "test": 2}
TRAIN, VALID, TEST = 0, 1, 2
MAX_CLASSES = 10_000
MAX_PICTURES = 10_000_000
#: How deep pictures may lie inside a class folder, and how many entries the walk reads.
MAX_DEPTH = 16
MAX_ENTRIES = 20_000_000


@dataclass(frozen=True)
class Found:
    """A folder's pictures (paths relative to it, with their class index and split, in a fixed
    order), its class names (sorted) and a key that changes when a picture's name, size or
    modification time does."""

    root: Path
    classes: tuple[str, ...]
    paths: tuple[str, ...]
    labels: tuple[int, ...]
    splits: tuple[int, ...]
    key: str
    layout: str  # "classes" or "splits"
    ignored: int  # files that are not pictures


def scan(folder: str | Path) -> Found:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise zoo.DataError(
            f"{folder}: no such folder (expected a folder of class folders of pictures)"
        )
    root = root.resolve()
    top = _folders(root, root, "class folders")
    if top and set(top) <= set(SPLIT_FOLDERS):
        if "train" not in top:
            raise zoo.DataError(f"{root} holds {', '.join(sorted(top))} but no train folder")
        layout = "splits"
        parts = {name: _folders(root / name, root, "class folders") for name in top}
        classes = sorted(parts["train"])
        for name, inside in parts.items():
            extra = sorted(set(inside) - set(classes))
            if extra:
                raise zoo.DataError(
                    f"{root / name}: class folder {extra[0]!r} is not among train's classes"
                )
    else:
        layout = "classes"
        parts = {"": top}
        classes = sorted(top)
    _check_classes(root, classes)
    index = {name: i for i, name in enumerate(classes)}
    paths: list[str] = []
    labels: list[int] = []
    splits: list[int] = []
    digest = hashlib.sha256()
    ignored = 0
    budget = [MAX_ENTRIES]
    for part in sorted(parts):
        split = SPLIT_FOLDERS.get(part, TRAIN)
        for name in sorted(parts[part]):
            found, left_out = _pictures(root / part / name if part else root / name, root, budget)
            ignored += left_out
            if not found and (part in ("", "train")):
                where = root / part / name if part else root / name
                raise zoo.DataError(
                    f"{where}: a class folder with no pictures ({', '.join(SUFFIXES)}): add "
                    "some, or remove it"
                )
            for rel, size, mtime in found:
                paths.append(rel)
                labels.append(index[name])
                splits.append(split)
                digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
            if len(paths) > MAX_PICTURES:
                raise zoo.DataError(f"{root}: more than {MAX_PICTURES:,} pictures")
    return Found(
        root=root,
        classes=tuple(classes),
        paths=tuple(paths),
        labels=tuple(labels),
        splits=tuple(splits),
        key=digest.hexdigest(),
        layout=layout,
        ignored=ignored,
    )


def _folders(path: Path, root: Path, what: str) -> list[str]:
    """The names of the visible folders in ``path`` (at most :data:`MAX_CLASSES`); a symlink to
    a folder outside ``root`` is refused."""
    names = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink():
                    _inside(Path(entry.path), root)
                if entry.is_dir():
                    names.append(entry.name)
                    if len(names) > MAX_CLASSES:
                        raise zoo.DataError(
                            f"{path}: more than {MAX_CLASSES:,} {what}: is this the folder of "
                            "the classes (one folder of pictures per class)?"
                        )
    except OSError as exc:
        raise zoo.DataError(f"{path}: cannot read this folder ({exc.strerror or exc})") from exc
    return names


def _check_classes(root: Path, classes: list[str]) -> None:
    if not classes:
        raise zoo.DataError(
            f"{root} holds no class folders: put each class's pictures in a folder of its own "
            f"({root}/cat/1.png, {root}/dog/2.png...)"
        )
    if len(classes) == 1:
        raise zoo.DataError(
            f"{root} holds one class folder ({classes[0]!r}): a classifier needs two or more"
        )
    seen: dict[str, str] = {}
    for name in classes:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise zoo.DataError(
                f"{root}: a class folder's name is not UTF-8 text "
                f"({name.encode('utf-8', 'surrogateescape')!r}): rename it"
            ) from None
        if not name.isprintable() or len(name) > 200:
            raise zoo.DataError(
                f"{root}: class folder {name!r} is not a name zoo can show (at most 200 "
                "printable characters): rename it"
            )
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise zoo.DataError(
                f"{root}: class folders {other!r} and {name!r} differ only in case (one class "
                "or two? On Windows and macOS they are one folder): merge or rename them"
            )


def _inside(path: Path, root: Path) -> Path:
    """Where the symlink ``path`` leads, refused when that is outside ``root``."""
    target = path.resolve()
    if not target.is_relative_to(root):
        raise zoo.DataError(
            f"{path}: a symlink out of {root} (to {target}): zoo reads only what is inside the "
            "folder; copy the pictures in"
        )
    return target


def _pictures(folder: Path, root: Path, budget: list[int]) -> tuple[list[tuple], int]:
    """The pictures under a class folder, as ``(path relative to root, size, mtime_ns)``, sorted
    by path; and how many other files were left out. Walked with a stack, not recursion; folders
    linked from inside the folder are not entered (no loops)."""
    found: list[tuple[str, int, int]] = []
    ignored = 0
    stack = [(folder, os.path.relpath(folder, root), 0)]
    while stack:
        path, where, depth = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise zoo.DataError(f"{root}: more than {MAX_ENTRIES:,} files and folders")
                    name = entry.name
                    if name[0] == "." or name.lower() in LEFT_BEHIND:
                        continue
                    dot = name.rfind(".")
                    picture = dot > 0 and name[dot:].lower() in SUFFIXES
                    if picture and entry.is_file(follow_symlinks=False):  # the common case
                        info = entry.stat(follow_symlinks=False)
                    else:
                        linked = entry.is_symlink()
                        if linked:
                            _inside(Path(entry.path), root)
                        if entry.is_dir():
                            if linked:
                                continue
                            if depth + 1 > MAX_DEPTH:
                                raise zoo.DataError(
                                    f"{entry.path}: more than {MAX_DEPTH} folders deep in its class"
                                )
                            stack.append((Path(entry.path), where + os.sep + name, depth + 1))
                            continue
                        if not picture:
                            ignored += 1
                            continue
                        info = entry.stat()
                    if not stat.S_ISREG(info.st_mode):
                        ignored += 1
                        continue
                    found.append((where + os.sep + name, info.st_size, info.st_mtime_ns))
        except OSError as exc:
            raise zoo.DataError(f"{path}: cannot read this folder ({exc.strerror or exc})") from exc
    found.sort()
    return found, ignored
