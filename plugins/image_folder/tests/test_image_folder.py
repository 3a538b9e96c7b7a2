"""The ``image_folder`` dataset: a folder of class folders (or train/valid/test of them) read once
into a prepared copy, then read back in memory or streamed past a memory budget; trained on,
predicted with its class names, fine-tuned from shipped weights; and folders that are not what
they seem, each one line with nothing half-written in the cache."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zoo
from conftest import one_line_error, run_cli

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220)}


def shapes_folder(root: Path, per_class=20, sizes=((32, 32), (40, 32)), grey=False) -> Path:
    """Class folders of pictures of a coloured square on a dark ground (PNG and JPEG, two sizes:
    the first the most common), a class per colour; grey: a bar at a place per class."""
    rng = np.random.default_rng(0)
    for c, (name, colour) in enumerate(COLOURS.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = sizes[0] if i % 3 else sizes[-1]
            pixels = (rng.random((h, w, 3)) * 40).astype(np.uint8)
            x, y = rng.integers(2, 10, 2)
            if grey:
                pixels[:, 6 + 8 * c : 10 + 8 * c] = 230
                picture = Image.fromarray(pixels[..., 0], "L")
            else:
                pixels[y : y + 14, x : x + 14] = colour
                picture = Image.fromarray(pixels, "RGB")
            picture.save(root / name / f"{i:03}.{'png' if i % 2 else 'jpg'}", quality=95)
    return root


def options(path, **more):
    return {"dataset.name": "image_folder", "dataset.path": str(path), "dataset.progress": False,
            **{f"dataset.{k}": v for k, v in more.items()}}  # fmt: skip


def prepared(home: Path) -> list[Path]:
    return sorted((home / "datasets" / "image_folder").glob("prepared-*.npys"))


def test_a_folder_trains_predicts_with_its_class_names_and_is_prepared_once(tmp_path, capfd):
    folder = shapes_folder(tmp_path / "shapes")
    (folder / "red" / ".DS_Store").write_bytes(b"\0\1junk")
    (folder / "green" / "Thumbs.db").write_bytes(b"junk")
    (folder / "notes.txt").write_text("not a class")
    (folder / "blue" / "readme.md").write_text("not a picture")
    splits = zoo.create_dataset("image_folder", path=str(folder))
    assert splits.classes == ("blue", "green", "red")  # sorted folder names: the class indices
    assert splits.input_shape == (3, 32, 32) and splits.num_classes == 3  # the most common size
    assert (len(splits.train), len(splits.valid), splits.test) == (54, 6, None)
    assert sorted(int(y) for _, y in splits.valid) == [0, 0, 1, 1, 2, 2]  # stratified
    first = capfd.readouterr().err
    assert "preparing 60 pictures of 3 classes" in first and "3x32x32 RGB" in first
    again = zoo.create_dataset("image_folder", path=str(folder))
    assert "preparing" not in capfd.readouterr().err  # the prepared copy, not the pictures
    assert [float(x.sum()) for x, _ in again.train] == [float(x.sum()) for x, _ in splits.train]
    home = Path(os.environ["ZOO_HOME"])
    assert len(prepared(home)) == 1
    run = zoo.train("bn_cnn", overrides=options(folder) | {"augment": None}, epochs=4,
                    out=tmp_path / "run")  # fmt: skip
    assert run.status == "complete"
    picture = folder / "red" / "001.png"
    ((_, guesses),) = zoo.predict(run.dir, [picture], top=3)
    assert sorted(name for name, _ in guesses) == ["blue", "green", "red"]
    assert zoo.list_runs(tmp_path)[0].classes == ["blue", "green", "red"]
    Image.new("RGB", (32, 32), (200, 30, 30)).save(folder / "red" / "new.png")  # one more
    zoo.create_dataset("image_folder", path=str(folder))
    assert "preparing 61 pictures" in capfd.readouterr().err
    assert len(prepared(home)) == 2


def test_the_picture_zoo_predict_reads_is_the_one_the_dataset_trained_on(tmp_path):
    folder = shapes_folder(tmp_path / "shapes", per_class=4)
    big = Image.fromarray((np.random.default_rng(1).random((90, 120, 3)) * 255).astype(np.uint8))
    big.save(folder / "red" / "big.png")
    splits = zoo.create_dataset("image_folder", path=str(folder), size=24, valid=0.5, seed=3)
    from zoo.runs.images import read_image

    row = read_image(folder / "red" / "big.png", (3, 24, 24), style="photo")
    rows = [x for x, _ in list(splits.train) + list(splits.valid)]
    assert any(bool((r == row[0]).all()) for r in rows)  # the same bytes, through one function
    expected = big.resize((32, 24), Image.Resampling.BILINEAR).crop((4, 0, 28, 24))
    want = np.asarray(expected, np.float32).transpose(2, 0, 1).reshape(-1) / 255  # Resize+Crop
    assert np.allclose(row[0].numpy(), want, atol=1e-6)


def test_train_valid_test_folders_and_a_grey_folder(tmp_path):
    for split in ("train", "val", "test"):
        shapes_folder(tmp_path / "split" / split, per_class=6, sizes=((28, 28),), grey=True)
    splits = zoo.create_dataset("image_folder", path=str(tmp_path / "split"), progress=False)
    assert splits.input_shape == (1, 28, 28)  # grey found from the pictures
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (18, 18, 18)
    rgb = zoo.create_dataset("image_folder", path=str(tmp_path / "split"), mode="rgb",
                             progress=False)  # fmt: skip
    assert rgb.input_shape == (3, 28, 28)


def test_past_the_memory_budget_it_streams_with_the_same_numbers(tmp_path, capfd):
    folder = shapes_folder(tmp_path / "shapes", per_class=30)
    kept = zoo.train("mlp", overrides=options(folder), epochs=2, out=tmp_path / "memory")
    streamed = zoo.train("mlp", overrides=options(folder, memory_budget_mb=1, progress=True),
                         epochs=2, out=tmp_path / "stream")  # fmt: skip
    assert "streamed from disk (0.0 GB as floats is more than the memory budget" in (
        capfd.readouterr().err
    )
    fits = zoo.create_dataset("image_folder", path=str(folder), memory_budget_mb=2)
    assert type(fits.train).__name__ == "TensorDataset"  # 1.1 MB of floats: in memory
    huge = zoo.create_dataset("image_folder", path=str(folder), memory_budget_mb=2, size=256)
    assert type(huge.train).__name__ == "OnDisk" and len(huge.train) == 81
    x, y = huge.train[0]
    assert x.shape == (3 * 256 * 256,) and 0 <= float(x.min()) <= float(x.max()) <= 1
    a, b = kept.history, streamed.history
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b]


def test_many_pictures_are_prepared_by_worker_processes(tmp_path, capfd, monkeypatch):
    from zoo_image_folder import prepared as module

    monkeypatch.setattr(module, "SAMPLE", 1)  # the sample sees the first picture only
    root = tmp_path / "many"
    rng = np.random.default_rng(0)
    for c in range(2):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(1100):
            pixels = (rng.random((8, 8)) * 100 + 100 * c).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / f"class{c}" / f"{i}.png")
    (root / "class1" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.new("RGB", (8, 8), (250, 0, 0)).save(root / "class1" / "7.png")  # one with colour
    splits = zoo.create_dataset("image_folder", path=str(root), workers=2, on_error="skip")
    err = capfd.readouterr().err
    assert "1 pictures that could not be read were skipped" in err and "class1/0.png" in err
    assert "a sample of the pictures said 1x8x8 grey, the whole folder says 3x8x8 RGB" in err
    assert len(splits.train) + len(splits.valid) == 2199
    x = splits.train.tensors[0]
    assert x.shape[1] == 3 * 64 and float(x.max()) <= 1.0
    every = np.concatenate([splits.train.tensors[0].numpy(), splits.valid.tensors[0].numpy()])
    red = (every.reshape(-1, 3, 64)[:, 0] > 0.97) & (every.reshape(-1, 3, 64)[:, 1] == 0)
    assert red.all(axis=1).sum() == 1  # the picture with colour, decoded as it is
    script = tmp_path / "train.py"  # a script with no `if __name__ == "__main__":` guard
    script.write_text(
        "import sys, zoo\nprint('the script ran')\n"
        "s = zoo.create_dataset('image_folder', path=sys.argv[1], workers=2, on_error='skip')\n"
        "print(len(s.train) + len(s.valid))\n"
    )
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home")}
    for how in ([str(script)], ["-"]):  # a file, and a script with no file (a notebook's case)
        done = subprocess.run([sys.executable, *how, str(root)], capture_output=True, text=True,
                              env=env, input=script.read_text(), check=True)  # fmt: skip
        assert done.stdout.split("\n")[:2] == ["the script ran", "2199"]  # once: not in workers
        shutil.rmtree(tmp_path / "home")


def test_fine_tuning_shipped_weights_on_a_folder_says_what_starts_afresh(tmp_path):
    folder = shapes_folder(tmp_path / "shapes", per_class=6)
    result = run_cli("run", "bn_cnn", "--init", "bn_cnn.mnist", "--set",
                     "dataset.name=image_folder", "--set", f"dataset.path={folder}",
                     "--epochs", "4", "--out", tmp_path / "ft", cwd=tmp_path)  # fmt: skip
    assert "--init weights 'bn_cnn.mnist': 30 of 32 tensors loaded" in result.stdout
    assert "features.0.weight [16, 1, 3, 3] -> [16, 3, 3, 3] (its filters spread over RGB)" in (
        result.stdout
    )
    assert "classifier.weight [10, 64] -> [3, 64]" in result.stdout
    tutorial = run_cli("run", "cnn", "--set", "dataset.name=image_folder", "--set",
                       f"dataset.path={folder}", "--set", "dataset.size=64", "--out",
                       tmp_path / "no", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(tutorial, "model 'cnn' is the tutorial's CNN, written for 28 x 28 digits")
    assert not (tmp_path / "no").exists()


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares ``width`` x ``height`` (a picture bomb: a few bytes)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))  # fmt: skip

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))  # fmt: skip


def hostile(kind: str, root: Path) -> str:
    """A folder of pictures with one thing wrong, and what the one line says."""
    shapes_folder(root, per_class=4)
    if kind == "corrupt":
        (root / "red" / "000.jpg").write_bytes((root / "red" / "000.jpg").read_bytes()[:300])
        return "red/000.jpg: cannot read this picture"
    if kind == "not a picture":
        (root / "red" / "001.png").write_bytes(b"GIF89a, or maybe not")
        return "red/001.png: cannot read this picture"
    if kind == "bomb":
        _png_header_only(root / "red" / "bomb.png", 40_000, 40_000)
        return "bomb.png: cannot read this picture (a picture larger than zoo reads"
    if kind == "empty class":
        (root / "yellow").mkdir()
        return "yellow: a class folder with no pictures"
    if kind == "one class":
        for name in ("green", "blue"):
            for p in (root / name).iterdir():
                p.unlink()
            (root / name).rmdir()
        return "holds one class folder ('red')"
    if kind == "symlink out":
        outside = root.parent / "outside.png"
        Image.new("RGB", (32, 32)).save(outside)
        (root / "red" / "link.png").symlink_to(outside)
        return "a symlink out of"
    if kind == "symlinked folder out":
        (root.parent / "elsewhere").mkdir()
        (root / "grey").symlink_to(root.parent / "elsewhere")
        return "a symlink out of"
    if kind == "case":
        (root / "Red").mkdir()
        Image.new("RGB", (32, 32)).save(root / "Red" / "x.png")
        return "'Red' and 'red' differ only in case"
    if kind == "many classes":
        for i in range(10_001):
            (root / f"c{i}").mkdir()
        return "more than 10,000 class folders"
    if kind == "no classes":
        for p in sorted(root.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        return "holds no class folders"
    if kind == "class outside train":
        shutil_move(root, root.parent / "t")
        (root / "train").parent.mkdir(exist_ok=True)
        (root.parent / "t").rename(root / "train")
        (root / "valid" / "purple").mkdir(parents=True)
        return "class folder 'purple' is not among train's classes"
    raise AssertionError(kind)


def shutil_move(a: Path, b: Path) -> None:
    a.rename(b)
    a.mkdir()


KINDS = ["corrupt", "not a picture", "bomb", "empty class", "one class", "symlink out",
         "symlinked folder out", "case", "many classes", "no classes",
         "class outside train"]  # fmt: skip


@pytest.mark.hostile
@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_that_is_not_what_it_seems_is_one_line_and_leaves_no_copy(tmp_path, kind):
    root = tmp_path / "pictures"
    expected = hostile(kind, root)
    result = run_cli("run", "mlp", "--set", "dataset.name=image_folder", "--set",
                     f"dataset.path={root}", "--out", tmp_path / "run", cwd=tmp_path,
                     check=False)  # fmt: skip
    one_line_error(result, expected)
    assert not (tmp_path / "run").exists()
    cache = Path(os.environ["ZOO_HOME"]) / "datasets" / "image_folder"
    left = (
        [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] if cache.exists() else []
    )
    assert left == []  # nothing half-written, nothing recorded


@pytest.mark.hostile
def test_a_bad_picture_skipped_is_counted_in_one_line(tmp_path):
    root = tmp_path / "pictures"
    hostile("corrupt", root)
    result = run_cli("run", "mlp", "--set", "dataset.name=image_folder", "--set",
                     f"dataset.path={root}", "--set", "dataset.on_error=skip", "--epochs", "1",
                     "--out", tmp_path / "run", cwd=tmp_path)  # fmt: skip
    assert "1 pictures that could not be read were skipped (the first: red/000.jpg" in (
        result.stderr
    )
    assert "59 pictures of 3 classes" not in result.stderr  # 4 per class: 11 read
    assert "11 pictures of 3 classes" in result.stderr
    bad = run_cli("run", "mlp", "--set", "dataset.name=image_folder", "--set",
                  f"dataset.path={root}", "--set", "dataset.size=5000", cwd=tmp_path,
                  check=False)  # fmt: skip
    one_line_error(bad, "dataset.size: expected a side or [height, width], each 1 to 1024")


@pytest.mark.hostile
def test_a_damaged_prepared_copy_is_removed_and_said(tmp_path):
    folder = shapes_folder(tmp_path / "shapes", per_class=4)
    zoo.create_dataset("image_folder", path=str(folder), progress=False)
    (copy,) = prepared(Path(os.environ["ZOO_HOME"]))
    data = bytearray(copy.read_bytes())
    data[-200] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(zoo.DataError, match="was damaged .* and is removed: run again"):
        zoo.create_dataset("image_folder", path=str(folder), progress=False)
    assert not copy.exists()
    assert zoo.create_dataset("image_folder", path=str(folder), progress=False).num_classes == 3


@pytest.mark.hostile
def test_a_picture_swapped_for_a_symlink_out_after_the_scan_is_not_read(tmp_path):
    from zoo_image_folder import decode

    root = tmp_path / "pictures"
    (root / "a").mkdir(parents=True)
    Image.new("L", (4, 4), 7).save(root / "a" / "in.png")
    Image.new("L", (4, 4), 200).save(tmp_path / "secret.png")
    (root / "a" / "link.png").symlink_to(root / "a" / "in.png")  # inside: read
    (root / "a" / "out.png").symlink_to(tmp_path / "secret.png")  # out: refused
    (root / "b").symlink_to(tmp_path)  # a folder swapped for a link out
    out = tmp_path / "rows"
    out.write_bytes(bytes(16 * 4))
    names = ["a/in.png", "a/link.png", "a/out.png", "b/secret.png"]
    heads, failures = decode.prepare_chunk(str(root), names, 0, str(out), 0, (4, 4), True)
    assert heads[:2] == [(4, 4, True), (4, 4, True)] and heads[2:] == [None, None]
    assert [i for i, _ in failures] == [2, 3]
    assert all("now leads out of" in reason for _, reason in failures)
    assert out.read_bytes() == bytes([7] * 32 + [0] * 32)


def test_published_from_a_folder_run_it_keeps_its_classes_and_says_when_the_data_differs(
    tmp_path, site
):
    import json

    folder = shapes_folder(tmp_path / "shapes", per_class=8)
    run = zoo.train("mlp", overrides=options(folder) | {"augment": None}, epochs=2,
                    out=tmp_path / "run")  # fmt: skip
    made = run_cli("new-plugin", "shapes", "--from-run", run.dir, "--tag", "shapes",
                   cwd=tmp_path)  # fmt: skip
    assert "wrote zoo-shapes/ with the weights mlp.shapes" in made.stdout
    card = json.loads((tmp_path / "zoo-shapes/zoo_shapes/weights/mlp.shapes.json").read_text())
    dataset = card["dataset"]
    assert dataset["classes"] == ["blue", "green", "red"] and dataset["pictures"] == "photo"
    assert dataset["name"] == "image_folder" and len(dataset["data_sha256"]) == 64
    assert "path" not in card["recipe"]["config"]["dataset"]  # where the pictures were stays here
    site.publish(run.dir, "mlp.shapes")
    again = run_cli("reproduce", "mlp.shapes", "--set", f"dataset.path={folder}", "--out",
                    tmp_path / "again", cwd=tmp_path)  # fmt: skip
    assert "reproduced exactly" in again.stdout and "other data" not in again.stdout
    Image.new("RGB", (32, 32), (10, 200, 10)).save(folder / "green" / "000.jpg")  # one changed
    other = run_cli("reproduce", "mlp.shapes", "--set", f"dataset.path={folder}", "--out",
                    tmp_path / "other", cwd=tmp_path)  # fmt: skip
    line = next(x for x in other.stdout.splitlines() if "other data" in x)
    assert f"the card's was read as sha256 {dataset['data_sha256'][:12]}..." in line
    assert "other numbers are expected" in line


@pytest.mark.hostile
def test_a_worker_that_dies_or_fails_is_one_line_not_a_hang(tmp_path):
    from zoo_image_folder.pool import Workers

    task = {"root": str(tmp_path), "paths": ["a/1.png"], "first": 0, "out": str(tmp_path / "no"),
            "offset": 0, "size": [4, 4], "grey": True}  # fmt: skip
    with Workers(1) as pool:  # its copy is not there to write into
        with pytest.raises(zoo.DataError, match="a worker could not decode its pictures"):
            list(pool.map([task]))
    with pytest.raises(zoo.DataError, match="ended without an answer .* try dataset.workers=1"):
        with Workers(1) as pool:
            pool.procs[0].kill()  # as a decoder that crashes takes its process down
            pool.procs[0].wait()
            list(pool.map([task]))
