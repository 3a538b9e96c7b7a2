"""The loop over batches: the tutorial's training loop (one epoch) and its validation loop, made
fast for in-memory data. The epochs around them are the trainer's (``zoo.training.trainer``).

A split that is a ``TensorDataset`` is moved to the device once and batched by slicing (or by a
``randperm`` when shuffling), which is what a hand-written loop does; any other ``Dataset`` goes
through a ``DataLoader``. Same seed, same device -> the same numbers.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ..errors import ConfigError
from ..hookspecs import Metric
from . import distributed
from .device import amp_dtype, autocast


class Batches:
    """(x, y) batches of a split on ``device``: slicing for tensors in memory, else a DataLoader.

    ``shard=(rank, world)`` keeps every ``world``-th sample from ``rank`` on (the same order on
    every rank, so shards are disjoint); ``equal=True`` trims shards to one size, so that every
    rank takes the same number of steps (for training; validation counts every sample once).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        shard: tuple[int, int] = (0, 1),
        equal: bool = False,
    ) -> None:
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.device = device
        self.rank, self.world = shard
        self.dataset = dataset
        self.tensors: tuple[torch.Tensor, ...] | None = None
        if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
            self.tensors = tuple(t.to(device) for t in dataset.tensors)  # moved once
        self.total = len(dataset)  # type: ignore[arg-type]
        self.size = len(range(self.rank, self.total, self.world))
        if equal:
            self.size = self.total // self.world

    def __len__(self) -> int:
        return (self.size + self.batch_size - 1) // self.batch_size

    def _order(self) -> torch.Tensor | None:
        """This rank's sample indices for one epoch (``None``: all, in order)."""
        order = torch.randperm(self.total, generator=self.generator) if self.shuffle else None
        if self.world == 1:
            return order
        order = order if order is not None else torch.arange(self.total)
        return order[self.rank :: self.world][: self.size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        if self.tensors is None:
            data = self.dataset if order is None else Subset(self.dataset, order.tolist())
            # a generator of its own: a DataLoader otherwise draws a seed from the global RNG
            # at each epoch, and dropout's masks would differ from the in-memory path's
            loader = DataLoader(data, batch_size=self.batch_size, generator=torch.Generator())
            for x, y in loader:
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            return
        x, y = self.tensors
        if order is None:
            for start in range(0, self.size, self.batch_size):
                yield x[start : start + self.batch_size], y[start : start + self.batch_size]
            return
        order = order.to(self.device)
        for start in range(0, self.size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield x[index], y[index]


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Batches,
    progress: Any = None,
    amp: bool | str = False,
    scaler: torch.amp.GradScaler | None = None,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    accumulate: int = 1,
    after_step: Callable[[], None] | None = None,
    graph: Any = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """One pass over ``batches``; returns the mean training loss per sample. ``criterion`` is the
    loss (the tutorial's cross-entropy); the gradients of ``accumulate`` batches add up to one
    optimizer step (the epoch's last, shorter group too), after which ``after_step`` runs (a
    scheduler stepped per step). With fp16 ``amp`` pass a ``scaler`` (see grad_scaler). A
    ``graph`` (``zoo.training.graphs.GraphStep``) replays the whole step for the batches of its
    shape; the others are stepped here, eagerly, on the same tensors. ``augment`` (a
    ``zoo.training.augment.Augmenter``) transforms each batch's inputs first."""
    model.train()
    dtype = amp_dtype(batches.device, amp)
    losses, sizes = [], []
    step_every = max(1, len(batches) // 50)  # redraw the bar ~50 times an epoch, not per step
    start = time.perf_counter()
    total = len(batches)
    optimizer.zero_grad(set_to_none=True)
    for i, (x, y) in enumerate(batches, 1):
        if augment is not None:
            x = augment(x)
        replayed = graph.step(x, y) if graph is not None and graph.fits(x, y) else None
        if replayed is not None:  # forward, backward and the optimizer's step, as one graph
            if after_step is not None:
                after_step()
            losses.append(replayed)
            sizes.append(len(y))
            if progress is not None and (i % step_every == 0 or i == total):
                _show(progress, i, losses, sizes, start)
            continue
        with autocast(batches.device, dtype):
            loss = criterion(model(x), y)
        scaled = loss
        if accumulate > 1:  # a share of this step's batches (the epoch's last group may be short)
            scaled = loss / min(accumulate, total - (i - 1) // accumulate * accumulate)
        if scaler is None:
            scaled.backward()
        else:
            scaler.scale(scaled).backward()
        if i % accumulate == 0 or i == total:
            if scaler is None:
                optimizer.step()
            else:  # a step whose scaled gradients overflowed is skipped, and the scale lowered
                scaler.step(optimizer)
                scaler.update()
            optimizer.zero_grad(set_to_none=True)
            if after_step is not None:
                after_step()
        losses.append(loss.detach())  # no .item(): no sync with the device per step
        sizes.append(len(y))
        if progress is not None and (i % step_every == 0 or i == total):
            _show(progress, i, losses, sizes, start)
    if not losses:
        return float("nan")
    if distributed.active():  # the mean over every rank's samples
        weights = torch.tensor(sizes, dtype=losses[0].dtype, device=losses[0].device)
        total_loss, count = distributed.all_sum(torch.stack(losses) @ weights, weights.sum())
        return (total_loss / count).item()
    return _mean(losses, sizes)


def _show(
    progress: Any, i: int, losses: list[torch.Tensor], sizes: list[int], start: float
) -> None:
    """The bar's live loss and speed (one sync with the device, ~50 times an epoch)."""
    rate = sum(sizes) / max(time.perf_counter() - start, 1e-9)
    running = _mean(losses, sizes)
    progress.update(i - progress.n, loss=running, samples=sum(sizes), samples_per_s=rate)


def _mean(losses: list[torch.Tensor], sizes: list[int]) -> float:
    """The mean loss per sample of batches of the given sizes (one sync, at the end)."""
    weights = torch.tensor(sizes, dtype=losses[0].dtype, device=losses[0].device)
    return (torch.stack(losses) @ weights / weights.sum()).item()


def summed(criterion: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss summed over a batch: torch's losses with ``reduction="sum"`` (the same numbers as
    the tutorial's ``F.cross_entropy(..., reduction="sum")``), others as mean times size."""
    if isinstance(criterion, torch.nn.modules.loss._Loss):
        total = copy.copy(criterion)
        total.reduction = "sum"
        return total
    if criterion is F.cross_entropy:
        return lambda out, y: F.cross_entropy(out, y, reduction="sum")
    return lambda out, y: criterion(out, y) * len(y)


def evaluate(
    model: torch.nn.Module,
    batches: Batches,
    amp: bool | str = False,
    criterion: Any = F.cross_entropy,
    metrics: Sequence[Metric] = (),
) -> tuple[float, float]:
    """Mean loss per sample and accuracy over every sample of ``batches``; each of ``metrics``
    is updated with every batch (and summed over the ranks: call ``compute()`` after)."""
    (loss,), acc = evaluate_losses(model, batches, amp, [criterion], metrics)
    return loss, acc


def evaluate_losses(
    model: torch.nn.Module,
    batches: Batches,
    amp: bool | str,
    criteria: Sequence[Any],
    metrics: Sequence[Metric] = (),
) -> tuple[list[float], float]:
    """:func:`evaluate` with several losses in one pass (``zoo eval``'s plain negative
    log-likelihood beside the run's own loss): the mean per sample of each, and the accuracy.
    Each loss is summed exactly as :func:`evaluate` sums it (the same numbers)."""
    model.eval()
    sums = [torch.zeros((), device=batches.device) for _ in criteria]
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    totals = [summed(criterion) for criterion in criteria]
    for metric in metrics:
        metric.reset()
    with torch.inference_mode(), autocast(batches.device, amp_dtype(batches.device, amp)):
        for x, y in batches:
            out = model(x).float()
            for i, total in enumerate(totals):
                sums[i] += total(out, y)
            correct += (out.argmax(dim=1) == y).sum()
            for metric in metrics:
                metric.update(out, y)
    if distributed.active():  # exact over the whole split: each sample on exactly one rank
        for metric in metrics:
            distributed.sum_in_place(*metric.states())
        *sums, correct, count = distributed.all_sum(
            *sums, correct, torch.tensor(float(batches.size), device=correct.device)
        )
        return [(total / count).item() for total in sums], (correct / count).item()
    return [(total / batches.size).item() for total in sums], (correct / batches.size).item()


def check_fits(
    model: torch.nn.Module, data: Dataset, num_classes: int | None, device: torch.device, what: str
) -> None:
    """One forward pass of two samples, before any training or evaluation: a model that cannot
    take the dataset's samples, or gives another number of scores than there are classes, is one
    line naming ``what`` (e.g. ``model 'cnn' on dataset 'mnist'``) instead of a failure mid-epoch.
    In eval mode and without gradients, so no random stream and no statistic moves."""
    if len(data) == 0:  # type: ignore[arg-type]
        raise ConfigError(f"{what}: the dataset has no samples")
    x = torch.stack([torch.as_tensor(data[i][0]) for i in range(min(2, len(data)))]).to(device)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(
            f"{what}: the model cannot take the dataset's samples (rows of "
            f"{x.shape[1]:,} values): {type(exc).__name__}: {reason}"
        ) from exc
    finally:
        model.train(training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(x):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"{what}: the model gives {shape} for {len(x)} samples, not [N, classes]")
    if num_classes is not None and out.shape[1] != num_classes:
        raise ConfigError(
            f"{what}: the model gives {out.shape[1]} scores per sample but the dataset has "
            f"{num_classes} classes (is model.num_classes set?)"
        )
