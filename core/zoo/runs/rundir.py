"""``RunDir``: the one owner of a run folder. Everything else asks it what a run holds (its
config, model description, provenance, history, checkpoints, weights, lock) and what state the
run is in; it reads the files through the checked readers of ``directory``, ``metrics``,
``checkpoints``, ``lock`` and ``provenance``, as strictly as each of them does.

A run's status, one word (:data:`STATUSES`), answered from the files alone (nothing is built,
nothing written, torch imported only for a checkpoint older than the marker's ``stopped``):

    new         nothing written yet (or a run stopped before it wrote its config)
    unfinished  killed or interrupted: ``zoo resume`` continues it
    complete    every planned epoch trained
    stopped     ended early by its own rule (early stopping, ``stop_at``): complete too
    training    a live process holds its lock now
    broken      one of its files is not what zoo writes (the reason says which, in one line)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import ConfigError, ZooError
from . import checkpoints, directory, lock, metrics

STATUSES = ("new", "unfinished", "complete", "stopped", "training", "broken")
#: The statuses of a run with nothing left to train (``zoo resume`` says so and trains nothing).
DONE = ("complete", "stopped")


@dataclass(frozen=True)
class Standing:
    """A run's status (one of :data:`STATUSES`), why, in one line, and its finished epochs."""

    status: str
    reason: str | None = None
    epochs_done: int = 0
    processes: int = 1  # how many trained its last checkpoint (a resume starts as many)
    checkpoint: checkpoints.Checkpoint | None = field(default=None, repr=False, compare=False)
    #: what the status was read from: its config and model.json (``None`` when not read)
    config: RunConfig | None = field(default=None, repr=False, compare=False)
    model_info: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.status if self.reason is None else f"{self.status} ({self.reason})"


class RunDir:
    """The run folder at ``path``. Nothing is read until asked, and every answer is read again
    (a run may be training in another process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir('{self.path}')"

    # --- what the run is ---------------------------------------------------------------------

    @property
    def config(self) -> RunConfig:
        """config.yaml, checked like any config; :class:`zoo.ConfigError` when unreadable."""
        return directory.read_config(self.path)

    @property
    def model_info(self) -> dict[str, Any]:
        """model.json: the model's name and options, its input and classes, every field checked."""
        return directory.read_model_info(self.path)

    @property
    def trained_device(self) -> str | None:
        """The device it last trained on, as env.json says (``None`` when it does not)."""
        return directory.trained_device(self.path)

    @property
    def env(self) -> dict[str, Any]:
        """env.json, ``{}`` when missing or not JSON (a file that is not a regular one inside the
        run, or too large, is refused as ``directory.read_text`` refuses it)."""
        try:
            env = directory.read_json(self.path / directory.ENV)
        except (FileNotFoundError, ValueError):
            return {}
        return env if isinstance(env, dict) else {}

    def outputs(self) -> dict[str, Path]:
        """The run's files that may be copied elsewhere (an experiment tracker's artifacts), by
        name: its curves, config, model description and best epoch's weights, those that
        exist now as regular files inside it."""
        found = {name: self.path / name for name in (directory.CURVES, directory.CONFIG)}
        found[directory.MODEL] = self.path / directory.MODEL
        with contextlib.suppress(ZooError):
            found[checkpoints.BEST] = self.weights("best")
        return {
            name: path for name, path in found.items() if path.is_file() and not path.is_symlink()
        }

    # --- its history -------------------------------------------------------------------------

    def history(self) -> list[dict[str, Any]]:
        """metrics.jsonl's rows (a line cut short by a kill left out)."""
        return metrics.read_metrics(self.path)

    def scan(self, best: Any = None, keep: int = metrics.MAX_SHOWN_ROWS) -> metrics.MetricsScan:
        """A :class:`~zoo.runs.metrics.MetricsScan` of its history, to read incrementally."""
        return metrics.MetricsScan(self.path, best=best, keep=keep)

    def append(self, row: dict[str, Any]) -> None:
        metrics.append_metrics(self.path, row)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        metrics.rewrite_metrics(self.path, rows)

    @property
    def progress(self) -> dict[str, float] | None:
        """How far the epoch in progress is (progress.json), ``None`` when none is."""
        return metrics.read_progress(self.path)

    @property
    def curves(self) -> Path:
        """curves.png: the run's losses and accuracy, redrawn after every epoch."""
        return self.path / directory.CURVES

    def evaluation(self, split: str) -> Any:
        """What ``zoo eval`` wrote of the ``split`` (confusion-SPLIT.json, parsed, unchecked:
        the caller checks it is a matrix), ``None`` when there is none or it is not JSON."""
        try:
            return directory.read_json(self.path / f"confusion-{split}.json")
        except (FileNotFoundError, ValueError, ZooError):
            return None

    # --- its weights -------------------------------------------------------------------------

    def last_checkpoint(self) -> checkpoints.Checkpoint | None:
        return checkpoints.last(self.path)

    def weights(self, which: str = "last") -> Path:
        """The safetensors file of its ``last`` complete checkpoint or its ``best`` epoch."""
        if which not in ("last", "best"):
            raise ConfigError(f"which weights: expected last or best, got {which!r}")
        if which == "best":
            path = directory.run_file(self.path / checkpoints.BEST)  # never a link out of it
        else:
            point = self.last_checkpoint()
            path = point.weights if point is not None else self.path / checkpoints.FOLDER_NAME
        if not path.is_file():
            raise ZooError(f"{self.path} has no {which} weights yet (no epoch finished)")
        return path

    def state(self, point: checkpoints.Checkpoint) -> dict[str, Any]:
        """The training state of ``point``, read with ``weights_only=True`` and checked."""
        return checkpoints.load_state(point)

    def save(self, epoch: int, model: Any, state: dict[str, Any], **how: Any) -> None:
        """Epoch ``epoch``'s checkpoint (see :func:`zoo.runs.checkpoints.save`)."""
        checkpoints.save(self.path, epoch, model, state, **how)

    def tidy(self) -> None:
        """After a restore: checkpoints past the marker (a killed save's) and temp files go."""
        checkpoints.prune(self.path, keep_last=None)
        checkpoints.clear_partial(self.path)

    def restart(self) -> None:
        """Before a run killed in its first epoch starts again: what it had begun to write goes."""
        checkpoints.clear_unfinished(self.path)
        self.rewrite([])

    # --- its start ---------------------------------------------------------------------------

    def write_start(
        self, config: RunConfig, info: dict[str, Any], device: str, plugins: Any = ()
    ) -> None:
        """config.yaml, model.json (``info``) and env.json: what the run is, before its first
        epoch (and again when a resume changes its plan or where its data is)."""
        directory.write_start(self.path, config, info, device, plugins)

    def output_path(self, relative: str | Path, what: str) -> Path:
        """Where a part of the run (a logger) may write: inside it, none of zoo's own files."""
        return directory.output_path(self.path, relative, what)

    def clear_progress(self) -> None:
        metrics.clear_progress(self.path)

    # --- its lock ----------------------------------------------------------------------------

    def lock(self) -> AbstractContextManager[None]:
        """Hold the folder for this process; a second one is refused, saying who holds it."""
        return lock.locked(self.path)

    @property
    def holder(self) -> str | None:
        """Who holds it now (a live process), ``None`` when no one does; nothing is written."""
        return lock.holder(self.path)

    # --- its status --------------------------------------------------------------------------

    @property
    def status(self) -> str:
        return self.check().status

    @property
    def reason(self) -> str | None:
        return self.check().reason

    def check(self) -> Standing:
        """The run's :class:`Standing`: ``training`` while a live process holds it, else what its
        files say (:meth:`standing`)."""
        holder = self.holder
        if holder is None:
            return self.standing()
        files = self.standing()  # what it has written so far (a training run's are readable)
        if files.status == "broken":
            return files
        return replace(files, status="training", reason=holder)

    def standing(self, epochs: int | None = None) -> Standing:
        """What the files say, the lock aside (the trainer holding it asks this): ``epochs``, when
        given, is the plan to judge it by instead of its config's (``zoo resume --epochs``)."""
        path = self.path
        if not path.exists() and not path.is_symlink():
            return Standing("new", "nothing written yet")
        if path.is_symlink() or not path.is_dir():
            return Standing("broken", "not a folder")
        config_file = path / directory.CONFIG
        try:
            if not config_file.exists() and not config_file.is_symlink():
                if directory.is_unstarted(path):
                    return Standing("new", f"no {directory.CONFIG} written yet")
                return Standing("broken", f"not a run directory (no {directory.CONFIG})")
            config, info = self.config, self.model_info
            point = self.last_checkpoint()
            stopped = point.stopped if point is not None else None
            if point is not None and not point.marked:  # an older marker: its state says
                stopped = checkpoints.load_state(point).get("stopped")
        except Exception as exc:  # whatever a shared folder holds: one line saying why
            return Standing("broken", one_line(exc, path))
        planned = epochs or config.epochs
        read = {"config": config, "model_info": info}
        if point is None:
            return Standing("unfinished", f"no epoch of {_epochs(planned)} finished", **read)
        done, world = point.epoch, point.world_size
        if stopped:
            return Standing("stopped", stopped, done, world, point, **read)
        word = "complete" if done >= planned else "unfinished"
        return Standing(word, f"{done} of {_epochs(planned)}", done, world, point, **read)


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' * (count != 1)}"


def one_line(exc: BaseException, run_dir: Path | None = None) -> str:
    """Why a run cannot be read, in one line: zoo's own message (less the run's config path it
    begins with), or what the system said about which of its files."""
    if isinstance(exc, ZooError):
        said = str(exc)
        if run_dir is not None:
            said = said.removeprefix(f"{run_dir / directory.CONFIG} ")
        return said
    if isinstance(exc, OSError):
        named = isinstance(exc.filename, (str, bytes, os.PathLike))
        name = os.path.basename(os.fsdecode(exc.filename)) if named else "files"
        return f"cannot read its {name}: {exc.strerror or exc}"
    if isinstance(exc, RecursionError):
        return "one of its files is nested too deeply"
    return f"one of its files is not what zoo writes ({type(exc).__name__})"


def runs_below(root: Path = directory.RUNS_DIR) -> Iterator[RunDir]:
    """Every run folder below ``root``, oldest first (``directory.find_runs``'s walk)."""
    for path in directory.find_runs(Path(root)):
        yield RunDir(path)
