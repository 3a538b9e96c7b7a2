"""Data load time: the tutorial's own gzip + pickle load, against zoo's first load (download,
verify, parse, write the prepared copy) and zoo's cached load (the verified prepared copy).

    python benchmarks/data_load.py [--repeat 5] [--pickle data/fashion-mnist.pkl.gz]

Each measurement runs in a fresh process with torch already imported, so only loading is timed.
The pickle defaults to Fashion-MNIST written by benchmarks/fashion_mnist_pickle.py (MNIST itself
cannot be downloaded here); it is served over HTTP from 127.0.0.1 for the download cases.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SEED = """
import gzip, pickle, time, torch
t = time.perf_counter()
with gzip.open({path!r}, "rb") as f:
    ((x_train, y_train), (x_valid, y_valid), _) = pickle.load(f, encoding="latin-1")
x_train, y_train, x_valid, y_valid = map(torch.as_tensor, (x_train, y_train, x_valid, y_valid))
print(time.perf_counter() - t)
"""

ZOO = """
import time, torch, zoo
zoo.list_datasets()  # plugin discovery is not data loading
t = time.perf_counter()
zoo.create_dataset({name!r}, progress=False, **{options!r})
print(time.perf_counter() - t)
"""


def timed(code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> str:
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pickle", default="data/fashion-mnist.pkl.gz")
    args = parser.parse_args()
    pickle_file = Path(args.pickle).resolve()
    if not pickle_file.is_file():
        sys.exit(f"{pickle_file} not found: run python benchmarks/fashion_mnist_pickle.py first")
    url = serve(pickle_file.parent) + pickle_file.name

    def fresh_home() -> dict[str, str]:
        return {**os.environ, "ZOO_HOME": tempfile.mkdtemp(prefix="zoo-bench-")}

    cases: dict[str, list[float]] = {}
    warm = fresh_home()
    system = fresh_home()
    for _ in range(args.repeat):
        cases.setdefault("tutorial: gzip + pickle.load", []).append(
            timed(SEED.format(path=str(pickle_file)), os.environ.copy())
        )
        cases.setdefault("zoo mnist, first load (download + parse)", []).append(
            timed(ZOO.format(name="mnist", options={"url": url}), fresh_home())
        )
        cases.setdefault("zoo mnist, cached", []).append(
            timed(ZOO.format(name="mnist", options={"url": url}), warm)
        )
        cases.setdefault("zoo fashion_mnist from the system copy, first", []).append(
            timed(ZOO.format(name="fashion_mnist", options={}), fresh_home())
        )
        cases.setdefault("zoo fashion_mnist from the system copy, cached", []).append(
            timed(ZOO.format(name="fashion_mnist", options={}), system)
        )
    # The first run in `warm` and `system` filled their caches: those are not cached loads.
    for key in ("zoo mnist, cached", "zoo fashion_mnist from the system copy, cached"):
        cases[key] = cases[key][1:] or cases[key]

    baseline = statistics.median(cases["tutorial: gzip + pickle.load"])
    print(f"{'data load (median of runs)':<50} {'seconds':>8} {'vs tutorial':>8}")
    for name, times in cases.items():
        median = statistics.median(times)
        print(f"{name:<50} {median:>8.3f} {median / baseline:>7.2f}x")


if __name__ == "__main__":
    main()
