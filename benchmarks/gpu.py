"""zoo on a GPU, in one prepared run: speed against hand-written loops, then the cuda tests.

    python benchmarks/gpu.py                # on a CUDA machine: the table, then pytest -m cuda
    python benchmarks/gpu.py --dry-run      # anywhere: every case, tiny, on the CPU (no graphs)

The tutorial's CNN at batch 64 on 50,000 MNIST-shaped samples held on the GPU, each case timed
over its second epoch (the first warms up kernels, caches and captures), in one process, so the
ratios compare like with like:

    hand eager      randperm + slicing + SGD(momentum): the floor of an eager loop
    hand graph      the same step captured once with torch.cuda.graph and replayed
    zoo eager       zoo.training.loop.train_epoch over Batches (what zoo run does)
    zoo graphs      the same with cuda_graphs (zoo.training.graphs.GraphStep)
    tutorial        the tutorial's loop: DataLoader, .to(dev) per batch
    lightning       a LightningModule with a DataLoader, as its users write it (if installed)
    bf16            hand eager and zoo eager under autocast(bfloat16)
    compile         zoo eager with torch.compile(model), static shapes
    batch 512       hand eager and zoo eager at batch 512

Ratios are to ``hand eager`` of the same batch size and precision. Runs in about two minutes on
an H200; the whole script stays under five.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import zoo
from zoo.training import graphs
from zoo.training import loop as train

ROOT = Path(__file__).resolve().parents[1]


def data(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, 784, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return x.to(device), y.to(device)


def model_and_optimizer(device: torch.device, **options) -> tuple[torch.nn.Module, torch.optim.SGD]:
    torch.manual_seed(0)
    model = zoo.create_model("cnn").to(device)
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, **options)


def timed(epoch: Callable[[], None], samples: int, device: torch.device) -> float:
    """Samples per second of the second call (the first warms up)."""
    epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - start)


def hand_eager(x, y, batch, device, dtype=None) -> float:
    model, optimizer = model_and_optimizer(device)
    generator = torch.Generator(device=device).manual_seed(0)

    def epoch() -> None:
        order = torch.randperm(len(x), device=device, generator=generator)
        for i in range(0, len(x), batch):
            index = order[i : i + batch]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return timed(epoch, len(x), device)


def hand_graph(x, y, batch, device) -> float:
    model, optimizer = model_and_optimizer(device)
    static_x, static_y = x[:batch].clone(), y[:batch].clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(static_x), static_y).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = F.cross_entropy(model(static_x), static_y)
        static_loss.backward()
        optimizer.step()
    generator = torch.Generator(device=device).manual_seed(0)
    full = len(x) // batch * batch

    def epoch() -> None:
        order = torch.randperm(len(x), device=device, generator=generator)
        for i in range(0, full, batch):
            index = order[i : i + batch]
            static_x.copy_(x[index])
            static_y.copy_(y[index])
            graph.replay()

    return timed(epoch, full, device)


def zoo_loop(x, y, batch, device, *, amp=False, graph=False, compile=False) -> float:
    model, optimizer = model_and_optimizer(device)
    generator = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(x, y)
    batches = train.Batches(data, batch, device, shuffle=True, generator=generator)
    step = None
    if graph:
        dtype = zoo.training.device.amp_dtype(device, amp) if amp else None
        step = graphs.GraphStep(model, optimizer, F.cross_entropy, dtype)
    net = torch.compile(model, dynamic=False) if compile else model

    def epoch() -> None:
        train.train_epoch(net, optimizer, batches, amp=amp, graph=step)

    rate = timed(epoch, len(x), device)
    if step is not None and step.failed:
        raise RuntimeError(f"the graph was not captured: {step.failed}")
    return rate


def tutorial(x, y, batch, device) -> float:
    model, optimizer = model_and_optimizer(device)
    data = torch.utils.data.TensorDataset(x.cpu(), y.cpu())
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True)

    def epoch() -> None:
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    return timed(epoch, len(x), device)


def lightning(x, y, batch, device) -> float:
    import lightning as L  # noqa: N812 (Lightning's own spelling)

    model, _ = model_and_optimizer(device)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def training_step(self, b, _):
            return F.cross_entropy(self.net(b[0]), b[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    data = torch.utils.data.TensorDataset(x.cpu(), y.cpu())
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True)
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    trainer = L.Trainer(
        max_epochs=2,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(Module(), loader)
    return 2 * len(x) / (time.perf_counter() - start)  # both epochs: its warm-up is its own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="tiny, on the CPU: checks the script"
    )
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--no-tests", action="store_true", help="the table only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        sys.exit("benchmarks/gpu.py needs a CUDA device (--dry-run checks it on the CPU)")
    device = torch.device("cuda" if cuda else "cpu")
    samples = args.samples if cuda else 2_048
    name = torch.cuda.get_device_name() if cuda else "cpu (dry run)"
    today = datetime.date.today().isoformat()
    print(f"# zoo on {name}, torch {torch.__version__}, CUDA {torch.version.cuda}, {today}")
    if cuda:  # zoo's runs are deterministic by default: measured the same way
        zoo.training.device.make_deterministic(device, True)
    x, y = data(samples, device)
    bf16 = torch.bfloat16
    cases: list[tuple[str, str, Callable[[], float]]] = [
        ("hand eager", "64", lambda: hand_eager(x, y, 64, device)),
        ("hand graph", "64", lambda: hand_graph(x, y, 64, device)),
        ("zoo eager", "64", lambda: zoo_loop(x, y, 64, device)),
        ("zoo graphs", "64", lambda: zoo_loop(x, y, 64, device, graph=True)),
        ("tutorial", "64", lambda: tutorial(x, y, 64, device)),
        ("lightning", "64", lambda: lightning(x, y, 64, device)),
        ("hand eager", "64 bf16", lambda: hand_eager(x, y, 64, device, bf16)),
        ("zoo eager", "64 bf16", lambda: zoo_loop(x, y, 64, device, amp="bf16")),
        ("zoo graphs", "64 bf16", lambda: zoo_loop(x, y, 64, device, amp="bf16", graph=True)),
        ("zoo compile", "64", lambda: zoo_loop(x, y, 64, device, compile=True)),
        ("hand eager", "512", lambda: hand_eager(x, y, 512, device)),
        ("zoo eager", "512", lambda: zoo_loop(x, y, 512, device)),
        ("zoo graphs", "512", lambda: zoo_loop(x, y, 512, device, graph=True)),
    ]
    baselines: dict[str, float] = {}
    print(f"{'case':<14} {'batch':<9} {'samples/s':>12}  vs hand eager")
    for label, batch, case in cases:
        if "graph" in label and not cuda:
            print(f"{label:<14} {batch:<9} {'-':>12}  (needs CUDA)")
            continue
        try:
            rate = case()
        except ImportError as exc:
            print(f"{label:<14} {batch:<9} {'-':>12}  (not installed: {exc.name})")
            continue
        except Exception as exc:  # one case failing says why and the rest go on
            reason = " ".join(str(exc).split())[:120]
            print(f"{label:<14} {batch:<9} {'failed':>12}  {type(exc).__name__}: {reason}")
            continue
        if label == "hand eager":
            baselines[batch] = rate
        ratio = rate / baselines[batch] if batch in baselines else float("nan")
        print(f"{label:<14} {batch:<9} {rate:>12,.0f}  {ratio:.2f}x", flush=True)
    if args.no_tests:
        return
    tests = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider"]
    print(f"\n$ {' '.join(tests[1:])}", flush=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    sys.exit(subprocess.run([*tests, str(ROOT / "tests")], cwd=ROOT, env=env).returncode)


if __name__ == "__main__":
    main()
