"""Every command output shown in README.md and docs/*.md is checked here, so the docs cannot
drift from what zoo prints.

Each ```console block is run as written, ``$ zoo ...`` by ``$ zoo ...``, as a real process with
stderr merged into stdout (as a terminal shows them), in one sandbox per file: a fresh $HOME,
small generated stand-ins for the data files the docs name (``data/mnist/`` as IDX files,
``data/fashion-mnist.pkl.gz`` in the tutorial's pickle layout, a few PNG pictures), no network.
Each ```pycon block runs its ``>>>`` statements in one namespace per file, in that sandbox.

The output is compared line by line after normalizing what real data changes: every run of digits
reads as ``#`` and runs of spaces as one (so 50,000 samples on MNIST match 256 in the sandbox,
91.69% matches 12.50%), and the sandbox's $HOME reads as /home/me. A line ``...`` stands for any
number of lines. Wording, order, columns and the lines themselves must match.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_idx, make_mnist_arrays, write_pickle_gz
from zoo_mnist_data import FASHION_CLASSES

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CLASSES = re.compile("|".join(map(re.escape, sorted(FASHION_CLASSES, key=len, reverse=True))))
FENCE = re.compile(r"^```(console|pycon)\n(.*?)^```$", re.S | re.M)


@dataclass
class Example:
    """One command (or Python statement) of a doc and the output the doc shows for it."""

    kind: str  # "console" or "pycon"
    line: int  # where the doc shows it (1-based)
    source: str
    expected: list[str]
    output_at: int  # the index of its first output line in the doc's lines


def examples(doc: Path) -> list[Example]:
    text = doc.read_text()
    found: list[Example] = []
    for block in FENCE.finditer(text):
        kind, body = block.group(1), block.group(2)
        first = text[: block.start(2)].count("\n")  # index of the block's first line
        prompt = "$ " if kind == "console" else ">>> "
        for i, line in enumerate(body.splitlines()):
            if line.startswith(prompt):
                found.append(Example(kind, first + i + 1, line[len(prompt) :], [], first + i + 1))
            elif kind == "pycon" and line.startswith("... ") and found and not found[-1].expected:
                found[-1].source += "\n" + line[4:]
                found[-1].output_at += 1
            elif found:
                found[-1].expected.append(line)
    return found


def shape(line: str) -> str:
    """A line with what real data changes made alike: the classes a model predicts, hashes,
    numbers, size units, spacing."""
    line = CLASSES.sub("<class>", line)
    line = re.sub(r"\b[0-9a-f]{8,}\b", "#", line)  # sha256 prefixes
    line = re.sub(r"\d(?:[\d,]*\d)?", "#", line)  # 50,000 reads as 256 does
    line = re.sub(r"(#) (B|KB|MB|GB)\b", r"\1 U", line)
    return re.sub(r"\s+", " ", line).strip()


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` fits ``expected`` line by line, ``...`` matching any lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    if not actual or shape(expected[0]) != shape(actual[0]):
        return False
    return matches(expected[1:], actual[1:])


def make_sandbox(folder: Path) -> dict[str, str]:
    """The files the docs name, small and generated; returns the environment to run in."""
    import numpy as np
    from PIL import Image

    (x, y), (xv, yv), (xt, yt) = make_mnist_arrays(n_train=96, n_valid=24, n_test=24)
    write_pickle_gz(folder / "data" / "fashion-mnist.pkl.gz", ((x, y), (xv, yv), (xt, yt)))
    pixels = lambda a: (a * 255).round().astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    for name in ("mnist", "fashion-mnist"):  # the four official files of each, gzipped
        idx = folder / "data" / name
        idx.mkdir(parents=True)
        for file, array in {
            "train-images-idx3-ubyte": pixels(np.concatenate([x, xv])),
            "train-labels-idx1-ubyte": np.concatenate([y, yv]),
            "t10k-images-idx3-ubyte": pixels(xt),
            "t10k-labels-idx1-ubyte": yt,
        }.items():
            (idx / f"{file}.gz").write_bytes(gzip.compress(make_idx(array)))
    for i, name in enumerate(("digit.png", "boot.png", "sweater.png")):
        ink = 255 - pixels(xt[i : i + 1])[0]  # dark on light, bigger: as a photo would be
        Image.fromarray(ink).resize((90, 90)).save(folder / name)
    return environment(folder / "home")


def environment(home: Path) -> dict[str, str]:
    """A fresh $HOME (so zoo's cache and settings start empty), no ZOO_* variables, and 100
    columns for help texts."""
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    return {**env, "HOME": str(home), "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}


def run_console(command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    args = shlex.split(command)
    assert args[0] == "zoo", f"a console block runs zoo commands only, not: {command}"
    result = subprocess.run(
        [sys.executable, "-m", "zoo", *args[1:]],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    return result.stdout.replace(env["HOME"], "/home/me").splitlines()


def run_python(source: str, namespace: dict, cwd: Path, env: dict[str, str]) -> list[str]:
    out = io.StringIO()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    before = os.getcwd()
    os.chdir(cwd)
    try:
        from zoo import api

        api.reset()
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<doc>", "single"), namespace)  # noqa: S102 (the docs' own code)
    finally:
        os.chdir(before)
        os.environ.clear()
        os.environ.update(saved)
    return out.getvalue().replace(env["HOME"], "/home/me").splitlines()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_output_in_the_docs_is_what_zoo_prints(doc, tmp_path):
    shown = examples(doc)
    if not shown:
        pytest.skip(f"{doc.name} shows no command output")
    env = make_sandbox(tmp_path)
    namespace: dict = {}
    for example in shown:
        if example.kind == "console":
            actual = run_console(example.source, tmp_path, env)
        else:
            actual = run_python(example.source, namespace, tmp_path, env)
        assert matches(example.expected, actual), (
            f"{doc.name} line {example.line}: {example.source}\n"
            "--- the doc shows:\n" + "\n".join(example.expected) + "\n"
            "--- zoo printed:\n" + "\n".join(actual)
        )


def test_the_normalized_comparison_can_fail():
    assert matches(["a 1 b", "...", "end"], ["a 22 b", "x", "y", "end"])
    assert not matches(["a 1 b", "end"], ["a 1 c", "end"])
    assert not matches(["one line"], ["one line", "another"])
    assert examples(ROOT / "README.md"), "README.md shows no checked output"
