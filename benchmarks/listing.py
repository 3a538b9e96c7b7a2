"""What listing a study's worth of runs costs: 1,000 run directories (a real logistic run of 3
epochs on generated data, copied into ten studies of 100 trials), listed

- by ``zoo runs DIR`` as a user runs it (a new process; ``zoo --help`` is its start-up alone),
- by the page's ``/api/runs``: its first answer, then a poll when nothing changed and a poll
  after one run gained an epoch, against a poll that reads every run again (a new ``Folder``:
  what every poll cost before the fingerprints were kept).

    python benchmarks/listing.py [RUNS]      # default 1,000

Each time is the median of 3; the ratios are against reading every run again.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seconds(call, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    from conftest import make_mnist_arrays, write_pickle_gz
    from zoo.ui.app import Folder, run_row

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "ZOO_HOME": str(work / "home")}
        write_pickle_gz(work / "mnist.pkl.gz", make_mnist_arrays())
        zoo = [sys.executable, "-m", "zoo"]
        subprocess.run([*zoo, "run", "logistic", "--epochs", "3", "--set",
                        "dataset.path=mnist.pkl.gz", "--out", "one", "--no-progress"],
                       cwd=work, env=env, check=True, capture_output=True)  # fmt: skip
        runs = work / "runs"
        for i in range(count):
            shutil.copytree(work / "one", runs / f"study-{i // 100}" / f"trial-{i:04d}")

        def listed() -> None:
            subprocess.run([*zoo, "runs", str(runs)], env=env, check=True, capture_output=True)

        start_up = seconds(lambda: subprocess.run([*zoo, "--help"], env=env, check=True,
                                                  capture_output=True))  # fmt: skip
        command = seconds(listed)

        def poll(folder: Folder) -> int:
            return len([run_row(folder, n, s) for n, s in folder.runs()])

        every = seconds(lambda: poll(Folder(runs)))  # every run read again
        kept = Folder(runs)
        first = seconds(lambda: poll(kept), repeat=1)
        same = seconds(lambda: poll(kept))
        metrics = runs / "study-0" / "trial-0000" / "metrics.jsonl"
        row = json.loads(metrics.read_text().splitlines()[-1])

        def changed() -> None:
            row["epoch"] += 1
            with open(metrics, "a") as f:
                f.write(json.dumps(row) + "\n")
            poll(kept)

        one = seconds(changed)
    print(f"{count:,} run directories")
    print(f"zoo runs DIR: {command:.3f} s (its start-up, zoo --help: {start_up:.3f} s)")
    print(f"{'a poll of /api/runs':44} {'seconds':>8} {'ratio':>8}")
    for name, value in [
        ("every run read again (each poll before)", every),
        ("the first answer", first),
        ("a poll, nothing changed", same),
        ("a poll, one run one epoch more", one),
    ]:
        print(f"{name:44} {value:8.3f} {value / every:7.3f}x")


if __name__ == "__main__":
    main()
