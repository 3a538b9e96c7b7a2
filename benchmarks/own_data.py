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
- peak memory of a run whose prepared copy is larger than its memory budget (streamed), and of
  one in memory, against the same process on 200 pictures (next to no data);
- an RGB folder: 10,000 of the pictures as colour JPEGs of two sizes (``data/fashion-rgb``),
  read at 3x32x32 (JPEG decoding, colour, Resize + CenterCrop on both sides).

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


RGB_FOLDER = Path("data/fashion-rgb")
TINY_FOLDER = Path("data/fashion-tiny")


def write_rgb_folder(count: int = 10_000) -> None:
    """An RGB folder: the first ``count`` training pictures as JPEGs in colour (each class's
    garment tinted its own way on a coloured ground) at two sizes, 40x40 and 48x40, so that
    reading them means decoding JPEG, colour, and torchvision's Resize + CenterCrop to 32x32."""
    from PIL import Image

    done = RGB_FOLDER / ".complete"
    if done.exists():
        return
    import numpy as np

    start = time.perf_counter()
    x = idx(SRC / "train-images-idx3-ubyte.gz")[:count]
    y = idx(SRC / "train-labels-idx1-ubyte.gz")[:count]
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (RGB_FOLDER / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        tint = rng.uniform(0.3, 1.0, 3) * (1 + np.arange(3) * label / 10) % 1.0
        ground = rng.uniform(0, 80, 3)
        ink = image[..., None] / 255.0
        pixels = ink * (tint * 200 + 55) + (1 - ink) * ground
        picture = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
        picture = picture.resize((40, 48) if i % 4 == 0 else (40, 40), Image.Resampling.BICUBIC)
        picture.save(RGB_FOLDER / CLASSES[label] / f"{i:05}.jpg", quality=90)
    done.write_text("")
    print(f"wrote {RGB_FOLDER}: {count:,} RGB JPEGs in {time.perf_counter() - start:.0f} s")


def write_tiny_folder() -> None:
    """20 of the folder's pictures a class: the same process with next to no data (the baseline
    the streamed run's memory is compared with)."""
    import shutil

    if (TINY_FOLDER / ".complete").exists():
        return
    for name in CLASSES:
        (TINY_FOLDER / name).mkdir(parents=True, exist_ok=True)
        for picture in sorted((FOLDER / "train" / name).iterdir())[:20]:
            shutil.copy(picture, TINY_FOLDER / name / picture.name)
    (TINY_FOLDER / ".complete").write_text("")


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
            image = Image.open(f).convert(MODE)
        if image.size != (SIDE, SIDE):  # Resize(SIDE) + CenterCrop(SIDE), written out
            scale = SIDE / min(image.size)
            image = image.resize((max(SIDE, int(image.width * scale)),
                                  max(SIDE, int(image.height * scale))), Image.BILINEAR)
            left, top = round((image.width - SIDE) / 2), round((image.height - SIDE) / 2)
            image = image.crop((left, top, left + SIDE, top + SIDE))
        x = torch.from_numpy(np.array(image, np.uint8)).float().div(255)
        return (x[None] if MODE == "L" else x.permute(2, 0, 1)), label

model_name, root, limit, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
SIDE = int(sys.argv[5])
channels = 1 if MODE == "L" else 3
torch.manual_seed(0)
torch.set_num_threads(2)
data = Folder(root)
if limit:
    data = torch.utils.data.Subset(data, torch.randperm(len(data))[:limit].tolist())
net = zoo.create_model(model_name, num_classes=10, input_shape=(channels, SIDE, SIDE))
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


def baseline(model: str, root: Path, limit: int = 0, mode: str = "L", side: int = 28):
    out = subprocess.run([sys.executable, "-c", BASELINE, model, str(root), str(limit), mode,
                          str(side)], capture_output=True, text=True, check=True)  # fmt: skip
    rate, took = map(float, out.stdout.split())
    return rate, took


def zoo_epoch(
    model: str, home: str, folder: Path = FOLDER, budget: int | None = None, size: int = 0
) -> tuple[float, float, int]:
    """zoo's training samples a second over one epoch, and the peak memory of the process."""
    code = (
        "import json, resource, sys, zoo\n"
        "o = json.loads(sys.argv[1])\n"
        "run = zoo.train(sys.argv[2], overrides=o, epochs=1, out=sys.argv[3], progress=False)\n"
        "row = run.history[-1]\n"
        "print(row['samples_per_s'], row['epoch_seconds'],"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    overrides = {"dataset.name": "image_folder", "dataset.path": str(folder),
                 "dataset.progress": False, "batch_size": 64, "optimizer.name": "sgd",
                 "optimizer.lr": 0.05, "optimizer.momentum": 0.9, "scheduler": None,
                 "augment": None, "threads": 2}  # fmt: skip
    if budget:
        overrides["dataset.memory_budget_mb"] = budget
    if size:
        overrides["dataset.size"] = size
    with tempfile.TemporaryDirectory() as runs:
        out = subprocess.run([sys.executable, "-c", code, json.dumps(overrides), model,
                              f"{runs}/run"], capture_output=True, text=True, check=True,
                             env={**os.environ, "ZOO_HOME": home})  # fmt: skip
    rate, took, rss = out.stdout.split()
    return float(rate), float(took), int(rss) * 1024


LOAD = r"""
import sys, time
t0 = time.perf_counter()
import torch, zoo
t1 = time.perf_counter()
from zoo_image_folder.scan import scan
scan(sys.argv[1])
t2 = time.perf_counter()
size = {"size": int(sys.argv[2])} if sys.argv[2] != "0" else {}
zoo.create_dataset("image_folder", path=sys.argv[1], progress=False, **size)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def prepare(home: str, folder: Path = FOLDER, size: int = 0) -> tuple[float, tuple]:
    """The first preparation's seconds (the process's imports not counted), then a later
    load's in a new process: its imports, the scan of the folder alone, and the whole load
    (scan included)."""
    env = {**os.environ, "ZOO_HOME": home}
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder), str(size)],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    first = float(out.stdout.split()[2])
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder), str(size)],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    imports, scanned, load = map(float, out.stdout.split())
    return first, (imports, scanned, load)


def main() -> None:
    quick = "--quick" in sys.argv
    write_folder()
    write_rgb_folder()
    write_tiny_folder()
    os.sync()  # the folders' writes done before anything is timed
    limit = 10_000 if quick else 0
    with tempfile.TemporaryDirectory() as home:
        first, (imports, scanned, later) = prepare(home)
        print(f"zoo prepares the 70,000 PNGs in {first:.1f} s (once); a later load in a new "
              f"process: {later:.2f} s ({scanned:.2f} s of it the scan of the folder; the "
              f"process's imports before it: {imports:.2f} s)")  # fmt: skip
        results = {}
        for model in ("logistic", "bn_cnn"):
            ref_rate, ref_took = baseline(model, FOLDER / "train", limit)
            rate, took, _ = zoo_epoch(model, home)
            results[model] = (ref_rate, rate)
            print(f"{model:>8}: the ImageFolder loop {ref_rate:,.0f} samples/s "
                  f"({ref_took:.1f} s an epoch), zoo {rate:,.0f} samples/s ({took:.1f} s): "
                  f"{rate / ref_rate:.1f}x")  # fmt: skip
        ref_logistic = 60_000 / results["logistic"][0]
        print(f"zoo's preparation against one ImageFolder epoch of logistic: "
              f"{first / ref_logistic:.2f}x its time")  # fmt: skip
        _, _, none = zoo_epoch("logistic", home, folder=TINY_FOLDER)
        _, _, base = zoo_epoch("logistic", home)
        _, _, streamed = zoo_epoch("logistic", home, budget=64)
        print(f"peak memory: next to no data (200 pictures) {none / 1e6:,.0f} MB; in memory "
              f"{base / 1e6:,.0f} MB (+{(base - none) / 1e6:,.0f}); streamed past a 64 MB "
              f"budget {streamed / 1e6:,.0f} MB (+{(streamed - none) / 1e6:,.0f}; the copy's "
              "floats: 220 MB)")  # fmt: skip
        first, (imports, scanned, later) = prepare(home, RGB_FOLDER, size=32)
        print(f"RGB folder (10,000 JPEGs, 40x40 and 48x40, read at 3x32x32): prepared in "
              f"{first:.1f} s; a later load {later:.2f} s")  # fmt: skip
        for model in ("logistic", "bn_cnn"):
            ref_rate, ref_took = baseline(model, RGB_FOLDER, 0, "RGB", 32)
            rate, took, _ = zoo_epoch(model, home, folder=RGB_FOLDER, size=32)
            print(f"RGB {model:>8}: the ImageFolder loop {ref_rate:,.0f} samples/s "
                  f"({ref_took:.1f} s an epoch), zoo {rate:,.0f} samples/s ({took:.1f} s): "
                  f"{rate / ref_rate:.1f}x")  # fmt: skip
            if model == "logistic":
                print(f"RGB: zoo's preparation against one ImageFolder epoch of logistic "
                      f"(9,000 of its 10,000 pictures: zoo holds 1,000 out to validate): "
                      f"{first / (10_000 / ref_rate):.2f}x its time")  # fmt: skip


if __name__ == "__main__":
    main()
