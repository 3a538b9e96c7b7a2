"""Learning-rate schedules from ``torch.optim.lr_scheduler``, registered through
``register_schedulers`` like any plugin's. Each says whether the trainer steps it after every
epoch or after every optimizer step (``interval``); its state goes into every checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

from ...hookspecs import hookimpl
from . import auto_mode


def _require(conditions: dict[str, bool]) -> None:
    """A schedule's options out of range are one line (ValueError), never a negative learning
    rate or a division by zero in the middle of a run."""
    bad = [name for name, ok in conditions.items() if not ok]
    if bad:
        raise ValueError(f"out of range: {', '.join(bad)}")


def step(optimizer: Any, step_size: int = 10, gamma: float = 0.1) -> Any:
    """Multiply the learning rate by gamma every step_size epochs."""
    import torch

    _require({"step_size >= 1": step_size >= 1, "gamma > 0": gamma > 0})
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


def multistep(
    optimizer: Any, epochs: int = 10, milestones: list[int] | None = None, gamma: float = 0.1
) -> Any:
    """Multiply the learning rate by gamma at each milestone epoch (default: 50% and 75%)."""
    import torch

    milestones = milestones or [max(1, epochs // 2), max(1, epochs * 3 // 4)]
    _require({"milestones >= 1": all(m >= 1 for m in milestones), "gamma > 0": gamma > 0})
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=gamma)


def cosine(
    optimizer: Any,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float = 0.0,
    min_lr: float = 0.0,
) -> Any:
    """Cosine decay to min_lr over the run, per step, after an optional linear warm-up."""
    import torch

    if warmup_epochs < 0 or warmup_epochs >= epochs:
        raise ValueError(f"warmup_epochs must be in [0, epochs={epochs}), not {warmup_epochs}")
    _require({"min_lr >= 0": min_lr >= 0 and math.isfinite(min_lr)})
    total = max(1, epochs * steps_per_epoch)
    warmup = round(warmup_epochs * steps_per_epoch)
    bases = [group["lr"] for group in optimizer.param_groups]

    def factor(i: int, base: float) -> float:
        if i < warmup:
            return (i + 1) / warmup
        progress = min(1.0, (i - warmup) / max(1, total - warmup))
        floor = min_lr / base if base else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    lambdas = [lambda i, b=b: factor(i, b) for b in bases]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def onecycle(
    optimizer: Any,
    epochs: int,
    steps_per_epoch: int,
    max_lr: float | None = None,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Any:
    """The one-cycle policy, per step: up to max_lr (default: the optimizer's lr), then down."""
    import torch

    _require(
        {
            "max_lr > 0": max_lr is None or (max_lr > 0 and math.isfinite(max_lr)),
            "0 < pct_start < 1": 0 < pct_start < 1,
            "div_factor > 0": div_factor > 0,
            "final_div_factor > 0": final_div_factor > 0,
        }
    )
    peak = max_lr if max_lr is not None else [g["lr"] for g in optimizer.param_groups]
    # torch divides by the warm-up's length, pct_start x steps - 1: zero when they make exactly
    # one step (a small dataset's 4 steps at 0.25); half a step more then, not a traceback
    total = epochs * steps_per_epoch
    if total >= 2 and abs(pct_start * total - 1) < 1e-9:
        pct_start = 1.5 / total
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=peak,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
    )


def reduce_on_plateau(
    optimizer: Any,
    monitor: str = "val_loss",
    mode: str = "auto",
    factor: float = 0.1,
    patience: int = 2,
    threshold: float = 1e-4,
    min_lr: float = 0.0,
) -> Any:
    """Multiply the learning rate by factor when monitor has not improved for patience epochs."""
    import torch

    mode = auto_mode(monitor, mode)
    _require(
        {
            "0 < factor < 1": 0 < factor < 1,
            "patience >= 0": patience >= 0,
            "threshold >= 0": threshold >= 0,
            "min_lr >= 0": min_lr >= 0,
        }
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold, min_lr=min_lr
    )
    scheduler.monitor = monitor  # the metrics row's key the trainer steps it with
    return scheduler


@hookimpl
def register_schedulers(register):
    register("step", step, interval="epoch")
    register("multistep", multistep, interval="epoch")
    register("cosine", cosine, interval="step")
    register("onecycle", onecycle, interval="step")
    register("reduce_on_plateau", reduce_on_plateau, interval="epoch")
