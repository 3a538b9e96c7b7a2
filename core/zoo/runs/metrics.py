"""A run's history: ``metrics.jsonl`` (one row per finished epoch, appended durably, read
incrementally in bounded memory by :class:`MetricsScan`) and ``progress.json`` (the epoch in
progress, for a page that watches the run). The keys of a metrics row are written here once."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from .. import files
from ..errors import ZooError
from ..files import write_atomic
from .directory import MAX_METRICS, METRICS, PROGRESS, read_json, read_text, run_file

#: A metrics row's keys, in order, written here once: every row has these (then the rate within
#: the epoch, ``lr_steps``, when a scheduler steps every batch, and ``val_KEY`` for each metric
#: the run chose); the first four are what makes a line a row.
ROW_KEYS = ("epoch", "train_loss", "val_loss", "val_acc", "epoch_seconds", "samples_per_s", "lr")
METRIC_KEYS = ROW_KEYS[:4]


def row(
    epoch: int,
    train_loss: float,
    val_loss: float,
    val_acc: float,
    seconds: float,
    samples_per_s: float,
    lr: float,
) -> dict[str, Any]:
    """One epoch's metrics row, its numbers rounded as metrics.jsonl keeps them."""
    values = (
        epoch,
        round(train_loss, 6),
        round(val_loss, 6),
        round(val_acc, 6),
        round(seconds, 3),
        round(samples_per_s, 1),
        float(lr),
    )
    return dict(zip(ROW_KEYS, values, strict=True))


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


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
