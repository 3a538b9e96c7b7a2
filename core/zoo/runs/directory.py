"""The run directory: a durable, self-describing record of one training run, and the files in it
that are not weights (those are ``checkpoints``'s).

runs/<name>/<YYYYmmdd-HHMMSS>/
    config.yaml     the resolved config          env.json     python, torch, device, plugins
    model.json      what rebuilds the model      metrics.jsonl one line per epoch
    checkpoints/, checkpoint.json, best.safetensors (see zoo.runs.checkpoints), curves.png
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import stat
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import files, text
from ..config import RunConfig, dump_yaml, parse_yaml
from ..errors import ConfigError, ZooError, ZooWarning
from ..files import write_atomic
from ..plugins.cards import MAX_INPUT

#: A run directory someone shared is untrusted input: its files are read with these limits (far
#: above what zoo writes: a config is a few hundred bytes, a metrics line about 150).
MAX_TEXT = 1 << 20
MAX_METRICS = 64 << 20
RUNS_DIR = Path("runs")
CONFIG = "config.yaml"
MODEL = "model.json"
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
        write_atomic(run_dir / "env.json", json.dumps(env, indent=2).encode())
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc


def environment(device: str, plugins: Iterable[Any] = ()) -> dict[str, Any]:
    """What a run needs to be repeated: interpreter, torch, device, zoo and every plugin."""
    import platform

    import torch

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": device,
        "threads": torch.get_num_threads(),
        "hardware": hardware(device),
        "plugins": {
            p.name: {"distribution": p.distribution, "version": p.version, "status": p.status}
            for p in plugins
        },
        "argv": sys.argv,
    }
    commit = _git_commit(Path(__file__).resolve().parents[3])
    if commit:
        env["git_commit"] = commit
    return env


def hardware(device: str) -> str:
    """The processor a run trains on, in words: the GPU's name on CUDA, else the CPU's model
    (``/proc/cpuinfo``'s, or what the platform says) and its logical cores."""
    import platform

    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        return torch.cuda.get_device_name(index)
    name = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    name = " ".join((name or platform.processor() or platform.machine() or "CPU").split())
    return f"{name[:80]}, {os.cpu_count() or 1} cores"


def _git_commit(folder: Path) -> str | None:
    import subprocess

    if not (folder / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None


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
    "curves.png",
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
        env = read_json(Path(run_dir) / "env.json")
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


METRIC_KEYS = ("epoch", "train_loss", "val_loss", "val_acc")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``; a line cut short by a kill, or one that is not a metrics
    row, is left out."""
    try:
        lines = read_text(Path(run_dir) / METRICS, MAX_METRICS).splitlines()
    except FileNotFoundError:
        return []
    return [row for row in map(metrics_row, lines) if row is not None]


def metrics_row(line: str | bytes) -> dict[str, Any] | None:
    """One line of ``metrics.jsonl`` as a row, ``None`` when it is not one zoo wrote: not JSON,
    a key that is not a plain name (a lone surrogate, markup), its numbers missing or absurd."""
    try:
        row = files.parse_json(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return row if isinstance(row, dict) and _is_metrics_row(row) else None


def _is_metrics_row(row: dict[str, Any]) -> bool:
    numbers = all(_finite(row.get(k)) for k in METRIC_KEYS)
    names = len(row) <= MAX_ROW_KEYS and _plain_keys(tuple(row))
    return numbers and names and _positive_int(row["epoch"]) and row["epoch"] <= MAX_EPOCHS


@functools.lru_cache(maxsize=256)
def _plain_keys(keys: tuple[str, ...]) -> bool:
    """Whether every key is a plain name (a run's rows share their keys: checked once)."""
    return all(files.is_name(key) for key in keys)


#: A row's learning rate within its epoch, when a scheduler changes it every step: this many
#: points, evenly spaced (``lr`` is the rate at the epoch's end).
LR_STEPS_KEY = "lr_steps"
LR_STEPS = 20
#: The most keys a metrics row has (zoo's seven and a run's chosen metrics).
MAX_ROW_KEYS = 256
#: The most rows of a run's history a summary holds (for its curves), and the most bytes of
#: metrics.jsonl they come from: a longer history is thinned to every k-th epoch, the last
#: always kept, so a long run (or a file of huge rows) costs no more than this.
MAX_SHOWN_ROWS = 2000
MAX_SHOWN_BYTES = 4 << 20
_CHUNK = 1 << 20


class MetricsScan:
    """``metrics.jsonl`` read incrementally and summarised in bounded memory: each
    :meth:`update` parses only the bytes added since the last one (a file replaced or cut back,
    as a resume does, is read again from its start), keeping the number of rows, the best one
    (by ``best``, e.g. ``RunConfig.best``), the last one and at most ``keep`` rows evenly spaced
    (and :data:`MAX_SHOWN_BYTES` of them): ``rows``, the last always among them. Not
    thread-safe: one caller at a time (``zoo ui`` holds a lock per run)."""

    def __init__(self, run_dir: Path, best: Any = None, keep: int = MAX_SHOWN_ROWS) -> None:
        self.path = Path(run_dir) / METRICS
        self.choose = best
        self.keep = keep
        self.clear()

    def clear(self) -> None:
        self.identity: tuple[int, int] | None = None
        self.offset = 0
        self.count = 0
        self.best: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.kept: list[tuple[dict[str, Any], int]] = []  # (row, its line's length)
        self.kept_bytes = 0
        self.kept_last = False  # whether the newest kept row is the last row
        self.stride = 1

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The kept rows' numbers, oldest first, then the last row whole."""
        if self.last is None:
            return []
        kept = [row for row, _ in self.kept]
        return [*(kept[:-1] if self.kept_last else kept), self.last]

    def update(self) -> MetricsScan:
        """Read what was added since the last call; a missing file is no rows."""
        try:
            path = run_file(self.path)
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            self.clear()
            return self
        except OSError as exc:
            raise ZooError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ZooError(f"{self.path} is not a regular file: not one zoo wrote")
        with os.fdopen(fd, "rb") as f:
            if info.st_size > MAX_METRICS:
                raise ZooError(
                    f"{self.path} is larger than zoo ever writes one ({MAX_METRICS:,} bytes)"
                )
            identity = (info.st_dev, info.st_ino)
            if identity != self.identity or info.st_size < self.offset:
                self.clear()  # replaced (a resume rewrites it) or cut: from the start
                self.identity = identity
            f.seek(self.offset)
            while self.offset < info.st_size:
                chunk = f.read(min(_CHUNK, info.st_size - self.offset))
                end = chunk.rfind(b"\n")
                if end < 0:
                    if len(chunk) >= _CHUNK:  # a "line" of a megabyte: not zoo's, skipped
                        self.offset += len(chunk)
                        f.seek(self.offset)
                        continue
                    break  # a last line still being written (or cut by a kill): later
                for line in chunk[:end].split(b"\n"):
                    self._add(metrics_row(line), len(line))
                self.offset += end + 1
                f.seek(self.offset)
        return self

    def _add(self, row: dict[str, Any] | None, size: int) -> None:
        if row is None:
            return
        self.count += 1
        self.last = row
        if self.choose is not None:
            self.best = self.choose([self.best, row] if self.best is not None else [row])
        self.kept_last = self.keep > 0 and (self.count - 1) % self.stride == 0
        if self.kept_last:
            self.kept.append((row, size))
            self.kept_bytes += size
            while len(self.kept) > 1 and (
                len(self.kept) > self.keep or self.kept_bytes > MAX_SHOWN_BYTES
            ):  # thinned: every other kept row goes
                self.kept = self.kept[::2]
                self.kept_bytes = sum(n for _, n in self.kept)
                self.stride *= 2
                self.kept_last = (self.count - 1) % self.stride == 0


#: No number in a metrics row is larger than this: a loss, an accuracy, seconds, samples/s.
MAX_METRIC = 1e15
MAX_EPOCHS = 1_000_000


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= MAX_METRIC
    )


#: What progress.json holds (all numbers): the epoch that is training, how far it is, its
#: running training loss and speed, and when this was written (seconds since the epoch).
PROGRESS_KEYS = (
    "epoch", "epochs", "step", "steps", "samples", "samples_total", "train_loss",
    "samples_per_s", "time",
)  # fmt: skip


def write_progress(run_dir: Path, progress: dict[str, Any]) -> None:
    """Note how far the epoch in progress is (never durable, never an error: only a page that
    watches the run reads it)."""
    with contextlib.suppress(OSError):
        path = Path(run_dir) / PROGRESS
        if not path.is_symlink():  # replaced whole: a link put there is not followed anyway
            write_atomic(path, json.dumps(progress).encode(), durable=False)


def clear_progress(run_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (Path(run_dir) / PROGRESS).unlink(missing_ok=True)


def read_progress(run_dir: Path) -> dict[str, float] | None:
    """progress.json, ``None`` when there is none or it is not what zoo writes."""
    try:
        progress = read_json(Path(run_dir) / PROGRESS, limit=4096)
    except (FileNotFoundError, ValueError, ZooError):
        return None
    if not isinstance(progress, dict) or set(progress) != set(PROGRESS_KEYS):
        return None
    if not all(_finite(v) and v >= 0 for v in progress.values()):
        return None
    return progress


LOCK = ".zoo.lock"
OWNER = ".zoo.lock.owner"  # who holds the lock, for the message a second process gets


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory for one process (a run, a resume): a second one is refused with a
    line saying who holds it, instead of interleaving epochs in the same files."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    for name in (LOCK, OWNER):  # opening a link would truncate or overwrite where it leads
        if (run_dir / name).is_symlink() or (
            (run_dir / name).exists() and not (run_dir / name).is_file()
        ):
            raise ZooError(f"{run_dir / name} is not a file zoo wrote (a link?): refused")
    lock = FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            note = files.read_bounded(run_dir / OWNER, 4096).decode("utf-8", "replace")
            owner = text.printable(note.strip()) or "another zoo process"
        except (OSError, ZooError):
            owner = "another zoo process"
        raise ZooError(
            f"{run_dir} is in use by {owner}: wait for it to end (or stop it), then try again"
        ) from None
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError):  # replaced whole: a link put there is not followed
            note = f"zoo (pid {os.getpid()} on {_host()}, since {started})"
            write_atomic(run_dir / OWNER, note.encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            (run_dir / OWNER).unlink()
        lock.release()


def _host() -> str:
    import socket

    return socket.gethostname()


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:  # never through a link: the line goes into this run's own file or nowhere
        with os.fdopen(os.open(run_dir / METRICS, flags, 0o666), "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise ZooError(f"cannot write {run_dir / METRICS}: {exc.strerror or exc}") from exc


def rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Make ``metrics.jsonl`` hold exactly ``rows`` (on resume: the checkpoint's history)."""
    write_atomic(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())


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
        if CONFIG in names and MODEL in names:
            when = trained_at(folder)
            if when is not None:
                found.append((when, os.fsencode(folder).decode("utf-8", "replace"), folder))
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
    return [path for _, _, path in sorted(found, key=lambda item: item[:2])]


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
