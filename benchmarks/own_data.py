"""Your own pictures: the loop people write around torchvision's ImageFolder against zoo's
image_folder dataset, on the same folder of real pictures, in one run.

The folder: Fashion-MNIST (Debian's dataset-fashion-mnist) written out as PNGs in class folders,
``train/`` (60,000) and ``test/`` (10,000), made once under ``data/fashion-png``. Measured:

- one epoch of the loop people write: an ``ImageFolder``-style ``Dataset`` whose ``__getitem__``
  opens the file with Pillow and converts it as ``ToTensor`` does, a ``DataLoader(batch_size=64,
  shuffle=True, num_workers=2)``, SGD (torchvision's CPU wheel cannot be installed beside this
  torch here, so its ImageFolder is written out: the same work);
- zoo's first preparation of the folder (decoding every picture once, into its prepared copy),
  then a later load of the copy;
- one epoch of zoo on the prepared copy, with the same models, batch size and optimizer: the
  tutorial's logistic regression (where reading the pictures is the cost) and ``bn_cnn`` (where
  the model is); compared as training samples per second;
- peak memory of a run whose prepared copy is larger than its memory budget (streamed).

    python benchmarks/own_data.py [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fashion_mnist_pickle import idx  # the IDX reader beside this script

SRC = Path("/usr/share/datasets/fashion-mnist")
FOLDER = Path("data/fashion-png")
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]  # fmt: skip


def write_folder() -> None:
    from PIL import Image

    done = FOLDER / ".complete"
    if done.exists():
        return
    start = time.perf_counter()
    for split, stem in (("train", "train"), ("test", "t10k")):
        x = idx(SRC / f"{stem}-images-idx3-ubyte.gz")
        y = idx(SRC / f"{stem}-labels-idx1-ubyte.gz")
        for name in CLASSES:
            (FOLDER / split / name).mkdir(parents=True, exist_ok=True)
        for i, (image, label) in enumerate(zip(x, y, strict=True)):
            Image.fromarray(image, "L").save(FOLDER / split / CLASSES[label] / f"{i:05}.png")
    done.write_text("")
    print(f"wrote {FOLDER}: 70,000 PNGs in {time.perf_counter() - start:.0f} s")


BASELINE = r"""
import sys, time, os, torch
from pathlib import Path
from PIL import Image
from torch.utils.data import Dataset, DataLoader
import numpy as np
import zoo

class Folder(Dataset):  # torchvision's ImageFolder + ToTensor, written out
    def __init__(self, root):
        classes = sorted(p.name for p in Path(root).iterdir() if p.is_dir())
        self.samples = [(str(f), i) for i, c in enumerate(classes)
                        for f in sorted((Path(root) / c).iterdir())]
    def __len__(self):
        return len(self.samples)
    def __getitem__(self, i):
        path, label = self.samples[i]
        with open(path, "rb") as f:
            image = Image.open(f).convert("L")
        x = torch.from_numpy(np.array(image, np.uint8)).float().div(255)[None]
        return x, label

model_name, root, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
torch.set_num_threads(2)
data = Folder(root)
if limit:
    data = torch.utils.data.Subset(data, torch.randperm(len(data))[:limit].tolist())
net = zoo.create_model(model_name, num_classes=10, input_shape=(1, 28, 28))
net.train()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
loader = DataLoader(data, batch_size=64, shuffle=True, num_workers=2)
start = time.perf_counter()
n = 0
for x, y in loader:
    loss = torch.nn.functional.cross_entropy(net(x.flatten(1)), y)
    loss.backward(); opt.step(); opt.zero_grad()
    n += len(y)
took = time.perf_counter() - start
print(n / took, took)
"""


def baseline(model: str, limit: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", BASELINE, model, str(FOLDER / "train"), str(limit)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    rate, took = map(float, out.stdout.split())
    return rate, took


def zoo_epoch(model: str, home: str, budget: int | None = None) -> tuple[float, float, int]:
    """zoo's training samples a second over one epoch, and the peak memory of the process."""
    code = (
        "import json, resource, sys, zoo\n"
        "o = json.loads(sys.argv[1])\n"
        "run = zoo.train(sys.argv[2], overrides=o, epochs=1, out=sys.argv[3], progress=False)\n"
        "row = run.history[-1]\n"
        "print(row['samples_per_s'], row['epoch_seconds'],"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    overrides = {"dataset.name": "image_folder", "dataset.path": str(FOLDER),
                 "dataset.progress": False, "batch_size": 64, "optimizer.name": "sgd",
                 "optimizer.lr": 0.05, "optimizer.momentum": 0.9, "scheduler": None,
                 "augment": None, "threads": 2}  # fmt: skip
    if budget:
        overrides["dataset.memory_budget_mb"] = budget
    with tempfile.TemporaryDirectory() as runs:
        out = subprocess.run([sys.executable, "-c", code, json.dumps(overrides), model,
                              f"{runs}/run"], capture_output=True, text=True, check=True,
                             env={**os.environ, "ZOO_HOME": home})  # fmt: skip
    rate, took, rss = out.stdout.split()
    return float(rate), float(took), int(rss) * 1024


def prepare(home: str) -> tuple[float, float]:
    code = (
        "import sys, time, zoo\n"
        "t = time.perf_counter()\n"
        "zoo.create_dataset('image_folder', path=sys.argv[1], progress=False)\n"
        "print(time.perf_counter() - t)\n"
    )
    times = []
    for _ in range(2):  # the first prepares, the second reads the prepared copy
        env = {**os.environ, "ZOO_HOME": home}
        out = subprocess.run([sys.executable, "-c", code, str(FOLDER)], capture_output=True,
                             text=True, check=True, env=env)  # fmt: skip
        times.append(float(out.stdout))
    return times[0], times[1]


def main() -> None:
    quick = "--quick" in sys.argv
    write_folder()
    limit = 10_000 if quick else 0
    with tempfile.TemporaryDirectory() as home:
        first, later = prepare(home)
        print(f"zoo prepares the 70,000 PNGs in {first:.1f} s (once); later loads: {later:.2f} s")
        results = {}
        for model in ("logistic", "bn_cnn"):
            ref_rate, ref_took = baseline(model, limit)
            rate, took, _ = zoo_epoch(model, home)
            results[model] = (ref_rate, rate)
            print(f"{model:>8}: the ImageFolder loop {ref_rate:,.0f} samples/s "
                  f"({ref_took:.1f} s an epoch), zoo {rate:,.0f} samples/s ({took:.1f} s): "
                  f"{rate / ref_rate:.1f}x")  # fmt: skip
        ref_logistic = 60_000 / results["logistic"][0]
        print(f"zoo's preparation against one ImageFolder epoch of logistic: "
              f"{first / ref_logistic:.2f}x its time")  # fmt: skip
        _, _, base = zoo_epoch("logistic", home, budget=None)
        _, _, streamed = zoo_epoch("logistic", home, budget=64)
        print(f"peak memory: in memory {base / 1e6:,.0f} MB; streamed past a 64 MB budget "
              f"{streamed / 1e6:,.0f} MB (the floats of the copy: 220 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
