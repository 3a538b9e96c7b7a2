"""What the search engine costs a trial: ``zoo.tune`` of one configuration (a choice of one
value, no pruning) against ``zoo.train`` of the same configuration, the same number of times,
in one process each, on the same data, in one run. The goal (issue 29): under 5% a trial.

    python benchmarks/tune_overhead.py [--mnist data/mnist] [--trials 4] [--epochs 2]

Measured per trial: the wall time of the bare runs, the wall time of the study (its journal
file, its study.json, its trials' reports and checks), and the ratio. The model is the
tutorial's logistic regression, where a trial is short and what is around it shows most.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CODE = r"""
import json, sys, time, zoo
how, mnist, out = sys.argv[1], sys.argv[2], sys.argv[5]
trials, epochs = int(sys.argv[3]), int(sys.argv[4])
fixed = {"dataset.format": "idx", "dataset.path": mnist, "optimizer.lr": 0.2}
zoo.train("logistic", overrides=fixed, epochs=1, out=out + "/warm")  # data cached, imports done
start = time.perf_counter()
if how == "bare":
    for i in range(trials):
        zoo.train("logistic", overrides=fixed, epochs=epochs, out=f"{out}/bare-{i}")
else:
    texts = [f"{k}={v}" for k, v in fixed.items() if k != "optimizer.lr"]
    zoo.tune("logistic", ["optimizer.lr=choice(0.2)"], trials=trials, epochs=epochs,
             overrides=texts, out=out + "/study", pruner="none")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def measure(how: str, mnist: str, trials: int, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", CODE, how, mnist, str(trials), str(epochs),
                               out], capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mnist", default="data/mnist")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    bare = measure("bare", args.mnist, args.trials, args.epochs)
    tuned = measure("tune", args.mnist, args.trials, args.epochs)
    n = args.trials
    print(f"{n} runs of logistic, {args.epochs} epochs each, real MNIST")
    print(f"  bare zoo.train      {bare / n:7.2f} s a run     1.000x")
    print(f"  zoo.tune, a trial   {tuned / n:7.2f} s a trial   {tuned / bare:.3f}x "
          f"(overhead {100 * (tuned / bare - 1):+.1f}%, goal < 5%)")  # fmt: skip


if __name__ == "__main__":
    main()
