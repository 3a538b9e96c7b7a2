"""What a run prints: the config in one line, a row per epoch, the best epoch at the end, and a
live progress bar per epoch (on stderr, where someone is watching)."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..config import DEFAULT_LOSS, Part, RunConfig
from ..runs import metrics
from ..text import terminal

HEADER = f"  {'epoch':>5}  {'train_loss':>10}  {'val_loss':>8}  {'val_acc':>7}  {'seconds':>7}"


def header(extra: list[str] = ()) -> str:
    """The table's header: zoo's columns, then ``extra`` ones (a chosen metric, the learning
    rate when a scheduler changes it)."""
    return HEADER + "".join(f"  {key:>{max(len(key), 10)}}" for key in extra)


def summary(config: RunConfig) -> str:
    """``model cnn, dataset mnist(path=...), optimizer sgd(lr=0.05), 10 epochs, batch 64...``:
    the run in one line, with its recipe (scheduler, loss, metrics, callbacks, augment,
    --init) when it
    has one beyond the defaults."""

    def part(value: Part) -> str:
        opts = ", ".join(f"{k}={_shown_path(v)}" for k, v in value.options.items())
        return f"{value.name}({opts})" if opts else value.name

    epochs = f"{config.epochs} epoch{'s' * (config.epochs != 1)}"
    shuffled = "shuffled" if config.shuffle else "in order"
    pieces = [
        f"model {part(config.model)}",
        f"dataset {part(config.dataset)}",
        f"optimizer {part(config.optimizer)}",
    ]
    if config.scheduler is not None:
        pieces.append(f"scheduler {part(config.scheduler)}")
    if config.loss != DEFAULT_LOSS:
        pieces.append(f"loss {part(config.loss)}")
    if config.metrics:
        pieces.append("metrics " + ", ".join(part(m) for m in config.metrics))
    if config.callbacks:
        pieces.append("callbacks " + ", ".join(part(c) for c in config.callbacks))
    if config.augment:
        pieces.append("augment " + ", ".join(part(t) for t in config.augment))
    pieces.append(f"{epochs}, batch {config.batch_size} {shuffled}, seed {config.seed}")
    if config.init:
        pieces.append(f"from {config.init}")
    if config.monitor != "val_loss":
        pieces.append(f"best by {config.monitor} ({config.best_mode})")
    if config.precision:
        pieces.append(f"amp {config.precision}")
    if config.cuda_graphs is True:
        pieces.append("cuda_graphs")
    if not config.deterministic:
        pieces.append("NOT deterministic (deterministic: false)")
    return ", ".join(pieces)


def _shown_path(value: Any) -> Any:
    """A full path below the current folder, as the user would type it (the config keeps it
    whole, so that a resume from elsewhere finds it)."""
    if isinstance(value, str) and os.path.isabs(value):
        relative = os.path.relpath(value)
        if not relative.startswith(".."):
            return relative
    return value


def best_text(config: RunConfig, history: list[dict[str, Any]]) -> str:
    """``best val_loss 0.1710 (epoch 10), val_acc 95.06%``: the run's best epoch, by its
    monitor (the one idea of "best" the checkpoint, cards and ``zoo runs`` use)."""
    best = config.best(history)
    if best is None:
        return "no finished epoch"
    monitor = config.monitor
    shown = f"best {monitor} {_number(monitor, best[monitor])} (epoch {best['epoch']})"
    for key in ("val_loss", "val_acc"):
        if key != monitor:
            shown += f", {key} {_number(key, best[key])}"
    return shown


def _number(key: str, value: float) -> str:
    return f"{value:.2%}" if key.endswith("acc") else f"{value:.4f}"


def row_text(row: dict[str, Any], extra: list[str] = ()) -> str:
    text = (
        f"  {row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['val_loss']:>8.4f}  "
        f"{row['val_acc']:>7.2%}  {row['epoch_seconds']:>7.1f}"
    )
    for key in extra:
        value = row.get(key)
        width = max(len(key), 10)
        if key == "lr" and isinstance(value, (int, float)):
            text += f"  {value:>{width}.4g}"
        elif isinstance(value, (int, float)):
            text += f"  {_number(key, value):>{width}}"
        else:
            text += f"  {'-':>{width}}"
    return text


def say(text: str) -> None:
    """A line of the run's story, printed safely: its config may come from a run someone
    shared (``zoo resume``), so names and paths in it are escaped (``zoo.text``)."""
    print(terminal(text), flush=True)


def quiet(text: str) -> None:
    """What a run prints when nobody asked it to (and on ranks other than 0)."""


class Progress:
    """An epoch's progress, for whoever watches: the terminal's bar (``bar``, when someone asked
    for one) and ``progress.json`` in the run directory (``run_dir``: for ``zoo ui``), rewritten
    at most once a second. ``update`` is what the batch loop calls, about 50 times an epoch."""

    def __init__(
        self,
        bar: Bar | None,
        run_dir: Path | None,
        *,
        steps: int,
        epoch: int,
        epochs: int,
        samples: int,
    ) -> None:
        self.bar = bar
        self.dir = run_dir
        self.n = 0
        self.steps = steps
        self.note = {"epoch": epoch, "epochs": epochs, "samples_total": samples}
        self.written = 0.0

    def update(self, n: int, *, loss: float, samples: int, samples_per_s: float) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n, loss=f"{loss:.4f}", samples_per_s=f"{samples_per_s:,.0f}")
        now = time.time()
        if self.dir is not None and (now - self.written >= 1.0 or self.n >= self.steps):
            self.written = now
            note = {"step": self.n, "steps": self.steps, "samples": samples}
            note |= {"train_loss": round(loss, 6), "samples_per_s": round(samples_per_s, 1)}
            if math.isfinite(loss):
                metrics.write_progress(self.dir, self.note | note | {"time": round(now, 3)})

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()


class Bar:
    """A tqdm progress bar on stderr with live postfix values; the trainer makes one only when
    asked (no control characters in logs, and no running loss computed for nobody)."""

    def __init__(self, total: int, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=f"  {label}",
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total}{postfix}",  # tqdm: ", a=1"
        )
        self.n = 0

    def update(self, n: int, **postfix: Any) -> None:
        self.n += n
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.bar.close()
