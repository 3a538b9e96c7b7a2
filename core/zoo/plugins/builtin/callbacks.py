"""Callbacks, registered through ``register_callbacks`` like any plugin's: early stopping,
stopping at a target (``stop_at``), and loggers to MLflow (``mlflow_logger``), TensorBoard (through
``torch.utils.tensorboard``; its package is the optional extra ``tensorboard``) and to a CSV
file. Each keeps what it needs in its ``state_dict``, saved in
every checkpoint, so a resumed run stops and logs exactly as an uninterrupted one."""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
import uuid
from pathlib import Path
from typing import Any

from ...errors import ZooError
from ...files import write_atomic
from ...hookspecs import Callback, hookimpl
from . import auto_mode
from .mlflow_logger import mlflow


class EarlyStopping(Callback):
    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float) -> None:
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        value = row[self.monitor]  # the trainer checked it is there before the first epoch
        if self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            by = f" by more than {self.min_delta:g}" if self.min_delta else ""
            trainer.stop(
                f"early stopping after epoch {row['epoch']}: {self.monitor} has not improved"
                f"{by} for {self.patience} epoch{'s' * (self.patience != 1)}; the best was epoch "
                f"{self.best_epoch} ({self.monitor} {self.best:.4f})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best, epoch, wait = state["best"], state["best_epoch"], state["wait"]
        number = (int, float)
        if (
            (best is not None and (not isinstance(best, number) or not math.isfinite(best)))
            or (epoch is not None and (not isinstance(epoch, int) or epoch < 1))
            or not isinstance(wait, int)
            or not 0 <= wait < max(self.patience, 1)
        ):
            raise ValueError("best, best_epoch and wait are not what early stopping saves")
        self.best, self.best_epoch, self.wait = best, epoch, wait


def early_stopping(
    monitor: str = "val_loss", mode: str = "auto", patience: int = 3, min_delta: float = 0.0
) -> Callback:
    """Stop when monitor has not improved by min_delta for patience epochs."""
    mode = auto_mode(monitor, mode)
    if patience < 1 or min_delta < 0:
        raise ValueError("patience must be at least 1 and min_delta at least 0")
    return EarlyStopping(monitor, mode, patience, min_delta)


class StopAt(Callback):
    def __init__(self, value: float, monitor: str, mode: str) -> None:
        self.value, self.monitor, self.mode = value, monitor, mode

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        reached = row[self.monitor]
        if reached >= self.value if self.mode == "max" else reached <= self.value:
            trainer.stop(
                f"reached the target after epoch {row['epoch']}: {self.monitor} {reached:.4f} "
                f"({'at least' if self.mode == 'max' else 'at most'} {self.value:g} asked)"
            )


def stop_at(value: float, monitor: str = "val_loss", mode: str = "auto") -> Callback:
    """Stop as soon as an epoch's monitor reaches value (e.g. val_acc 0.99)."""
    mode = auto_mode(monitor, mode)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"value must be a number, not {value!r}")
    return StopAt(float(value), monitor, mode)


def _scalars(row: dict[str, Any]) -> dict[str, float]:
    return {
        k: v
        for k, v in row.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"
    }


class TensorBoard(Callback):
    """Each epoch's numbers as TensorBoard scalars, in one event file per run that a resumed run
    writes again from its history: what a killed process had logged is replaced, never doubled,
    whatever order TensorBoard reads the files in."""

    def __init__(self, log_dir: str | None) -> None:
        self.log_dir = log_dir
        self.writer: Any = None
        self.files: list[str] = []  # the event files this run wrote (its state)

    def on_start(self, trainer: Any) -> None:
        if not trainer.is_main or trainer.dir is None:
            return
        from torch.utils.tensorboard import SummaryWriter

        # inside the run directory, links resolved: nothing elsewhere is written or deleted
        folder = trainer.output_path(self.log_dir or DEFAULT_LOG_DIR, "tensorboard log_dir")
        ours = {folder / name for name in self.files}
        if not self.log_dir and folder.is_dir():  # zoo made this folder: all of it is the run's
            ours |= set(folder.glob("events.out.tfevents.*"))
        for path in ours:
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
        suffix = f".zoo-{uuid.uuid4().hex[:12]}"
        self.writer = SummaryWriter(str(folder), filename_suffix=suffix)
        self.files = [path.name for path in folder.glob(f"*{suffix}")]
        for row in trainer.history:
            self._log(row)

    def _log(self, row: dict[str, Any]) -> None:
        for key, value in _scalars(row).items():
            if math.isfinite(value):
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        if self.writer is not None:
            self._log(row)

    def on_end(self, trainer: Any) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def state_dict(self) -> dict[str, Any]:
        return {"files": list(self.files)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # a shared run directory's state is untrusted: only event file names, nothing with a path
        self.files = [
            n
            for n in state.get("files", [])
            if isinstance(n, str) and Path(n).name == n and n.startswith("events.out.tfevents.")
        ]


DEFAULT_LOG_DIR = "tensorboard"


def tensorboard(log_dir: str | None = None) -> Callback:
    """Write each epoch's numbers for TensorBoard (a folder inside the run, default tensorboard)."""
    if log_dir is not None:
        _inside_the_run(log_dir, "log_dir", "tensorboard --logdir runs/ shows every run's")
    if importlib.util.find_spec("tensorboard") is None:
        raise ZooError(
            "the tensorboard callback needs the tensorboard package: "
            "pip install 'torch-zoo[tensorboard]'"
        )
    return TensorBoard(log_dir)


class CSVLogger(Callback):
    """The numbers of each epoch (lists such as a confusion matrix left out) as CSV rows."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: Path | None = None
        self.columns: list[str] = []

    def on_start(self, trainer: Any) -> None:
        if not trainer.is_main or trainer.dir is None:
            return
        self.file = trainer.output_path(self.path, "csv path")  # inside the run, not zoo's own
        # written again from the run's own history: a resumed run's file is an uninterrupted one's
        self._write(trainer.history)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        assert self.file is not None
        self.columns = ["epoch", *_scalars(rows[0])] if rows else []
        text = io.StringIO()
        if rows:
            writer = csv.DictWriter(text, self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        write_atomic(self.file, text.getvalue().encode())

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        if self.file is None:
            return
        if not self.columns:  # the first epoch: its row says which columns there are
            self._write([row])
            return
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(self.file, flags), "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(row)


def csv_logger(path: str = "metrics.csv") -> Callback:
    """Each epoch's numbers as a CSV file in the run directory (default metrics.csv)."""
    _inside_the_run(path, "path")
    return CSVLogger(path)


def _inside_the_run(path: str, option: str, hint: str = "") -> None:
    """A logger's path: relative to the run directory and inside it (checked again, with links
    resolved, when the run starts)."""
    relative = Path(path)
    if not path or relative.is_absolute() or ".." in relative.parts:
        also = f" ({hint} files)" if hint else ""
        raise ValueError(f"{option} must be a path inside the run directory, not {path!r}{also}")


@hookimpl
def register_callbacks(register):
    register("early_stopping", early_stopping)
    register("stop_at", stop_at)
    register("tensorboard", tensorboard)
    register("csv", csv_logger)
    register("mlflow", mlflow)
