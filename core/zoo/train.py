"""fit / evaluate: the seed's training loop with validation, made fast for in-memory data.

A split that is a ``TensorDataset`` is moved to the device once and batched by slicing (or by a
``randperm`` when shuffling), which is what a hand-written loop does; any other ``Dataset`` goes
through a ``DataLoader``. Same seed, same device -> the same numbers.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from . import distributed
from .errors import ConfigError, ZooError

Progress = Callable[[int, str], Any]  # (number of batches, label) -> context with .update(n)


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' is not available here: use --device cpu (or auto)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' is not available here: use --device cpu (or auto)")
    return device


def set_threads(threads: int | str, device: torch.device) -> int:
    """CPU threads for training: ``auto`` keeps torch's choice, a number sets it (on a small
    machine, 1 thread can beat 2 on these small batches: benchmarks/speed.py measures both)."""
    if threads != "auto":
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    with contextlib.suppress(ImportError):
        import numpy

        numpy.random.seed(seed % 2**32)


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
            for x, y in DataLoader(data, batch_size=self.batch_size):
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


class Diverged(ZooError):
    """The loss became NaN or infinite."""


AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(device: torch.device, amp: bool | str) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``: false -> none (full precision), true or
    ``bf16`` -> bfloat16, ``fp16`` -> float16; a device that cannot is a clear error."""
    if not amp:
        return None
    name = "bf16" if amp is True else amp
    if name not in AMP:
        raise ConfigError(f"amp: expected true, false, bf16 or fp16, got {amp!r}")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"amp: not supported on {device.type}; run without --amp")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("amp: this GPU has no bf16; use --amp fp16 (or run without --amp)")
    return AMP[name]


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """Mixed precision in ``dtype`` (weights stay float32); ``None``: full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, amp: bool | str) -> torch.amp.GradScaler | None:
    """fp16 training needs its loss scaled (small gradients underflow in float16); bf16 has
    float32's range and needs none."""
    if amp_dtype(device, amp) is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Batches,
    progress: Any = None,
    amp: bool | str = False,
    scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One pass over ``batches``; returns the mean training loss per sample. With fp16 ``amp``
    pass a ``scaler`` (see grad_scaler)."""
    model.train()
    dtype = amp_dtype(batches.device, amp)
    losses, sizes = [], []
    step_every = max(1, len(batches) // 50)  # redraw the bar ~50 times an epoch, not per step
    start = time.perf_counter()
    for i, (x, y) in enumerate(batches, 1):
        with autocast(batches.device, dtype):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:  # a step whose scaled gradients overflowed is skipped, and the scale lowered
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        losses.append(loss.detach())  # no .item(): no sync with the device per step
        sizes.append(len(y))
        if progress is not None and (i % step_every == 0 or i == len(batches)):
            seen = sum(sizes)
            rate = seen / max(time.perf_counter() - start, 1e-9)
            running = _mean(losses, sizes)
            progress.update(i - progress.n, loss=f"{running:.4f}", samples_per_s=f"{rate:,.0f}")
    if not losses:
        return float("nan")
    if distributed.active():  # the mean over every rank's samples
        weights = torch.tensor(sizes, dtype=losses[0].dtype, device=losses[0].device)
        total, count = distributed.all_sum(torch.stack(losses) @ weights, weights.sum())
        return (total / count).item()
    return _mean(losses, sizes)


def _mean(losses: list[torch.Tensor], sizes: list[int]) -> float:
    """The mean loss per sample of batches of the given sizes (one sync, at the end)."""
    weights = torch.tensor(sizes, dtype=losses[0].dtype, device=losses[0].device)
    return (torch.stack(losses) @ weights / weights.sum()).item()


def evaluate(
    model: torch.nn.Module, batches: Batches, amp: bool | str = False
) -> tuple[float, float]:
    """Mean cross-entropy per sample and accuracy over every sample of ``batches``."""
    model.eval()
    loss_sum = torch.zeros((), device=batches.device)
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    with torch.inference_mode(), autocast(batches.device, amp_dtype(batches.device, amp)):
        for x, y in batches:
            out = model(x).float()
            loss_sum += F.cross_entropy(out, y, reduction="sum")
            correct += (out.argmax(dim=1) == y).sum()
    if distributed.active():  # exact over the whole split: each sample on exactly one rank
        loss_sum, correct, count = distributed.all_sum(
            loss_sum, correct, torch.tensor(float(batches.size), device=loss_sum.device)
        )
        return (loss_sum / count).item(), (correct / count).item()
    return (loss_sum / batches.size).item(), (correct / batches.size).item()


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Dataset,
    valid: Dataset,
    *,
    epochs: int,
    batch_size: int,
    valid_batch_size: int | None = None,
    shuffle: bool = True,
    device: torch.device | str = "cpu",
    seed: int = 0,
    shuffler: torch.Generator | None = None,
    history: list[dict[str, Any]] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Progress | None = None,
    amp: bool | str = False,
    scaler: torch.amp.GradScaler | None = None,
) -> list[dict[str, Any]]:
    """Train until ``epochs`` and validate after each; returns one metrics dict per epoch.

    ``history`` holds the rows of epochs already done (a resumed run starts after them) and
    ``shuffler`` the generator the training order is drawn from (its own stream, so that model
    initialisation does not move it; a resumed run passes it restored), as it does the fp16
    loss ``scaler`` (made here when not given).
    """
    device = torch.device(device)
    scaler = scaler if scaler is not None else grad_scaler(device, amp)
    shuffler = shuffler if shuffler is not None else torch.Generator().manual_seed(seed)
    shard = (distributed.rank(), distributed.world_size())
    per_rank = max(1, batch_size // shard[1])  # the global batch stays batch_size
    train_batches = Batches(
        train, per_rank, device, shuffle=shuffle, generator=shuffler, shard=shard, equal=True
    )
    valid_batches = Batches(valid, valid_batch_size or batch_size * 2, device, shard=shard)
    history = list(history or [])
    for epoch in range(len(history) + 1, epochs + 1):
        start = time.perf_counter()
        bar = progress(len(train_batches), f"epoch {epoch}/{epochs}") if progress else None
        with bar if bar is not None else contextlib.nullcontext():
            train_loss = train_epoch(model, optimizer, train_batches, bar, amp, scaler)
        train_seconds = time.perf_counter() - start
        val_loss, val_acc = evaluate(model, valid_batches, amp)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            bad = train_loss if not math.isfinite(train_loss) else val_loss
            lr = optimizer.param_groups[0].get("lr")
            raise Diverged(
                f"the loss became {bad} in epoch {epoch}: the learning rate ({lr}) "
                "is probably too high, try --set optimizer.lr=... (the last good "
                "checkpoint is kept)"
            )
        row = {
            "epoch": epoch,
            "train_loss": round(train_loss, 6),
            "val_loss": round(val_loss, 6),
            "val_acc": round(val_acc, 6),
            "epoch_seconds": round(time.perf_counter() - start, 3),
            "samples_per_s": round(train_batches.size * shard[1] / train_seconds, 1),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
    return history
