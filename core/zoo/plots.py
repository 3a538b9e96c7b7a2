"""Pictures of runs and data, drawn with matplotlib's Agg backend (no display needed): a run's
loss and accuracy curves, several runs compared, and a grid of labelled samples."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cache


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # no pyplot: safe in a background thread, no display
    return figure


def _save(figure, path: Path) -> Path:
    with cache.atomic(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def curves(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """train and val loss, and val accuracy, per epoch."""
    return compare({title: history}, path)


def compare(histories: dict[str, Sequence[dict[str, Any]]], path: Path) -> Path:
    """Each run's train loss (dashed) and val loss (solid) on the left, val accuracy right."""
    figure = _figure(10, 4)
    loss, acc = figure.subplots(1, 2)
    for index, (label, history) in enumerate(histories.items()):
        color = f"C{index % 10}"
        epochs = [row["epoch"] for row in history]
        loss.plot(
            epochs,
            [r["train_loss"] for r in history],
            "--",
            color=color,
            label=f"{label} train" if len(histories) > 1 else "train",
        )
        loss.plot(
            epochs,
            [r["val_loss"] for r in history],
            "-o",
            color=color,
            markersize=3,
            label=f"{label} val" if len(histories) > 1 else "val",
        )
        acc.plot(
            epochs,
            [100 * r["val_acc"] for r in history],
            "-o",
            color=color,
            markersize=3,
            label=label or "val",
        )
    loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    for axes in (loss, acc):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        axes.xaxis.get_major_locator().set_params(integer=True)
    if len(histories) == 1 and next(iter(histories)):
        figure.suptitle(next(iter(histories)), fontsize="small")
    return _save(figure, path)


def samples(images: Sequence[Any], labels: Sequence[str], path: Path, columns: int = 8) -> Path:
    """A grid of 28x28 images (rows of 784 floats, as the seed's ``imshow``) with their labels."""
    rows = (len(images) + columns - 1) // columns
    figure = _figure(columns * 1.2, rows * 1.35)
    for i, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        axes.axis("off")
        if i < len(images):
            axes.imshow(images[i].reshape(28, 28), cmap="gray")
            axes.set_title(labels[i], fontsize=8)
    return _save(figure, path)


def main() -> None:
    """The helper a run draws its curves with: one JSON request per line on stdin,
    ``{"path", "title", "history"}``; only the newest waiting request is drawn."""
    import json
    import os
    import select
    import sys

    with contextlib.suppress(OSError):
        os.nice(10)  # the training process comes first
    import matplotlib  # noqa: F401  (imported now, while the run loads its data)

    for line in sys.stdin:
        while select.select([sys.stdin], [], [], 0)[0]:  # skip to the newest request
            newer = sys.stdin.readline()
            if not newer:
                break
            line = newer
        request = json.loads(line)
        with contextlib.suppress(Exception):
            curves(request["history"], Path(request["path"]), title=request["title"])


if __name__ == "__main__":
    main()
