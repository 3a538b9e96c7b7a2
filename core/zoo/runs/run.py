"""``zoo.Run``: one training run as Python sees it, what ``zoo.train``, ``zoo.resume`` and
``zoo.open_run`` return. Its folder is a :class:`~zoo.runs.rundir.RunDir` (``run.files``); its
status needs no model, and the model is built the first time it is asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import RunConfig
from .rundir import RunDir, Standing


class Run:
    """One training run: ``dir`` (its run directory), ``status`` (``new``, ``unfinished``,
    ``complete``, ``stopped``, ``training`` or ``broken``) and ``reason`` (why, in one line),
    ``config`` (the resolved config), ``history`` (one row per epoch, as in metrics.jsonl) and
    ``model`` (the trained ``nn.Module``, built when first asked for). A broken run opens; the
    part of it that is broken (its ``config``, its ``model``) raises :class:`zoo.ZooError`."""

    def __init__(
        self,
        dir: str | Path | None,
        config: RunConfig | None = None,
        history: list[dict[str, Any]] | None = None,
        model: Any = None,
        *,
        build: Callable[[Path], Any] | None = None,
    ) -> None:
        # a rank other than 0 of a distributed run knows no run directory
        self.files = RunDir(dir) if dir is not None else None
        self._config = config
        self._history = history
        self._model = model
        self._build = build

    @property
    def dir(self) -> Path | None:
        return self.files.path if self.files is not None else None

    @property
    def standing(self) -> Standing:
        return self.files.check()

    @property
    def status(self) -> str:
        return self.standing.status

    @property
    def reason(self) -> str | None:
        return self.standing.reason

    @property
    def config(self) -> RunConfig:
        if self._config is None:
            self._config = self.files.config
        return self._config

    @property
    def history(self) -> list[dict[str, Any]]:
        if self._history is None:
            self._history = self.files.history()
        return self._history

    @property
    def model(self) -> Any:
        if self._model is None and self._build is not None:
            self._model = self._build(self.dir)
        return self._model

    @property
    def best(self) -> Mapping[str, Any] | None:
        """The best epoch's row, by the run's ``monitor`` (``None`` before the first)."""
        return self.config.best(self.history)

    def __repr__(self) -> str:
        standing = self.standing
        if standing.status in ("broken", "new"):
            return f"Run('{self.dir}', {standing})"
        best, monitor = self.best, self.config.monitor
        shown = f", best {monitor} {best[monitor]:.4f} (epoch {best['epoch']})" if best else ""
        total = self.config.epochs
        epochs = f"{len(self.history)} of {total} epoch{'s' * (total != 1)}"
        return f"Run('{self.dir}', {standing.status}, {epochs}{shown})"
