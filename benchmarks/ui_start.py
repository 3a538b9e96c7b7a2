"""How long `zoo ui` takes from start to a page a browser can use: the URL printed, then the
first answers of /api/catalog (every model and dataset with its options) and /api/results (the
weights' cards), and how long its first prediction (a real MNIST digit, cnn.mnist) takes when
asked 3 s after the start, as a person starts drawing; each a fresh process, against `zoo
list models` (the same catalog, printed) and, where Gradio is installed (`--gradio-python
PYTHON`), `import gradio`, the floor a Gradio app pays before it serves anything. Taking turns,
in the same run.

    python benchmarks/ui_start.py [--repeat 7] [--gradio-python /path/to/venv/bin/python]

Target (issue 21): about two seconds to a usable page.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

DIGIT = Path(__file__).resolve().parents[1] / "tests" / "digits" / "mnist-test-0000-label-7.png"


#: When the first drawing is sent: a person opens the URL and starts drawing a few seconds after
#: `zoo ui` printed it (the server imports torch meanwhile).
FIRST_DRAWING = 3.0


def zoo_ui(folder: str) -> tuple[float, float, float]:
    """Seconds to the printed URL, to both catalog answers, and how long the first prediction,
    asked FIRST_DRAWING seconds after the start, takes to answer."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "ui", folder, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        printed = time.perf_counter() - start
        url = line.rsplit(" at ", 1)[1].split()[0]
        for path in ("api/catalog", "api/results"):
            requests.get(url + path, timeout=60).raise_for_status()
        usable = time.perf_counter() - start
        time.sleep(max(0.0, FIRST_DRAWING - usable))
        asked = time.perf_counter()
        requests.post(
            url + "api/predict?kind=weights&source=cnn.mnist",
            data=DIGIT.read_bytes(),
            headers={"X-Zoo-UI": "1"},
            timeout=60,
        ).raise_for_status()
        return printed, usable, time.perf_counter() - asked
    finally:
        proc.terminate()
        proc.wait()


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--gradio-python", help="a Python that has gradio installed")
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            baseline = seconds([sys.executable, "-m", "zoo", "list", "models"])
            times.setdefault("zoo list models", []).append(baseline)
            printed, usable, predicted = zoo_ui(folder)
            times.setdefault("zoo ui: URL printed", []).append(printed)
            times.setdefault("zoo ui: catalog answered", []).append(usable)
            times.setdefault(f"zoo ui: first prediction (at {FIRST_DRAWING:.0f} s)", []).append(
                predicted
            )
            if args.gradio_python:
                gradio = seconds([args.gradio_python, "-c", "import gradio"])
                times.setdefault('python -c "import gradio"', []).append(gradio)
    base = statistics.median(times["zoo list models"])
    print(f"{f'(median of {args.repeat})':<36}{'seconds':>8}  vs zoo list models")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<36}{median:8.3f}  {median / base:6.2f}x")


if __name__ == "__main__":
    main()
