"""zoo's training loop against a hand-written slicing loop, in one process, taking turns.

    python benchmarks/loop_overhead.py [--repeat 5] [--pickle data/fashion-mnist.pkl.gz]

benchmarks/speed.py measures whole processes, where this VM's noise (a fresh process runs the
same loop 30% faster or slower than the last) hides differences of a few percent. Here both loops
train the same model on the same tensors, epoch about epoch, so that what is left is the cost of
zoo's loop itself (``zoo.training.loop.train_epoch`` over ``zoo.training.loop.Batches``) per step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import zoo
from zoo.training import loop as train

CASES = {"logistic": {"lr": 0.5}, "cnn": {"lr": 0.05, "momentum": 0.9}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pickle", default="data/fashion-mnist.pkl.gz")
    parser.add_argument("--samples", type=int, default=20_000, help="per epoch")
    args = parser.parse_args()
    if not Path(args.pickle).is_file():
        sys.exit(f"{args.pickle} not found: run python benchmarks/fashion_mnist_pickle.py first")
    splits = zoo.create_dataset("mnist", path=args.pickle, progress=False)
    x, y = (t[: args.samples] for t in splits.train.tensors)
    data = torch.utils.data.TensorDataset(x, y)
    print(
        f"{'model (median of ' + str(args.repeat) + ')':<28} {'floor/s':>10} {'zoo/s':>10}  ratio"
    )
    for name, options in CASES.items():
        model = zoo.create_model(name)
        optimizer = zoo.create_optimizer("sgd", model.parameters(), **options)
        batches = train.Batches(data, 64, torch.device("cpu"))

        def floor(model=model, optimizer=optimizer) -> None:
            for i in range(0, len(x), 64):
                loss = F.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

        # the loss a default run uses: the registered cross_entropy (an nn.CrossEntropyLoss)
        criterion = zoo.api.current().registries["losses"].get("cross_entropy").create()

        def zoo_loop(model=model, optimizer=optimizer, batches=batches, criterion=criterion):
            train.train_epoch(model, optimizer, batches, criterion=criterion)

        floor()  # both measured warm
        rates: dict[str, list[float]] = {"floor": [], "zoo": []}
        turns = [("floor", floor), ("zoo", zoo_loop)]
        for _ in range(args.repeat):
            turns.reverse()  # each goes first half the time
            for label, loop in turns:
                start = time.perf_counter()
                loop()
                rates[label].append(len(x) / (time.perf_counter() - start))
        a, b = statistics.median(rates["floor"]), statistics.median(rates["zoo"])
        print(f"{name:<28} {a:>10,.0f} {b:>10,.0f}  {b / a:.2f}x")


if __name__ == "__main__":
    main()
