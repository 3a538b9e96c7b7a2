"""The ``csv`` dataset (Kaggle's digit-recognizer layout) and ``zoo csv-predict``; and CSVs that
are not what they say, each one line before anything trains."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from conftest import one_line_error, run_cli


def kaggle(folder, n=90, side=8, test=True):
    """train.csv (label + pixel columns) and test.csv (pixels only) of bars at a place a class."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    y = np.arange(n) % 3
    x = (rng.random((n, side, side)) * 60).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, :, 2 * label + 1] = 255
    header = ",".join(f"pixel{i}" for i in range(side * side))
    rows = [
        f"{label}," + ",".join(map(str, image.reshape(-1)))
        for label, image in zip(y, x, strict=True)
    ]
    (folder / "train.csv").write_text(f"label,{header}\n" + "\n".join(rows) + "\n")
    if test:
        pixels = [",".join(map(str, image.reshape(-1))) for image in x[:10]]
        (folder / "test.csv").write_text(f"{header}\n" + "\n".join(pixels) + "\n")
    return folder, y


def test_the_kaggle_layout_trains_and_csv_predict_writes_a_submission(tmp_path):
    folder, y = kaggle(tmp_path / "digits")
    splits = zoo.create_dataset("csv", path=str(folder), progress=False)
    assert splits.input_shape == (1, 8, 8) and splits.num_classes == 3
    assert (len(splits.train), len(splits.valid), splits.test) == (81, 9, None)
    assert len(splits.digest) == 64  # the rows as read: a card records it
    result = run_cli("run", "mlp", "--set", "dataset.name=csv", "--set", f"dataset.path={folder}",
                     "--epochs", "5", "--out", tmp_path / "run", cwd=tmp_path)  # fmt: skip
    assert "test.csv has no labels: it is left out" in result.stderr
    made = run_cli("csv-predict", tmp_path / "run", folder / "test.csv", "--out",
                   tmp_path / "submission.csv", cwd=tmp_path)  # fmt: skip
    assert "wrote" in made.stdout and "10 answers" in made.stdout
    lines = (tmp_path / "submission.csv").read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 11
    answers = [int(line.split(",")[1]) for line in lines[1:]]
    assert sum(a == b for a, b in zip(answers, y[:10], strict=True)) >= 8
    wide = zoo.create_dataset("csv", path=str(folder / "train.csv"), shape=[4, 16],
                              progress=False)  # fmt: skip
    assert wide.input_shape == (1, 4, 16)


def spoil(kind, path):
    """Spoil the CSV at ``path`` one way; returns what the one line says."""
    text = path.read_text().splitlines()
    if kind == "missing value":
        text[3] = text[3].replace(",255,", ",,", 1)
        expected = "could not convert string '' to float64"
    elif kind == "not a number":
        text[4] = text[4].replace(",255,", ",abc,", 1)
        expected = "could not convert string 'abc'"
    elif kind == "wrong column count":
        text[5] = text[5].rsplit(",", 1)[0]
        expected = "the number of columns changed"
    elif kind == "label out of range":
        text[2] = "-1" + text[2][1:]
        expected = "line 3: label -1 is not a class"
    elif kind == "fractional label":
        text[2] = "1.5" + text[2][1:]
        expected = "label 1.5 is not a class"
    elif kind == "pixel too bright":
        text[6] = text[6].replace(",255,", ",900,", 1)
        expected = "900 is outside 0..255"
    elif kind == "no header":
        text = text[1:]
        expected = "its first line holds numbers"
    elif kind == "not square":
        text = [",".join(line.split(",")[:-1]) for line in text]
        expected = "rows of 63 pixels are not a square picture: set dataset.shape"
    elif kind == "no rows":
        text = text[:1]
        expected = "no rows after its header"
    else:
        raise AssertionError(kind)
    path.write_text("\n".join(text) + "\n")
    return expected


KINDS = ["missing value", "not a number", "wrong column count", "label out of range",
         "fractional label", "pixel too bright", "no header", "not square", "no rows"]  # fmt: skip


@pytest.mark.hostile
@pytest.mark.parametrize("kind", KINDS)
def test_a_csv_that_is_not_what_it_says_is_one_line(tmp_path, kind):
    folder, _ = kaggle(tmp_path / "digits", test=False)
    path = folder / "train.csv"
    expected = spoil(kind, path)
    result = run_cli("run", "mlp", "--set", "dataset.name=csv", "--set", f"dataset.path={path}",
                     "--out", tmp_path / "run", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, expected)
    assert not (tmp_path / "run").exists()
