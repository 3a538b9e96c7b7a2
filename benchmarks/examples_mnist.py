"""PyTorch's examples/mnist recipe (``main.py``), written from its published description, as the
baseline of ``benchmarks/time_to_accuracy.py``: two 3x3 convolutions (32, 64) with ReLU, max
pooling, dropout 0.25, a 9216 -> 128 fully connected layer, dropout 0.5, 128 -> 10 and
log-softmax; NLL loss; Adadelta with lr 1.0; StepLR with gamma 0.7 each epoch; batch 64; inputs
normalised with MNIST's mean 0.1307 and std 0.3081; 14 epochs at most.

    python benchmarks/examples_mnist.py data/mnist [--target 0.99]

It trains on the same 50,000 / 10,000 split of the official training images that zoo's mnist
dataset makes (the first 50,000 to train, the last 10,000 to validate), in memory and shuffled
by a seeded ``randperm`` (faster than the original's DataLoader: the baseline is not handicapped
by its data loading), and prints, after each epoch, the validation accuracy and the seconds since
the process started; it exits at the first epoch that reaches ``--target``. No zoo is imported.
"""

from __future__ import annotations

import time

STARTED = time.time()  # as near to the process start as Python lets a script be

import argparse  # noqa: E402
import gzip  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def idx(path: Path) -> np.ndarray:
    """An IDX file's array (gzipped or not)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder: Path, stem: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.name.startswith(stem))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist", type=Path, help="folder of the official IDX files")
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(1)  # the example's default seed
    images = torch.from_numpy(idx(find(args.mnist, "train-images")).copy()).float() / 255
    labels = torch.from_numpy(idx(find(args.mnist, "train-labels")).astype(np.int64))
    images = ((images - 0.1307) / 0.3081).unsqueeze(1)
    images, labels = images.to(device), labels.to(device)  # held on the device, as zoo does
    x_train, y_train = images[:50_000], labels[:50_000]
    x_valid, y_valid = images[50_000:], labels[50_000:]
    model = Net().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for index in torch.randperm(len(x_train), device=device).split(64):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x_train[index]), y_train[index])
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_valid), 1000):
                out = model(x_valid[start : start + 1000])
                correct += (out.argmax(1) == y_valid[start : start + 1000]).sum().item()
        scheduler.step()
        accuracy = correct / len(x_valid)
        print(f"epoch {epoch} val_acc {accuracy:.4f} at {time.time() - STARTED:.1f} s", flush=True)
        if accuracy >= args.target:
            return


if __name__ == "__main__":
    main()
