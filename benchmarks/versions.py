"""zoo at two revisions, side by side: `zoo run logistic` end to end (2 epochs) and one epoch of
`zoo run cnn`, each run a fresh process, the revisions taking turns, on the same cached data.

    python benchmarks/versions.py [--base REF] [--repeat 5] [--pickle data/fashion-mnist.pkl.gz]

The base revision (default: the commit before the working tree's branch diverged from main's
first parent, i.e. HEAD~1) is checked out with `git worktree` into a temp folder and run from
there, its core and plugins first on PYTHONPATH; the other side is the installed working tree.
Prints medians of wall seconds and of training samples/s, and the ratios new / base.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "logistic, 2 epochs": ["run", "logistic"],
    "cnn, 1 epoch": ["run", "cnn", "--epochs", "1"],
}


def run_once(args: list[str], env: dict[str, str], folder: Path) -> tuple[float, float]:
    out = folder / f"run-{time.monotonic_ns()}"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "zoo", *args, "--no-progress", "--out", str(out)],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return wall, statistics.mean(row["samples_per_s"] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pickle", default=str(ROOT / "data" / "fashion-mnist.pkl.gz"))
    args = parser.parse_args()
    data = ["--set", f"dataset.path={Path(args.pickle).resolve()}"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base],
            check=True,
            capture_output=True,
        )
        try:
            paths = [base / "core", *sorted(p for p in (base / "plugins").iterdir() if p.is_dir())]
            common = {**os.environ, "ZOO_HOME": str(tmp / "home")}
            sides = {
                f"base ({args.base})": {**common, "PYTHONPATH": os.pathsep.join(map(str, paths))},
                "working tree": common,
            }
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for env in sides.values():  # fill the cache and warm the bytecode, unmeasured
                run_once([*CASES["logistic, 2 epochs"], *data, "--epochs", "1"], env, tmp)
            for _ in range(args.repeat):
                for case, command in CASES.items():
                    for side, env in sides.items():  # taking turns: drift hits both alike
                        results.setdefault((case, side), []).append(
                            run_once([*command, *data], env, tmp)
                        )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )
    print(f"{'case (median of ' + str(args.repeat) + ')':<40} {'wall s':>7} {'samples/s':>10}")
    for case in CASES:
        medians = {}
        for side in sides:
            walls, rates = zip(*results[(case, side)], strict=True)
            medians[side] = (statistics.median(walls), statistics.median(rates))
            print(f"{case + ': ' + side:<40} {medians[side][0]:>7.2f} {medians[side][1]:>10,.0f}")
        (old_wall, old_rate), (new_wall, new_rate) = medians.values()
        print(
            f"{case + ': new / base':<40} {new_wall / old_wall:>6.2f}x {new_rate / old_rate:>9.2f}x"
        )


if __name__ == "__main__":
    main()
