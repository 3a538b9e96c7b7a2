"""What augmentation costs: the training throughput of the same run with and without each
augmentation (one epoch each, in memory, on the official MNIST files), and the time of the
transforms alone on a batch, on this machine, in one run.

    python benchmarks/augment.py [--mnist data/mnist] [--epochs 1]

The ratio is the throughput with augmentation over the same run's without (1.00x: free).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import zoo

CASES = {
    "none": [],
    "random_affine (bn_cnn's)": [
        {"name": "random_affine", "degrees": 10, "translate": 0.1, "scale": 0.1}
    ],
    "flip + translate + erasing (bn_cnn_fashion's)": [
        {"name": "random_flip"},
        {"name": "random_translate", "pixels": 2},
        {"name": "random_erasing"},
    ],
}


def throughput(run: str, mnist: Path, augment: list, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        result = zoo.train(
            run,
            overrides={"dataset.path": str(mnist), "dataset.name": "mnist", "augment": augment},
            epochs=epochs,
            out=Path(folder) / "run",
        )
    return sum(r["samples_per_s"] for r in result.history) / len(result.history)


def transform_time(augment: list, batch: int = 128, repeat: int = 200) -> float:
    """Milliseconds the transforms take on one batch of 28x28 images."""
    transforms = [
        zoo.create_transform(t["name"], **{k: v for k, v in t.items() if k != "name"})
        for t in augment
    ]
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 1, 28, 28)
    start = time.perf_counter()
    for _ in range(repeat):
        x = images
        for transform in transforms:
            x = transform(x, generator)
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=Path("data/mnist"))
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    for run in ("bn_cnn", "logistic"):
        base = None
        print(f"{run}: training samples/s over {args.epochs} epoch(s), batch of its run")
        for label, augment in CASES.items():
            rate = throughput(run, args.mnist.resolve(), augment, args.epochs)
            base = base or rate
            ms = transform_time(augment) if augment else 0.0
            print(
                f"  {label:<48} {rate:10,.0f}  {rate / base:5.2f}x   transforms {ms:5.2f} ms"
                " per batch of 128"
            )


if __name__ == "__main__":
    main()
