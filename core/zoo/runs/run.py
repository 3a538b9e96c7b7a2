"""``zoo.Run``: one training run as Python sees it, what ``zoo.train`` and ``zoo.resume`` return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import RunConfig


@dataclass
class Run:
    """One training run: ``dir`` (its run directory), ``config`` (the resolved config),
    ``history`` (one row per epoch, as in metrics.jsonl) and ``model`` (the trained
    ``nn.Module``)."""

    dir: Path
    config: RunConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None

    @property
    def best(self) -> Mapping[str, Any] | None:
        """The best epoch's row, by the run's ``monitor`` (``None`` before the first)."""
        return self.config.best(self.history)

    def __repr__(self) -> str:
        best, monitor = self.best, self.config.monitor
        shown = f", best {monitor} {best[monitor]:.4f} (epoch {best['epoch']})" if best else ""
        total = self.config.epochs
        epochs = f"{len(self.history)} of {total} epoch{'s' * (total != 1)}"
        return f"Run('{self.dir}', {epochs}{shown})"
