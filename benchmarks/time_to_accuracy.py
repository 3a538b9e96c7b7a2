"""Wall time from process start to 99.0% MNIST validation accuracy: ``zoo run mnist_fast``
against PyTorch's examples/mnist recipe (``benchmarks/examples_mnist.py``), on the same data (the
official MNIST files, ``python benchmarks/mnist_idx.py``), on this machine, in one run.

    python benchmarks/time_to_accuracy.py [--mnist data/mnist] [--repeat 1] [--device cpu]

Each case is a fresh process, timed from just before it is started: zoo's time is when the
metrics line of the first epoch at the target lands in its run directory (``mnist_fast`` stops
there: its ``stop_at`` callback), the recipe's when it prints that epoch (it exits there too).
The ratio is zoo's time over the recipe's (the issue's goal: at most 0.2x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def zoo_time(mnist: Path, target: float, device: str) -> tuple[float, float, int]:
    """(seconds to the first metrics row at ``target``, its val_acc, its epoch)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-m", "zoo", "run", "mnist_fast", "--no-progress"]
        command += ["--set", f"dataset.path={mnist}", "--out", str(out), "--device", device]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        reached = None
        while reached is None:
            metrics = out / "metrics.jsonl"
            if metrics.is_file():
                for line in metrics.read_text().splitlines():
                    row = json.loads(line)
                    if row["val_acc"] >= target:
                        reached = (time.perf_counter() - start, row["val_acc"], row["epoch"])
                        break
            if reached is None and process.poll() is not None:
                output = process.stdout.read().decode()
                raise SystemExit(f"zoo run mnist_fast ended below {target}:\n{output}")
            time.sleep(0.05)
        process.wait()
        return reached


def examples_time(mnist: Path, target: float, device: str) -> tuple[float, float, int]:
    command = [sys.executable, str(HERE / "examples_mnist.py"), str(mnist), "--device", device]
    start = time.perf_counter()
    process = subprocess.Popen(
        command + ["--target", str(target)], stdout=subprocess.PIPE, text=True
    )
    for line in process.stdout:
        print(f"    examples recipe: {line.strip()}", flush=True)  # each epoch, as it ends
        _, epoch, _, accuracy, *_ = line.split()
        if float(accuracy) >= target:
            seconds = time.perf_counter() - start
            process.wait()
            return seconds, float(accuracy), int(epoch)
    raise SystemExit(f"the examples recipe did not reach {target} in its 14 epochs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=Path("data/mnist"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    args = parser.parse_args()
    mnist = args.mnist.resolve()
    results: dict[str, list[tuple[float, float, int]]] = {"zoo": [], "examples": []}
    for _ in range(args.repeat):  # the cases take turns
        results["zoo"].append(zoo_time(mnist, args.target, args.device))
        results["examples"].append(examples_time(mnist, args.target, args.device))
    print(
        f"time from process start to {args.target:.1%} MNIST validation accuracy "
        f"(median of {args.repeat})"
    )
    median = {}
    for name, label in (
        ("examples", "PyTorch examples/mnist recipe (Adadelta, batch 64)"),
        ("zoo", "zoo run mnist_fast"),
    ):
        times = [t for t, _, _ in results[name]]
        median[name] = statistics.median(times)
        last = results[name][-1]
        print(f"  {label:<52} {median[name]:7.1f} s  (epoch {last[2]}, val_acc {last[1]:.4f})")
    print(f"  ratio zoo / examples: {median['zoo'] / median['examples']:.2f}x")


if __name__ == "__main__":
    main()
