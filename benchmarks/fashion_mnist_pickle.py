"""Write real Fashion-MNIST in the tutorial's mnist.pkl.gz layout, for realistic runs here.

MNIST itself cannot be downloaded on this machine; Debian's dataset-fashion-mnist package has the
same IDX format and sizes. Usage:

    python benchmarks/fashion_mnist_pickle.py [SRC_DIR] [OUT_FILE]
    zoo run logistic --set dataset.path=OUT_FILE
"""

import gzip
import pickle
import sys
from pathlib import Path

import numpy as np


def idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "data/fashion-mnist.pkl.gz")
    x = idx(src / "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    y = idx(src / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = idx(src / "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    y_test = idx(src / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    splits = ((x[:50000], y[:50000]), (x[50000:], y[50000:]), (x_test, y_test))
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wb") as f:
        pickle.dump(splits, f, protocol=2)
    print(
        f"wrote {out}: train {splits[0][0].shape}, valid {splits[1][0].shape}, test {x_test.shape}"
    )


if __name__ == "__main__":
    main()
