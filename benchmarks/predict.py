"""How long `zoo predict cnn.mnist digit.png` takes from start to printed answer, against
`python -c "import torch"` (the floor any PyTorch command pays), each a fresh process, taking
turns, in the same run. Also lists what the predicting process imported: none of zoo's training
machinery (zoo.training, the optimizers' construction) may be among it.

    python benchmarks/predict.py [--repeat 11]

Target: within 1.5x of `import torch`. The digit is the first image of MNIST's test set when
data/mnist has it (python benchmarks/mnist_idx.py), else a drawn 7.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import sys
sys.argv = ["zoo", "predict", "cnn.mnist", {image!r}]
from zoo.cli import main
try:
    main()
except SystemExit:
    pass
zoo = sorted(m for m in sys.modules if m.startswith("zoo.training"))
print("imported:", ", ".join(zoo) or "no zoo.training module")
"""


def digit(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    path = folder / "digit.png"
    mnist = ROOT / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    if mnist.is_file():
        with gzip.open(mnist) as f:
            pixels = f.read(16 + 784)[16:]
        Image.frombytes("L", (28, 28), pixels).save(path)
    else:
        image = Image.new("L", (28, 28))
        ImageDraw.Draw(image).line([(6, 6), (22, 6), (12, 23)], fill=255, width=3)
        image.save(path)
    return path


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    zoo = str(Path(sys.executable).with_name("zoo"))
    with tempfile.TemporaryDirectory() as tmp:
        image = digit(Path(tmp))
        commands = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "zoo predict cnn.mnist digit.png": [zoo, "predict", "cnn.mnist", str(image)],
        }
        answer = subprocess.run(commands["zoo predict cnn.mnist digit.png"], capture_output=True)
        print(answer.stdout.decode().strip().replace(str(image), "digit.png"))
        for command in commands.values():  # warm the disk cache once
            seconds(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(seconds(command))
        probe = subprocess.run(
            [sys.executable, "-c", PROBE.format(image=str(image))], capture_output=True, text=True
        )
        print(probe.stdout.strip().splitlines()[-1])
    base = statistics.median(times['python -c "import torch"'])
    print(f"\n{'(median of ' + str(args.repeat) + ')':<36} {'seconds':>8}  vs import torch")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<36} {median:>8.3f}  {median / base:>6.2f}x")


if __name__ == "__main__":
    main()
