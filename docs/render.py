"""Rewrite the command outputs shown in README.md and docs/*.md from real runs on real data.

    python benchmarks/mnist_idx.py            # data/mnist: the official MNIST files
    python benchmarks/fashion_mnist_pickle.py # data/fashion-mnist.pkl.gz (Debian's Fashion-MNIST)
    python docs/render.py [DOC...]            # default: README.md and every docs/*.md

Each doc's ```console and ```pycon examples run in order in a fresh folder holding those data
files, as tests/test_docs.py runs them on small generated ones. An example whose shown output
still fits what zoo prints (tests/test_docs.py's comparison) is left as it is, so only outputs
that drifted change; the others are replaced by what this run printed.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def checker():
    """tests/test_docs.py, which knows how to find, run and compare the examples."""
    sys.path.insert(0, str(ROOT))  # its conftest helpers
    spec = importlib.util.spec_from_file_location("test_docs", ROOT / "tests" / "test_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_docs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def real_sandbox(folder: Path) -> None:
    """Links to the real data files, and pictures of real test images."""
    import numpy as np
    from PIL import Image

    data = folder / "data"
    data.mkdir()
    for link, target in {
        "mnist": ROOT / "data" / "mnist",
        "fashion-mnist": FASHION,
        "fashion-mnist.pkl.gz": ROOT / "data" / "fashion-mnist.pkl.gz",
    }.items():
        if not target.exists():
            raise SystemExit(f"{target} is missing: see this script's docstring")
        (data / link).symlink_to(target)

    def first_test_images(source: Path, count: int) -> np.ndarray:
        raw = gzip.decompress((source / "t10k-images-idx3-ubyte.gz").read_bytes())
        return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count]

    pictures = {"digit.png": first_test_images(data / "mnist", 1)[0]}
    pictures |= dict(zip(("boot.png", "sweater.png"), first_test_images(FASHION, 2), strict=True))
    for name, image in pictures.items():  # dark on light, bigger: as a photo would be
        Image.fromarray(255 - image).resize((90, 90)).save(folder / name)


def render(doc: Path, docs) -> int:
    lines = doc.read_text().splitlines()
    shown = docs.examples(doc)
    changed = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        real_sandbox(folder)
        env = docs.environment(folder / "home")
        namespace: dict = {}
        for example in shown:
            if example.kind == "console":
                actual = docs.run_console(example.source, folder, env)
            else:
                actual = docs.run_python(example.source, namespace, folder, env)
            if not docs.matches(example.expected, actual):
                changed.append((example, actual))
    for example, actual in reversed(changed):
        start = example.output_at
        lines[start : start + len(example.expected)] = actual
        print(f"{doc.relative_to(ROOT)} line {example.line}: $ {example.source}")
    if changed:
        doc.write_text("\n".join(lines) + "\n")
    return len(changed)


def main() -> None:
    docs = checker()
    paths = [Path(p).resolve() for p in sys.argv[1:]] or docs.DOCS
    total = sum(render(path, docs) for path in paths)
    print(f"{total} output(s) rewritten")


if __name__ == "__main__":
    main()
