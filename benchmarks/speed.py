"""zoo against the code it replaces, measured side by side in one run on this machine.

    python benchmarks/speed.py [--repeat 3] [--pickle data/fashion-mnist.pkl.gz]

- end to end: the tutorial's logistic script (its DataLoader(TensorDataset) training and validation
  loops, as written in the tutorial) vs `zoo run logistic` with the data cached;
- training throughput (samples/s): the tutorial's DataLoader loop, zoo, and a hand-written slicing
  loop (the practical floor), for logistic (2 epochs) and cnn (1 epoch);
- start-up: `zoo --help`, `zoo list`, `zoo plugins`;
- peak memory (max RSS) of each process.

Every case runs in its own process; the table shows medians and ratios to the baseline.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

SEED_LOGISTIC = """
import gzip, pickle, time
t0 = time.perf_counter()
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
with gzip.open({path!r}, "rb") as f:
    ((x_train, y_train), (x_valid, y_valid), _) = pickle.load(f, encoding="latin-1")
x_train, y_train, x_valid, y_valid = map(torch.as_tensor, (x_train, y_train, x_valid, y_valid))
lr, epochs, batch_size = 0.5, 2, 64
class MNISTLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 10)
    def forward(self, x):
        return self.linear(x)
model = MNISTLogistic()
opt = torch.optim.SGD(model.parameters(), lr=lr)
loss_func = F.cross_entropy
train_dl = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size)
val_dl = DataLoader(TensorDataset(x_valid, y_valid), batch_size=batch_size)
t1 = time.perf_counter()
for e in range(epochs):
    model.train()
    for x_b, y_b in train_dl:
        pred = model(x_b)
        loss = loss_func(pred, y_b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.inference_mode():
        val_loss = sum(loss_func(model(x_b), y_b) for x_b, y_b in val_dl) / len(val_dl)
    print(e, val_loss)
print("TRAIN", time.perf_counter() - t1, "SAMPLES", epochs * len(x_train))
"""

SEED_CNN = """
import time, torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
import zoo
splits = zoo.create_dataset("mnist", path={path!r}, progress=False)
class MNISTCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)
    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.relu(self.conv1(x)); x = F.relu(self.conv2(x)); x = F.relu(self.conv3(x))
        return F.avg_pool2d(x, 4).view(-1, 10)
model = MNISTCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
train_dl = DataLoader(splits.train, batch_size=64, shuffle=True)
t1 = time.perf_counter()
for x_b, y_b in train_dl:
    loss = F.cross_entropy(model(x_b), y_b); opt.zero_grad(); loss.backward(); opt.step()
print("TRAIN", time.perf_counter() - t1, "SAMPLES", len(splits.train))
"""

# The practical floor: slicing (or a randperm) over tensors in memory, nothing else. Like zoo's
# first epoch, its timing starts cold (no warm-up step): both pay the first step's set-up.
SLICING = """
import time, torch
import torch.nn.functional as F
import zoo
splits = zoo.create_dataset("mnist", path={path!r}, progress=False)
x, y = splits.train.tensors
model = zoo.create_model({model!r})
opt = zoo.create_optimizer("sgd", model.parameters(), **{optimizer!r})
epochs, shuffle = {epochs}, {shuffle}
t1 = time.perf_counter()
for e in range(epochs):
    order = torch.randperm(len(x)) if shuffle else None
    for i in range(0, len(x), 64):
        if shuffle:
            idx = order[i:i + 64]; xb, yb = x[idx], y[idx]
        else:
            xb, yb = x[i:i + 64], y[i:i + 64]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
print("TRAIN", time.perf_counter() - t1, "SAMPLES", epochs * len(x))
"""


# What every PyTorch training script pays before its first step, the tutorial's and zoo's alike:
# starting Python, importing torch, and the first torch.optim optimizer (it imports torch._dynamo).
FIXED = """
import torch
model = torch.nn.Linear(784, 10)
torch.optim.SGD(model.parameters(), lr=0.5).zero_grad()
"""


def run(argv, env, cwd):
    """measure() with peak RSS from os.wait4 (Popen.communicate reaps the child itself)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the measured process
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        log = os.open(str(cwd / "last.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(devnull, 2)
        os.execve(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    out = (cwd / "last.out").read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed:\n{out}")
    return wall, usage.ru_maxrss / 1024, out


def samples_per_s(out: str) -> float:
    match = re.search(r"TRAIN ([\d.]+) SAMPLES (\d+)", out)
    return int(match.group(2)) / float(match.group(1))


def zoo_samples_per_s(run_dir: Path) -> float:
    """All epochs' samples over all epochs' training seconds, as the loops above count (every
    epoch has the same number of samples: the harmonic mean of the epochs' rates)."""
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return len(rows) / sum(1 / row["samples_per_s"] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pickle", default="data/fashion-mnist.pkl.gz")
    args = parser.parse_args()
    pickle_file = Path(args.pickle).resolve()
    if not pickle_file.is_file():
        sys.exit(f"{pickle_file} not found: run python benchmarks/fashion_mnist_pickle.py first")
    # Installed packages have their bytecode compiled by pip; do the same for this checkout
    # (PYTHONDONTWRITEBYTECODE may be set), so start-up is measured as a user meets it.
    root = Path(__file__).resolve().parents[1]
    for folder in ("core", "plugins"):
        compileall.compile_dir(root / folder, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="zoo-speed-"))
    env = {**os.environ, "ZOO_HOME": str(work / "home")}
    py = sys.executable
    zoo = [py, "-m", "zoo"]
    run(zoo + ["data", "fetch", "mnist", "--set", f"path={pickle_file}"], env, work)  # warm cache

    results: dict[str, list[tuple[float, float, float]]] = {}

    def add(name, wall, rss, rate=float("nan")):
        results.setdefault(name, []).append((wall, rss, rate))

    data = f"dataset.path={pickle_file}"
    for i in range(args.repeat):
        wall, rss, out = run([py, "-c", SEED_LOGISTIC.format(path=str(pickle_file))], env, work)
        add("logistic: tutorial script, end to end", wall, rss, samples_per_s(out))
        wall, rss, _ = run([py, "-c", FIXED], env, work)
        add("fixed cost: python + torch + first optimizer", wall, rss)
        out_dir = work / f"logistic-{i}"
        wall, rss, _ = run(
            zoo + ["run", "logistic", "--set", data, "--no-progress", "--out", str(out_dir)],
            env,
            work,
        )
        add("logistic: zoo run, end to end (data cached)", wall, rss, zoo_samples_per_s(out_dir))
        code = SLICING.format(
            path=str(pickle_file), model="logistic", epochs=2, shuffle=False, optimizer={"lr": 0.5}
        )
        wall, rss, out = run([py, "-c", code], env, work)
        add("logistic: slicing loop (floor), default threads", wall, rss, samples_per_s(out))
        logistic_samples = int(re.search(r"SAMPLES (\d+)", out).group(1))
        wall, rss, out = run(
            [py, "-c", "import torch; torch.set_num_threads(1)\n" + code], env, work
        )
        add("logistic: slicing loop (floor), 1 thread", wall, rss, samples_per_s(out))

        wall, rss, out = run([py, "-c", SEED_CNN.format(path=str(pickle_file))], env, work)
        add("cnn: tutorial DataLoader loop, 1 epoch", wall, rss, samples_per_s(out))
        out_dir = work / f"cnn-{i}"
        wall, rss, _ = run(
            zoo
            + [
                "run",
                "cnn",
                "--set",
                data,
                "--epochs",
                "1",
                "--no-progress",
                "--out",
                str(out_dir),
            ],
            env,
            work,
        )
        add("cnn: zoo run, 1 epoch", wall, rss, zoo_samples_per_s(out_dir))
        code = SLICING.format(
            path=str(pickle_file),
            model="cnn",
            epochs=1,
            shuffle=True,
            optimizer={"lr": 0.05, "momentum": 0.9},
        )
        wall, rss, out = run([py, "-c", code], env, work)
        add("cnn: slicing loop (floor), default threads", wall, rss, samples_per_s(out))
        wall, rss, out = run(
            [py, "-c", "import torch; torch.set_num_threads(1)\n" + code], env, work
        )
        add("cnn: slicing loop (floor), 1 thread", wall, rss, samples_per_s(out))

        for command in (["--help"], ["list"], ["plugins"]):
            wall, rss, _ = run(zoo + command, env, work)
            add(f"start-up: zoo {command[0]}", wall, rss)

    def median(name, index):
        return statistics.median(r[index] for r in results[name])

    print(
        f"{'case (median of ' + str(args.repeat) + ')':<52} {'wall s':>7} {'MB':>6} "
        f"{'samples/s':>10}  ratio"
    )
    baselines = {
        "logistic: zoo run, end to end (data cached)": ("logistic: tutorial script, end to end", 0),
        "fixed cost: python + torch + first optimizer": (
            "logistic: tutorial script, end to end",
            0,
        ),
        "logistic: slicing loop (floor), default threads": None,
        "cnn: zoo run, 1 epoch": None,
    }
    for name in results:
        wall, rss, rate = median(name, 0), median(name, 1), median(name, 2)
        note = ""
        if name in baselines and baselines[name]:
            note = f"{wall / median(baselines[name][0], 0):.2f}x tutorial time"
        if name.startswith(("logistic: zoo", "cnn: zoo")):
            model = name.split(":")[0]
            seed = next(n for n in results if n.startswith(model + ": tutorial"))
            note += f"  {rate / median(seed, 2):.2f}x tutorial throughput"
            floor = model + ": slicing loop (floor), default threads"
            note += f"  {rate / median(floor, 2):.2f}x floor throughput"
            one = model + ": slicing loop (floor), 1 thread"
            note += f" ({rate / median(one, 2):.2f}x the 1-thread floor)"
        rate_text = f"{rate:>10,.0f}" if rate == rate else f"{'':>10}"
        print(f"{name:<52} {wall:>7.2f} {rss:>6.0f} {rate_text}  {note}")
    seed_rss = median("logistic: tutorial script, end to end", 1)
    zoo_rss = median("logistic: zoo run, end to end (data cached)", 1)
    print(f"peak memory, zoo run logistic / tutorial script: {zoo_rss / seed_rss:.2f}x")
    fixed = median("fixed cost: python + torch + first optimizer", 0)
    seed = median("logistic: tutorial script, end to end", 0) - fixed
    zoo_time = median("logistic: zoo run, end to end (data cached)", 0) - fixed
    print(f"beyond the fixed cost, zoo run logistic / tutorial script: {zoo_time / seed:.2f}x")
    # No tool trains the tutorial's run faster than the fixed cost plus the floor's training time.
    floor_rate = median("logistic: slicing loop (floor), default threads", 2)
    bound = fixed + logistic_samples / floor_rate
    print(
        f"fixed cost + the floor's training time: {bound / (seed + fixed):.2f}x the tutorial "
        "script's time (the least any tool could take here, before loading data)"
    )


if __name__ == "__main__":
    main()
