"""The loop over batches: fast path and DataLoader path agree, runs repeat exactly, devices and
precisions resolve."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import zoo
from zoo.training import device as devices
from zoo.training import loop, randomness


class PlainDataset(Dataset):
    """Not a TensorDataset: takes the DataLoader path."""

    def __init__(self, ds: TensorDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def data(mnist_arrays):
    (x, y), (xv, yv), _ = mnist_arrays(n_train=200, n_valid=50)
    return (
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)),
    )


def fit(train_ds, valid_ds, *, shuffle=True, epochs=2, seed=0, amp=False, scaler=None):
    """The trainer's epochs in miniature: train an epoch, validate, one row per epoch."""
    randomness.seed_everything(seed)
    model = torch.nn.Linear(784, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    cpu, shuffler = torch.device("cpu"), torch.Generator().manual_seed(seed)
    batches = loop.Batches(train_ds, 32, cpu, shuffle=shuffle, generator=shuffler)
    valid = loop.Batches(valid_ds, 64, cpu)
    history = []
    for epoch in range(1, epochs + 1):
        train_loss = loop.train_epoch(model, opt, batches, amp=amp, scaler=scaler)
        val_loss, val_acc = loop.evaluate(model, valid, amp)
        history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc}
        )
    return history, model


def test_it_learns_and_reports_every_metric(mnist_arrays):
    history, _ = fit(*data(mnist_arrays), shuffle=True, epochs=3)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["val_loss"] < history[0]["train_loss"]
    assert history[-1]["val_acc"] > 0.9


def test_fast_path_matches_the_dataloader_path(mnist_arrays):
    train_ds, valid_ds = data(mnist_arrays)
    fast, fast_model = fit(train_ds, valid_ds, shuffle=False)
    slow, slow_model = fit(PlainDataset(train_ds), PlainDataset(valid_ds), shuffle=False)
    for a, b in zip(fast, slow, strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            assert a[key] == pytest.approx(b[key], abs=1e-5)
    torch.testing.assert_close(fast_model.weight, slow_model.weight)


def test_same_seed_same_numbers_other_seed_other_numbers(mnist_arrays):
    train_ds, valid_ds = data(mnist_arrays)
    strip = lambda h: [(r["train_loss"], r["val_loss"], r["val_acc"]) for r in h]  # noqa: E731
    first, _ = fit(train_ds, valid_ds, shuffle=True)
    again, _ = fit(train_ds, valid_ds, shuffle=True)
    other, _ = fit(train_ds, valid_ds, shuffle=True, seed=1)
    assert strip(first) == strip(again)
    assert strip(first) != strip(other)


def test_validation_counts_every_sample_once(mnist_arrays):
    _, valid_ds = data(mnist_arrays)  # 50 samples: batches of 16, 16, 16, 2
    model = torch.nn.Linear(784, 10)
    batches = loop.Batches(valid_ds, 16, torch.device("cpu"))
    loss, acc = loop.evaluate(model, batches)
    x, y = valid_ds.tensors
    with torch.no_grad():
        out = model(x)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(out, y).item(), rel=1e-5)
    assert acc == pytest.approx((out.argmax(1) == y).float().mean().item())


def test_shuffled_batches_cover_every_sample_once_per_epoch():
    ds = TensorDataset(torch.arange(10).float(), torch.arange(10))
    batches = loop.Batches(
        ds, 3, torch.device("cpu"), shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    epoch1 = torch.cat([y for _, y in batches])
    epoch2 = torch.cat([y for _, y in batches])
    assert sorted(epoch1.tolist()) == list(range(10)) == sorted(epoch2.tolist())
    assert epoch1.tolist() != epoch2.tolist()
    assert len(batches) == 4


def test_devices():
    assert devices.select_device("cpu").type == "cpu"
    assert devices.select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(zoo.ConfigError, match="use --device cpu"):
            devices.select_device("cuda")


def test_bf16_mixed_precision_trains_on_the_cpu(mnist_arrays):
    history, model = fit(*data(mnist_arrays), epochs=3, amp=True)
    assert history[-1]["val_acc"] > 0.9
    assert model.weight.dtype == torch.float32  # the weights stay full precision


def test_fp16_mixed_precision_scales_the_loss(mnist_arrays):
    scaler = devices.grad_scaler(torch.device("cpu"), "fp16")
    history, model = fit(*data(mnist_arrays), epochs=3, amp="fp16", scaler=scaler)
    assert history[-1]["val_acc"] > 0.9
    assert model.weight.dtype == torch.float32
    assert scaler.get_scale() > 1  # the loss was scaled (and the state is there to save)
    assert devices.grad_scaler(torch.device("cpu"), "bf16") is None  # bf16 needs no scaling
    assert devices.grad_scaler(torch.device("cpu"), False) is None


def test_amp_precision_per_device(monkeypatch):
    """The device logic of --amp, checked without a GPU (a torch.device needs none)."""
    cpu, cuda, mps = (torch.device(name) for name in ("cpu", "cuda", "mps"))
    assert devices.amp_dtype(cpu, False) is None
    assert devices.amp_dtype(cpu, True) is torch.bfloat16
    assert devices.amp_dtype(cuda, "fp16") is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(zoo.ConfigError, match="this GPU has no bf16; use --amp fp16"):
        devices.amp_dtype(cuda, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert devices.amp_dtype(cuda, "bf16") is torch.bfloat16
    with pytest.raises(zoo.ConfigError, match="not supported on mps"):
        devices.amp_dtype(mps, "fp16")
