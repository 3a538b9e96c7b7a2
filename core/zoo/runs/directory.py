"""The run directory's files: where a run is made, the names of what it holds, and the checked
reading of config.yaml and model.json (every file of a run someone shared is untrusted input).
Its history is ``metrics``'s, its provenance (env.json) ``provenance``'s, its lock ``lock``'s,
its weights ``checkpoints``'s; ``rundir.RunDir`` is the one object that answers for all of them.

runs/<name>/<YYYYmmdd-HHMMSS>/
    config.yaml     the resolved config          env.json     python, torch, device, plugins
    model.json      what rebuilds the model      metrics.jsonl one line per epoch
    checkpoints/, checkpoint.json, best.safetensors (see zoo.runs.checkpoints), curves.png
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import files, text
from ..config import RunConfig, dump_yaml, parse_yaml
from ..errors import ConfigError, ZooError, ZooWarning
from ..files import write_atomic
from ..plugins.cards import MAX_INPUT, SHA256
from .lock import LOCK, OWNER
from .provenance import environment

#: A run directory someone shared is untrusted input: its files are read with these limits (far
#: above what zoo writes: a config is a few hundred bytes, a metrics line about 150).
MAX_TEXT = 1 << 20
MAX_METRICS = 64 << 20
RUNS_DIR = Path("runs")
CONFIG = "config.yaml"
MODEL = "model.json"
ENV = "env.json"
CURVES = "curves.png"
METRICS = "metrics.jsonl"
PROGRESS = "progress.json"  # the epoch in progress, rewritten about once a second while it trains


def check_out(out: str | Path) -> Path:
    """``--out`` must be a new or empty directory: a run never overwrites another's files. A
    folder holding only what a run killed before its config was written leaves behind (its lock
    and temp files) counts as empty: the run starts there again."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or not is_unstarted(path)):
        raise ConfigError(
            f"--out {path} exists and is not empty: choose a new directory (or `zoo resume` it)"
        )
    return path


def is_unstarted(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but what a run killed between taking the folder and
    writing its config leaves: the lock, its owner note, temp files (all regular files)."""
    for entry in Path(folder).iterdir():
        leftover = entry.name in (LOCK, OWNER) or (
            entry.name.startswith(".") and entry.name.endswith(files.PARTIAL)
        )
        if not leftover or entry.is_symlink() or not entry.is_file():
            return False
    return True


def make_run_dir(name: str, out: str | Path | None = None) -> Path:
    """``out``, which must be new or empty, else a fresh ``runs/<name>/<YYYYmmdd-HHMMSS>``; a
    folder zoo cannot write to is an error now, not after the first epoch."""
    try:
        if out is not None:
            path = check_out(out)
            path.mkdir(parents=True, exist_ok=True)
            for entry in path.iterdir():  # a killed start's temp files: zoo's own, regular
                if entry.name.endswith(files.PARTIAL):
                    entry.unlink(missing_ok=True)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = RUNS_DIR / files.check_name(name.replace(":", "-"), "the run's name")
            for suffix in range(1000):  # two runs in the same second get -1, -2, ...
                path = base / (f"{stamp}-{suffix}" if suffix else stamp)
                try:
                    path.mkdir(parents=True)
                    break
                except FileExistsError:
                    continue
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        where = out if out is not None else RUNS_DIR
        raise ZooError(f"cannot write the run directory {where}: {exc.strerror or exc}") from exc
    return path


def model_info(config: RunConfig, splits: Any) -> dict[str, Any]:
    """model.json: what rebuilds the model without the dataset (see ``zoo.runs.trained``)."""
    return {
        "model": config.model.name,
        "options": dict(config.model.options),
        "num_classes": splits.num_classes,
        "input_shape": list(splits.input_shape) if splits.input_shape else None,
        "classes": list(splits.classes) if splits.classes else None,
        "dataset": config.dataset.name,
        "pictures": getattr(splits, "pictures", None),
        "data_sha256": getattr(splits, "digest", None),
    }


def write_start(
    run_dir: Path,
    config: RunConfig,
    model: dict[str, Any],
    device: str,
    plugins: Iterable[Any] = (),
) -> None:
    """The files a run writes before its first epoch: config.yaml, model.json (``model``) and
    env.json (with the ``plugins`` that were loaded, as ``PluginInfo``)."""
    try:
        write_atomic(run_dir / CONFIG, dump_yaml(config.to_dict()).encode())
        write_atomic(run_dir / MODEL, json.dumps(model, indent=2).encode())
        env = environment(device, plugins)
        write_atomic(run_dir / ENV, json.dumps(env, indent=2).encode())
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc


def run_file(path: Path) -> Path:
    """A file of a run directory (``RUN_DIR/NAME``, or deeper), refused when a link takes it out
    of its run directory: a shared run cannot make zoo read, copy or load a file elsewhere."""
    path = Path(path)
    return files.inside(path.parent, path.name, "the run's file")


#: What zoo itself keeps in a run directory: nothing else (a callback's log) may write there.
OWN_FILES = (
    "config.yaml",
    "model.json",
    "env.json",
    "metrics.jsonl",
    "checkpoint.json",
    "best.safetensors",
    "checkpoints",
    CURVES,
    "progress.json",
    ".zoo.lock",
    ".zoo.lock.owner",
)


def output_path(run_dir: Path, relative: str | Path, what: str) -> Path:
    """Where a part of a run (a logger's file or folder) may write: ``relative`` inside the run
    directory once every link is resolved, and none of zoo's own files."""
    run_dir = Path(run_dir)
    given = Path(relative)
    if given.is_absolute() or ".." in given.parts or not given.parts:
        raise ConfigError(
            f"{what} {text.shown(str(relative))}: expected a path inside the run directory"
        )
    resolved = files.inside(run_dir, given, what)
    parts = resolved.relative_to(run_dir.resolve()).parts
    if not parts or parts[0] in OWN_FILES or parts[0].endswith(files.PARTIAL):
        raise ConfigError(
            f"{what} {text.shown(str(relative))} is one of zoo's own files of the run: choose "
            "another name"
        )
    return resolved


def read_text(path: Path, limit: int = MAX_TEXT) -> str:
    """A text file of a run directory, refused (one line) when it is not a regular file inside
    it, larger than ``limit`` or not UTF-8: nothing zoo writes is."""
    data = files.read_bounded(run_file(path), limit, str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path} is not text: not a file zoo wrote") from exc


def read_json(path: Path, limit: int = MAX_TEXT) -> Any:
    """A JSON file of a run directory: ``ValueError`` for what is not plain JSON (too deep,
    NaN...), ``FileNotFoundError`` when it is missing."""
    return files.parse_json(read_text(path, limit))


def read_config(run_dir: Path) -> RunConfig:
    """config.yaml, checked like any config (and without YAML aliases)."""
    path = Path(run_dir) / CONFIG
    if not path.exists() and not path.is_symlink():
        if Path(run_dir).is_dir() and is_unstarted(Path(run_dir)):
            raise ConfigError(
                f"{run_dir} holds no run: one was stopped before it wrote its {CONFIG}, so there "
                f"is nothing to resume; start it again there with zoo run NAME --out {run_dir}"
            )
        raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG})")
    try:
        data = parse_yaml(read_text(path), aliases=False)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ConfigError("expected a mapping with the run's name")
        config = RunConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path} is not a run config zoo wrote: {exc}") from exc
    except ZooError:
        raise
    except RecursionError as exc:
        raise ConfigError(f"{path} is not a run config zoo wrote: nested too deeply") from exc
    except Exception as exc:  # a YAML error
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]
        raise ConfigError(f"{path} is not a run config zoo wrote: {problem}") from exc
    return config


def trained_device(run_dir: Path) -> str | None:
    """The device a run last trained on, as its env.json says (``None`` if it does not say)."""
    try:
        env = read_json(Path(run_dir) / ENV)
    except (FileNotFoundError, ValueError, ZooError):
        return None
    device = env.get("device") if isinstance(env, dict) else None
    return device if isinstance(device, str) and files.is_name(device.replace(":", "-")) else None


def read_model_info(run_dir: Path) -> dict[str, Any]:
    """model.json, every field checked: it says which factory to call with what."""
    path = Path(run_dir) / MODEL
    try:
        info = read_json(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"{run_dir} has no {MODEL}: not a run directory") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from exc
    problem = _model_info_problem(info)
    if problem:
        raise ConfigError(f"{path} is not a model description zoo wrote: {problem}")
    return info


def _model_info_problem(info: Any) -> str | None:
    if not isinstance(info, dict):
        return "expected a JSON object"
    if not _model_name(info.get("model")):
        return "'model' must name a model (letters, digits, _, - and ., or PLUGIN:NAME)"
    if not isinstance(info.get("options", {}), dict):
        return "'options' must be an object"
    if info.get("dataset") is not None and not files.is_name(info["dataset"]):
        return "'dataset' must name a dataset (letters, digits, _, - and .)"
    count = info.get("num_classes")
    if count is not None and (not _positive_int(count) or count > 1_000_000):
        return "'num_classes' must be a positive integer"
    shape = info.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list) and 1 <= len(shape) <= 4 and all(map(_positive_int, shape))
    ):
        return "'input_shape' must be a list of 1 to 4 positive integers"
    if info.get("pictures") not in (None, "photo"):
        return "'pictures' must be \"photo\" or null"
    digest = info.get("data_sha256")
    if digest is not None and not (isinstance(digest, str) and SHA256.fullmatch(digest)):
        return "'data_sha256' must be a sha256 (64 hex digits)"
    classes = info.get("classes")
    if classes is not None and (
        not isinstance(classes, list)
        or not all(isinstance(c, str) and c.isprintable() and len(c) <= 200 for c in classes)
        or (count is not None and len(classes) != count)
    ):
        return "'classes' must be a list of num_classes printable names"
    for key in ("parameters", "flops"):  # measured when the run began (absent in older runs)
        value = info.get(key)
        if value is not None and not (_count(value) and value < 1 << 62):
            return f"'{key}' must be a whole number of 0 or more"
    if shape is not None and math.prod(shape) > MAX_INPUT:
        return f"'input_shape' holds more than {MAX_INPUT:,} values: not an input zoo trained on"
    return None


def _model_name(value: Any) -> bool:
    """A registered model's name, bare or qualified (``PLUGIN:NAME``)."""
    if not isinstance(value, str):
        return False
    plugin, _, name = value.rpartition(":")
    return files.is_name(name) and (not plugin or files.is_name(plugin))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


#: How far below the folder given a run directory is looked for (runs/NAME/STAMP is 2 deep, a
#: sweep's runs 3), and how many folders the walk reads at most: a folder someone shared (a home
#: directory, a chain of 1,100 nested folders) cannot make ``zoo runs`` or the page walk forever.
MAX_DEPTH = 12
MAX_FOLDERS = 100_000


def find_runs(root: Path = RUNS_DIR) -> list[Path]:
    """Every run directory below ``root`` (a folder with config.yaml and model.json), oldest
    first by when it trained (:func:`trained_at`). The walk follows no link, reads at most
    :data:`MAX_FOLDERS` folders :data:`MAX_DEPTH` deep (a :class:`~zoo.ZooWarning` says when it
    stopped short), and skips what it cannot read or what vanished while it looked."""
    found: list[tuple[float, str, Path]] = []
    for folder in find_folders(root, lambda names: CONFIG in names and MODEL in names):
        when = trained_at(folder)
        if when is not None:
            found.append((when, os.fsencode(folder).decode("utf-8", "replace"), folder))
    return [path for _, _, path in sorted(found, key=lambda item: item[:2])]


def find_folders(root: Path, wanted: Callable[[set[str]], bool]) -> list[Path]:
    """The folders below ``root`` (``root`` too) whose names of entries ``wanted`` takes, walked
    as :func:`find_runs` walks: no link followed, bounded in depth and count, no recursion."""
    found: list[Path] = []
    pending, visited = [(Path(root), 0)], 0
    while pending:  # a stack, not recursion: nesting cannot exhaust Python's
        folder, depth = pending.pop()
        visited += 1
        try:
            with os.scandir(folder) as entries:
                subfolders, names = [], set()
                for entry in entries:
                    names.add(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append(Path(entry.path))
                    if len(names) > MAX_FOLDERS:
                        break
        except OSError:  # vanished, unreadable, not a folder: not a run, and nothing below
            continue
        if wanted(names):
            found.append(folder)
        if depth >= MAX_DEPTH:
            continue
        pending.extend((sub, depth + 1) for sub in sorted(subfolders, reverse=True))
        if visited + len(pending) > MAX_FOLDERS:
            warnings.warn(
                f"{text.printable(root)} holds more than {MAX_FOLDERS:,} folders: the runs of the "
                "first ones are listed (name a folder nearer to the runs)",
                ZooWarning,
                stacklevel=2,
            )
            break
    return found


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run (its config and model description), without reading them."""
    return (Path(path) / CONFIG).exists() and (Path(path) / MODEL).exists()


#: The files whose change can change what a run's row says (its status, epochs, best).
WATCHED = (CONFIG, MODEL, METRICS, "checkpoint.json", "checkpoints", OWNER, LOCK)


def fingerprint(run_dir: Path) -> tuple[tuple[int, ...], ...]:
    """What a run's files are now, from their stat alone (kind, size, modification time, inode
    of each of :data:`WATCHED`; a missing one ``(0, 0, 0)``): the same fingerprint, the same
    files, so a listing asked again reads only the runs whose fingerprint changed."""
    marks = []
    for name in WATCHED:
        try:
            info = os.stat(Path(run_dir) / name, follow_symlinks=False)
            marks.append((info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino))
        except OSError:
            marks.append((0, 0, 0, 0))
    return tuple(marks)


def trained_at(run_dir: Path) -> float | None:
    """When the run last trained, in seconds since the epoch: its last metrics line's time (else
    when its config was written). Not the folder's own time, which ``zoo eval`` writing a
    confusion matrix into it would change. ``None`` when the run vanished."""
    for name in (METRICS, CONFIG):
        try:
            return os.stat(Path(run_dir) / name, follow_symlinks=False).st_mtime
        except OSError:
            continue
    return None
