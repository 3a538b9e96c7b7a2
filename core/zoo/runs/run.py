"""``zoo.Run``: one training run as Python sees it, what ``zoo.train`` and ``zoo.resume`` return."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Run:
    """One training run: ``dir`` (its run directory), ``config`` (the resolved config),
    ``history`` (one row per epoch, as in metrics.jsonl) and ``model`` (the trained
    ``nn.Module``)."""

    dir: Path
    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None

    @property
    def best(self) -> dict[str, Any] | None:
        """The row of the epoch with the lowest ``val_loss`` (``None`` before the first)."""
        return min(self.history, key=lambda row: row["val_loss"]) if self.history else None

    def __repr__(self) -> str:
        best = self.best
        shown = f", best val_loss {best['val_loss']:.4f} (epoch {best['epoch']})" if best else ""
        epochs = f"{len(self.history)} of {self.config.get('epochs')} epochs"
        return f"Run('{self.dir}', {epochs}{shown})"
