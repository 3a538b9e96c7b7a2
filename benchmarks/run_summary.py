"""What a page that watches a run with a long history costs a poll: reading the whole
metrics.jsonl again (what zoo ui did, ``metrics.read_metrics``) against a kept ``MetricsScan``
(what it does: the first read, then only the line added since).

    python benchmarks/run_summary.py [ROWS]      # default 440,000 rows, just under 64 MB

Each way is timed over 3 polls (median) with its peak Python memory (tracemalloc), in this
process, on a file written to a temp folder; the ratios are against the whole read.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from zoo.config import best_row
from zoo.runs import directory, metrics

ROW = {"epoch": 1, "train_loss": 0.25, "val_loss": 0.31, "val_acc": 0.9123, "epoch_seconds": 1.6,
       "samples_per_s": 31000.5, "lr": 0.05}  # fmt: skip


def measured(call, memory: bool = False) -> float:
    """Seconds of ``call()``, or (``memory``) the peak bytes it allocates (tracemalloc slows
    what it watches: never both at once)."""
    if memory:
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 440_000
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder)
        path = run / directory.METRICS
        with open(path, "w") as f:
            for epoch in range(1, rows + 1):
                f.write(json.dumps(ROW | {"epoch": epoch, "val_loss": 1 + 1 / epoch}) + "\n")
        size = path.stat().st_size

        def whole() -> None:  # every poll: every row parsed and held, then the best found
            history = metrics.read_metrics(run)
            best_row(history)

        def append(epoch: int) -> None:  # the next epoch's line, as a training run writes it
            with open(path, "a") as f:
                f.write(json.dumps(ROW | {"epoch": epoch}) + "\n")

        results = {}
        for memory in (False, True):
            scan = metrics.MetricsScan(run, best=best_row)
            first = measured(scan.update, memory)
            polls = []
            for i in range(3):
                append(rows + 1 + i + 3 * memory)
                polls.append(measured(scan.update, memory))
            again = [measured(whole, memory) for _ in range(1 if memory else 3)]
            results[memory] = (statistics.median(again), first, statistics.median(polls))
    (base, first, poll), memory = results[False], results[True]
    print(f"metrics.jsonl: {rows:,} rows, {size / 1e6:.1f} MB")
    print(f"{'a poll of the run':40} {'seconds':>9} {'ratio':>8} {'peak MB':>9}")
    lines = [
        ("whole file read again (zoo ui before)", base, memory[0]),
        ("MetricsScan, its first read", first, memory[1]),
        ("MetricsScan, each poll after", poll, memory[2]),
    ]
    for name, seconds, peak in lines:
        print(f"{name:40} {seconds:9.4f} {seconds / base:7.4f}x {peak / 1e6:9.1f}")


if __name__ == "__main__":
    main()
