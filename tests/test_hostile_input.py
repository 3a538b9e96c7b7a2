"""User input that once ended in a traceback: each is now one line on stderr, a non-zero exit,
and nothing left behind."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from conftest import make_mnist_arrays, one_line_error, run_cli

#: Counted at the end of the run: how many hostile inputs zoo was tried on.
pytestmark = pytest.mark.hostile


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("dataset.retries=-1", "dataset.retries: expected 0 to 20, got -1"),
        ("dataset.timeout=-3", "dataset.timeout: expected seconds"),
        ("dataset.sha256=12", "dataset.sha256: expected str | Mapping[str, str] | None, got 12"),
        ("dataset.sha256=[a]", "got ['a'] (a list)"),
        ("dataset.sha256=" + "0" * 64, "YAML read it as int: to pass text, quote it"),
        ("dataset.path=/etc", "/etc has no train-images-idx3-ubyte"),  # a folder: IDX files
        ("model.num_classes=3", "gives 3 scores per sample but the dataset has 10 classes"),
        ("model.input_shape=[3,32,32]", "the model cannot take the dataset's samples"),
        ("optimizer.lr=abc", "optimizer.lr: expected float, got 'abc'"),
    ],
)
def test_a_bad_value_is_one_line_and_leaves_no_run(tmp_path, mnist_file, override, message):
    args = ["run", "cnn", "--epochs", "1", "--set", f"dataset.path={mnist_file}", "--out", "out"]
    if override.startswith("dataset.path"):
        args = args[:4] + args[6:]
    result = run_cli(*args, "--set", override, cwd=tmp_path, check=False)
    one_line_error(result, message)
    assert not (tmp_path / "out").exists()


def test_nan_pixels_are_refused_and_not_cached(tmp_path, zoo_home):
    (x, y), valid, test = make_mnist_arrays()
    x = x.copy()
    x[3, 100] = np.nan
    path = tmp_path / "nan.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((x, y), valid, test), f, protocol=2)
    result = run_cli("run", "logistic", "--set", f"dataset.path={path}", cwd=tmp_path, check=False)
    one_line_error(result, "train images hold values outside [0, 1]")
    assert not list(zoo_home.rglob("prepared-*"))


def test_list_says_when_nothing_matches(tmp_path):
    result = run_cli("list", "foo", cwd=tmp_path)
    assert result.stdout.strip() == "nothing matches 'foo' (zoo list shows everything zoo knows)"


def test_a_huge_picture_is_one_line(tmp_path, mnist_file):
    from PIL import Image

    run_cli("run", "logistic", "--epochs", "1", "--set", f"dataset.path={mnist_file}",
            "--out", "run", "--no-progress", cwd=tmp_path)  # fmt: skip
    Image.new("1", (15_000, 15_000)).save(tmp_path / "huge.png")  # 225 Mpixels, a few KB
    result = run_cli("predict", "run", "huge.png", cwd=tmp_path, check=False)
    one_line_error(result, "cannot read image huge.png: it is too large")


def test_a_users_file_in_the_cache_folder_is_never_deleted(tmp_path, zoo_home):
    mine = tmp_path / "mine.pkl.gz"
    mine.write_bytes(gzip.compress(b"not a pickle at all"))
    result = run_cli("data", "fetch", "mnist", "--set", f"path={mine}",
                     "--set", f"cache_dir={tmp_path}", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, "mine.pkl.gz")
    assert mine.read_bytes() == gzip.compress(b"not a pickle at all")


def test_a_full_disk_during_a_download_is_one_line(tmp_path, server, zoo_home):
    import resource
    import signal
    import subprocess
    import sys

    def small_files():  # files past 100 KB cannot be written: the download is 800 KB
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    result = subprocess.run(
        [sys.executable, "-m", "zoo", "data", "fetch", "mnist", "--set",
         f"url={server.url('mnist.pkl.gz')}", "--set", "progress=false"],
        cwd=tmp_path, capture_output=True, text=True, preexec_fn=small_files,
    )  # fmt: skip
    one_line_error(result, "File too large", "not cached")
    assert not [p for p in zoo_home.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
