"""The learning-rate range test (Smith 2015; fastai's ``lr_find``): train a run's model from its
initial weights for a number of steps while the learning rate grows exponentially from ``start``
to ``end``, record the smoothed loss at each rate, stop when it blows up, and suggest a rate
(see :func:`suggest`). It builds the run's parts as a run does (the same seed, data,
augmentation, loss) and writes no run directory."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import RunConfig
from ..errors import ConfigError, ZooError
from ..plugins.manager import Catalog
from .device import amp_dtype, autocast
from .trainer import Trainer

SMOOTHING = 0.98  # the loss's exponential moving average (bias-corrected), as fastai's
BLOW_UP = 4.0  # stop once the smoothed loss is this many times its lowest


@dataclass(frozen=True)
class RangeTest:
    """The rates tried, the smoothed loss at each, and the suggested rate (``None`` when the
    loss never fell)."""

    lrs: list[float]
    losses: list[float]
    suggestion: float | None
    stopped_early: bool


def lr_range_test(
    config: RunConfig,
    catalog: Catalog,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    device: str | None = None,
) -> RangeTest:
    """Run the range test on ``config``'s model, data and optimizer."""
    if not (0 < start < end and math.isfinite(end)):
        raise ConfigError(f"the rates must grow: 0 < start ({start:g}) < end ({end:g})")
    if not 5 <= steps <= 100_000:
        raise ConfigError(f"steps must be from 5 to 100,000, not {steps}")
    trainer = Trainer(config, catalog)
    trainer.prepare(device)
    model, optimizer, criterion = trainer.model, trainer.optimizer, trainer.criterion
    dtype, scaler = amp_dtype(trainer.device, config.amp), trainer.scaler
    ratio = (end / start) ** (1 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    average, lowest = 0.0, math.inf
    model.train()
    batches = iter(())
    for step in range(steps):
        lr = start * ratio**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        try:
            x, y = next(batches)
        except StopIteration:  # another pass over the training data, as long as it takes
            batches = iter(trainer.train_batches)
            x, y = next(batches)
        if trainer.augmenter is not None:
            x = trainer.augmenter(x)
        optimizer.zero_grad(set_to_none=True)
        with autocast(trainer.device, dtype):
            loss = criterion(model(x), y)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:  # fp16: scaled gradients, as a run takes its steps
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        value = loss.item()
        if not math.isfinite(value):
            if not lrs:  # not the rate: the model or its weights already answer with no numbers
                raise ZooError(
                    f"the loss is {value} at the very first step (learning rate {lr:.2g}): the "
                    "model's starting weights (--set init=...) or the data give values that are "
                    "not numbers; nothing to test"
                )
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        smoothed = average / (1 - SMOOTHING ** (step + 1))
        lrs.append(lr)
        losses.append(smoothed)
        lowest = min(lowest, smoothed)
        if step > 5 and smoothed > BLOW_UP * lowest:
            break
    stopped = len(lrs) < steps
    return RangeTest(lrs, losses, suggest(lrs, losses), stopped)


def suggest(lrs: list[float], losses: list[float]) -> float | None:
    """The lower of two usual picks: the rate where the smoothed loss falls fastest against
    log(rate) before its lowest point (the first tenth of the curve left out, being the
    noisiest), and a tenth of the rate at the lowest point (the smoothing lags the loss, so the
    steepest point alone runs high)."""
    if len(losses) < 10:
        return None
    low = min(range(len(losses)), key=losses.__getitem__)
    skip = max(1, len(losses) // 10)
    slopes: list[tuple[float, int]] = []
    for i in range(skip, max(skip, low)):
        step = math.log(lrs[i + 1]) - math.log(lrs[i - 1])
        slopes.append(((losses[i + 1] - losses[i - 1]) / step, i))
    if not slopes:
        return None
    slope, at = min(slopes)
    return min(lrs[at], lrs[low] / 10) if slope < 0 else None
