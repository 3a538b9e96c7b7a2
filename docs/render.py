"""Rewrite the command outputs shown in README.md and docs/*.md from real runs on real data.

    python benchmarks/mnist_idx.py            # data/mnist: the official MNIST files
    python benchmarks/fashion_mnist_pickle.py # data/fashion-mnist.pkl.gz (Debian's Fashion-MNIST)
    python docs/render.py [DOC...]            # default: README.md and every docs/*.md

Each doc's ```console and ```pycon examples run in order in a fresh folder holding those data
files, as tests/test_docs.py runs them. An example whose shown output is what zoo prints now
(every number but timings and dates: tests/test_docs.py's comparison on real data) is left as
it is, so only outputs that drifted change; the others are replaced by what this run printed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checker():
    """tests/test_docs.py, which knows how to find, run and compare the examples."""
    sys.path.insert(0, str(ROOT))  # its conftest helpers
    spec = importlib.util.spec_from_file_location("test_docs", ROOT / "tests" / "test_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_docs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def render(doc: Path, docs) -> int:
    lines = doc.read_text().splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ran = docs.run_examples(doc, folder, docs.make_real_sandbox(folder))
    changed = [
        (e, actual)
        for e, actual in ran
        if not docs.matches(e.expected, actual, docs.alike(docs.untimed))
    ]
    for example, actual in reversed(changed):
        start = example.output_at
        lines[start : start + len(example.expected)] = actual
        print(f"{doc.relative_to(ROOT)} line {example.line}: $ {example.source}")
    if changed:
        doc.write_text("\n".join(lines) + "\n")
    return len(changed)


def main() -> None:
    docs = checker()
    missing = docs.missing_real_data()
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing: see this script's docstring")
    paths = [Path(p).resolve() for p in sys.argv[1:]] or docs.DOCS
    total = sum(render(path, docs) for path in paths)
    print(f"{total} output(s) rewritten")
    # where they were written: the test compares every number exactly on the same machine
    docs.RENDERED_ON.write_text(json.dumps(docs.machine(), indent=2) + "\n")
    print(f"wrote {docs.RENDERED_ON.relative_to(ROOT)}: {docs.machine()['hardware']}")


if __name__ == "__main__":
    main()
