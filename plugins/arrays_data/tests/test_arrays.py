"""The ``arrays`` dataset: images and labels from an .npz or a folder of .npy files, grey or RGB,
channels first or last, split as given or held out per class; and arrays that are not what they
say, each one line before anything trains."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import zoo
from conftest import one_line_error, run_cli


def pictures(n=120, classes=3, shape=(28, 28), seed=0):
    """``n`` uint8 images of ``classes`` kinds: a bright bar at a place each class has."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = (rng.random((n, *shape)) * 60).astype(np.uint8)
    for i, label in enumerate(y):
        column = (label + 1) * shape[1] // (classes + 1)
        x[i, ..., column - 1 : column + 1] = 255
    return x, y.astype(np.int64)


def test_an_npz_trains_predicts_with_its_class_names_and_splits_by_class(tmp_path):
    x, y = pictures()
    np.savez_compressed(tmp_path / "bars.npz", x=x, y=y)
    names = ["left", "middle", "right"]
    splits = zoo.create_dataset("arrays", path=str(tmp_path / "bars.npz"), classes=names)
    assert (len(splits.train), len(splits.valid), splits.test) == (108, 12, None)
    assert splits.input_shape == (1, 28, 28) and splits.num_classes == 3
    held = [int(label) for _, label in splits.valid]
    assert sorted(held) == [0] * 4 + [1] * 4 + [2] * 4  # stratified: 10% of each class
    overrides = {"dataset.name": "arrays", "dataset.path": str(tmp_path / "bars.npz")}
    overrides |= {"dataset.classes": names, "dataset.progress": False}
    run = zoo.train("mlp", overrides=overrides, epochs=3, out=tmp_path / "run")
    assert run.status == "complete" and run.history[-1]["val_acc"] == 1.0
    image = splits.valid[0][0][None]
    ((label, guesses),) = zoo.predict(run.dir, image)
    assert guesses[0][0] in names
    again = zoo.create_dataset("arrays", path=str(tmp_path / "bars.npz"), seed=0)
    assert [int(v) for _, v in again.valid] == held  # the same seed, the same split
    assert again.digest == splits.digest and len(splits.digest) == 64  # a card records it
    y[0] = (y[0] + 1) % 3
    np.savez(tmp_path / "other.npz", x=x, y=y)  # one label changed, stored another way
    assert zoo.create_dataset("arrays", path=str(tmp_path / "other.npz")).digest != splits.digest
    recorded = json.loads((run.dir / "model.json").read_text())["data_sha256"]
    assert recorded == splits.digest


def test_a_folder_of_npy_splits_rgb_channels_last(tmp_path):
    x, y = pictures(60, classes=2, shape=(16, 20))
    rgb = np.repeat(x[..., None], 3, axis=3)  # [N, H, W, 3]
    for split, part in (("train", slice(0, 40)), ("valid", slice(40, 50)), ("test", slice(50, 60))):
        np.save(tmp_path / f"x_{split}.npy", rgb[part])
        np.save(tmp_path / f"y_{split}.npy", y[part])
    splits = zoo.create_dataset("arrays", path=str(tmp_path))
    assert splits.input_shape == (3, 16, 20)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (40, 10, 10)
    first = splits.train[0][0].reshape(3, 16, 20)
    assert float(first.max()) == 1.0 and bool((first[0] == first[2]).all())  # channels, in order


def test_zoo_run_on_arrays_from_the_command_line(tmp_path):
    x, y = pictures()
    np.savez(tmp_path / "bars.npz", x=x.astype(np.float32) / 255, y=y)  # floats in 0..1
    args = ("--set", "dataset.name=arrays", "--set", "dataset.path=bars.npz", "--epochs", "1")
    result = run_cli("run", "bn_cnn", *args, "--no-progress", cwd=tmp_path)
    assert "108 train / 12 valid samples" in result.stdout
    assert "bars.npz in " in result.stderr and "zoo: arrays loaded from" in result.stderr


def npz_with(tmp_path, **arrays) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


def lying_npz(tmp_path) -> str:
    """An .npz whose x header claims 10,000,000 images of 28x28 over 100 bytes of data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10_000_000, 28, 28)}
    )
    path = tmp_path / "lies.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY" + header.getvalue()[6:] + b"\0" * 100)
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(10, np.int64))
        archive.writestr("y.npy", buffer.getvalue())
    return str(path)


def pickled_npz(tmp_path) -> str:
    """An .npz whose x is an object array: loading it would unpickle (and could run code)."""
    path = tmp_path / "objects.npz"
    with zipfile.ZipFile(path, "w") as archive:
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
        archive.writestr("x.npy", buffer.getvalue())
        archive.writestr("y.npy", pickle.dumps([0, 1, 0, 1]))
    return str(path)


x, y = pictures(20)
BAD = {
    "object arrays (a pickle)": (pickled_npz, "object"),
    "a header that lies": (lying_npz, "does not match"),
    "labels out of range": (lambda t: npz_with(t, x=x, y=y - 1), "labels run -1"),
    "float labels": (lambda t: npz_with(t, x=x, y=y.astype(np.float32)), "one integer per image"),
    "counts that differ": (lambda t: npz_with(t, x=x, y=y[:-1]), "20 images, y 19 labels"),
    "one class": (lambda t: npz_with(t, x=x, y=np.zeros(20, np.int64)), "one class"),
    "NaN pixels": (lambda t: npz_with(t, x=np.full((20, 4, 4), np.nan), y=y), "not numbers"),
    "floats above 1": (lambda t: npz_with(t, x=x.astype(np.float32), y=y), "expected in 0..1"),
    "images of 5 channels": (lambda t: npz_with(t, x=np.zeros((20, 5, 4, 4)), y=y), "channels"),
    "no x or y": (lambda t: npz_with(t, images=x, labels=y), "expected x and y"),
    "not a zip": (
        lambda t: str((t / "bad.npz").write_bytes(b"junk") and t / "bad.npz"),
        "not an .npz",
    ),
}


@pytest.mark.hostile
@pytest.mark.parametrize("case", list(BAD))
def test_arrays_that_are_not_what_they_say_are_one_line(tmp_path, case):
    make, expected = BAD[case]
    path = make(tmp_path)
    result = run_cli("run", "mlp", "--set", "dataset.name=arrays", "--set", f"dataset.path={path}",
                     "--no-progress", "--out", "run", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, expected)
    assert not (tmp_path / "run").exists()  # nothing of a run begun
