"""Does ``compile: true`` pay on this machine? zoo's loop with each built-in model, eager and
through ``torch.compile`` (static shapes), in one process, taking turns.

    python benchmarks/compile.py [--samples 20000] [--repeat 3]

Each compiled model is timed from its first epoch (compiling included: what a run pays) and on
its later epochs (what it pays once compiled); the ratios are to the eager loop's epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

import zoo
from zoo.training import loop as train

MODELS = ("logistic", "cnn", "sequential_cnn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(args.samples, 784, generator=generator)
    y = torch.randint(0, 10, (args.samples,), generator=generator)
    data = torch.utils.data.TensorDataset(x, y)
    print(f"# torch {torch.__version__} on {device}, {torch.get_num_threads()} threads")
    print(f"{'model':<16} {'eager/s':>10} {'compiled/s':>11} {'ratio':>6} {'1st epoch':>10}")
    for name in MODELS:
        rates: dict[str, list[float]] = {"eager": [], "compiled": []}
        first = 0.0
        nets = {}
        for label in ("eager", "compiled"):
            torch.manual_seed(0)
            model = zoo.create_model(name).to(device)
            net = torch.compile(model, dynamic=False) if label == "compiled" else model
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            batches = train.Batches(data, 64, device)
            nets[label] = (net, optimizer, batches)
        for turn in range(args.repeat + 1):
            for label, (net, optimizer, batches) in nets.items():
                start = time.perf_counter()
                train.train_epoch(net, optimizer, batches)
                seconds = time.perf_counter() - start
                if turn == 0:
                    if label == "compiled":
                        first = seconds
                    continue
                rates[label].append(args.samples / seconds)
        eager, compiled = (statistics.median(rates[k]) for k in ("eager", "compiled"))
        print(
            f"{name:<16} {eager:>10,.0f} {compiled:>11,.0f} {compiled / eager:>5.2f}x "
            f"{first:>9.1f}s"
        )


if __name__ == "__main__":
    main()
