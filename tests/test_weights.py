"""Trained weights as entries of the zoo: the ones the built-in plugins ship (listed, shown,
built, predicting offline right after install), registered by a plugin's card (checked: sha256,
size, a file inside the package, shapes that fit), started from (--init), published from a run
(new-plugin --from-run, built and installed offline), reproduced from their recipe, exported."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from conftest import one_line_error, run_cli, run_process

SHIPPED = [
    "bn_cnn.fashion_mnist",
    "bn_cnn.mnist",
    "cnn.fashion_mnist",
    "cnn.mnist",
    "lenet5.fashion_mnist",
    "lenet5.mnist",
    "logistic.mnist",
    "mlp.fashion_mnist",
    "mlp.mnist",
    "sequential_cnn.mnist",
]


def digit_png(path: Path) -> Path:
    """A light stroke on black, as MNIST's digits are."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (28, 28))
    ImageDraw.Draw(image).line([(14, 4), (14, 24)], fill=255, width=3)
    image.save(path)
    return path


# --- the weights the built-in plugins ship ------------------------------------------------------


def test_the_shipped_weights_are_listed_with_their_test_accuracy(tmp_path):
    listed = run_cli("list", "weights", cwd=tmp_path).stdout  # the results table
    assert listed.splitlines()[0].split()[:4] == ["weights", "model", "dataset", "test"]
    lines = {line.split()[0]: line for line in listed.splitlines()[1:]}
    for name in SHIPPED:
        assert name in lines
    assert "94.34%" in lines["cnn.mnist"]
    everything = run_cli("list", cwd=tmp_path).stdout  # every kind: the weights' one-line cards
    assert "cnn trained on mnist: test accuracy" in everything
    assert zoo.list_weights("*mnist") == SHIPPED
    assert zoo.list_weights("cnn.*") == ["cnn.fashion_mnist", "cnn.mnist"]


def test_zoo_show_prints_the_card(tmp_path):
    card = zoo.get_weights("cnn.mnist")
    shown = run_cli("show", "cnn.mnist", cwd=tmp_path).stdout
    assert shown.startswith("cnn.mnist: cnn trained on mnist: test accuracy")
    assert card.sha256 in shown and f"{card.size:,} bytes" in shown
    assert f"accuracy {card.metrics['test_acc']:.2%}" in shown
    assert "source     plugin 'cnn' (zoo-cnn 0.1.0)" in shown
    assert "zoo reproduce cnn.mnist" in shown and "optimizer:\n  name: sgd" in shown
    # the card's numbers are real: 10 epochs of the tutorial's recipe on the official MNIST
    assert card.metrics["epoch"] == 10 and 0.9 < card.metrics["test_acc"] < 1
    assert card.recipe["config"]["dataset"] == {"name": "mnist", "format": "idx"}


def test_create_model_by_weights_name_checks_the_file_and_gives_eval_mode():
    import torch
    from safetensors.torch import load_file

    card = zoo.get_weights("cnn.mnist")
    assert hashlib.sha256(card.file.read_bytes()).hexdigest() == card.sha256
    by_name = zoo.create_model("cnn.mnist")
    by_tag = zoo.create_model("cnn", weights="mnist")
    assert not by_name.training and not by_tag.training
    stored = load_file(card.file)
    for key, value in by_name.state_dict().items():
        assert torch.equal(value, stored[key]) and torch.equal(value, by_tag.state_dict()[key])
    assert zoo.create_model("sequential_cnn.mnist")(torch.zeros(2, 784)).shape == (2, 10)


def test_predict_works_right_after_install_offline(tmp_path):
    image = digit_png(tmp_path / "one.png")
    env = {"ZOO_OFFLINE": "1", "HOME": str(tmp_path), "ZOO_HOME": str(tmp_path / "empty")}
    result = run_process("predict", "cnn.mnist", image, "--top", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"{image}: ") and line.count("%") == 3
    assert not (tmp_path / "empty").exists()  # nothing downloaded, nothing cached


def test_predict_takes_a_folder_of_pictures(tmp_path):
    import shutil

    folder = tmp_path / "pictures"
    shutil.copytree(Path(__file__).parent / "digits", folder)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden and not a picture: ignored
    (folder / "README.md").rename(folder / "notes.md")
    (folder / "sub").mkdir()  # a subfolder is not entered
    shutil.copy(folder / "mnist-test-0000-label-7.png", folder / "sub" / "again.png")
    pictures = sorted(folder.glob("*.png"))
    one_by_one = run_cli("predict", "cnn.mnist", *pictures, cwd=tmp_path).stdout
    together = run_cli("predict", "cnn.mnist", f"{folder}/", cwd=tmp_path).stdout
    assert together == one_by_one and len(together.splitlines()) == 10
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(
        run_cli("predict", "cnn.mnist", empty, cwd=tmp_path, check=False), "holds no pictures"
    )


def test_eval_measures_registered_weights_on_the_dataset(tmp_path, idx_dir):
    result = run_cli(
        "eval",
        "cnn.mnist",
        "--split",
        "test",
        "--set",
        f"dataset.path={idx_dir}",
        cwd=tmp_path,
    )
    assert result.stdout.startswith("weights 'cnn.mnist' on test (30 samples): loss ")
    got = zoo.evaluate("cnn.mnist", split="test", overrides={"dataset.path": str(idx_dir)})
    assert got["which"] == "cnn.mnist" and got["samples"] == 30


@pytest.mark.hostile
def test_unknown_weights_get_did_you_mean(tmp_path):
    image = digit_png(tmp_path / "x.png")
    one_line_error(
        run_cli("predict", "cnn.mnst", image, cwd=tmp_path, check=False), "did you mean 'cnn.mnist'"
    )
    with pytest.raises(zoo.ZooError, match="did you mean 'mnist'"):
        zoo.create_model("cnn", weights="mnst")
    with pytest.raises(zoo.UnknownNameError, match="did you mean 'cnn.mnist'"):
        zoo.get_weights("cnn.mnsit")


# --- a plugin's weights, checked before anything is loaded --------------------------------------

PLUGIN = """
from pathlib import Path
import zoo

HERE = Path(__file__).parent


@zoo.hookimpl
def register_weights(register):
    for card in sorted((HERE / "weights").glob("*.json")):
        register(card.stem, card)
"""


def install_weights(site, name: str, cards: dict[str, dict], files: dict[str, bytes]) -> Path:
    """A distribution zoo-<name> registering a card per ``cards`` entry, with ``files``."""
    site.install(name, name, PLUGIN)
    folder = site.path / f"zoo_{name}" / "weights"
    folder.mkdir()
    for file, data in files.items():
        (folder / file).write_bytes(data)
    for weights, fields in cards.items():
        (folder / f"{weights}.json").write_text(json.dumps(fields))
    zoo.api.reset()
    return folder


def card_of(data: bytes, **changes) -> dict:
    shipped = json.loads(zoo.get_weights("cnn.mnist").file.with_suffix(".json").read_text())
    fields = {**shipped, "file": "w.safetensors", "size": len(data)}
    fields["sha256"] = hashlib.sha256(data).hexdigest()
    return {**fields, **changes}


@pytest.mark.hostile
@pytest.mark.parametrize(
    "case, expected",
    [
        ("tampered", "the file was changed, and was not loaded"),
        ("truncated", "the file is truncated or replaced"),
        ("outside", "is outside the plugin's package"),
        ("shapes", "conv1.weight is [16, 1, 3, 3] in the weights, [8, 1, 3, 3] in the model"),
        ("not json", "is not valid JSON"),
        ("bad sha", "card field 'sha256' must be"),
    ],
)
def test_a_bad_weights_entry_is_one_line_and_nothing_else_is_affected(
    tmp_path, site, case, expected
):
    good = zoo.get_weights("cnn.mnist").file.read_bytes()
    card, files = card_of(good), {"w.safetensors": good, "fine.safetensors": good}
    if case == "tampered":
        files["w.safetensors"] = good[:-1] + bytes([good[-1] ^ 1])
    elif case == "truncated":
        files["w.safetensors"] = good[:1000]
    elif case == "outside":
        card["file"] = "../../../../elsewhere.safetensors"
        (tmp_path / "elsewhere.safetensors").write_bytes(good)
    elif case == "shapes":
        card["options"] = {"channels": 8}
    elif case == "bad sha":
        card["sha256"] = "not-a-hash"
    folder = install_weights(
        site, "mine", {"cnn.mine": card, "cnn.fine": card_of(good, file="fine.safetensors")}, files
    )
    if case == "not json":
        (folder / "cnn.mine.json").write_text("{'model': cnn")
    image = digit_png(tmp_path / "x.png")
    result = run_process("predict", "cnn.mine", image, cwd=tmp_path)
    one_line_error(result, "weights 'cnn.mine'", expected)
    with pytest.raises(zoo.ZooError, match="cnn.mine"):
        zoo.create_model("cnn.mine")
    # the same plugin's good entry, and everything else, still work
    assert run_process("predict", "cnn.fine", image, cwd=tmp_path).returncode == 0
    listed = run_cli("list", "weights", cwd=tmp_path).stdout
    assert "cnn.mine" in listed and "cnn.mnist" in listed
    if case in ("outside", "not json", "bad sha"):
        assert "(unusable: " in listed  # the card itself is bad: zoo list says so


def test_weights_given_by_url_are_downloaded_once_verified(tmp_path, site, server):
    good = zoo.get_weights("cnn.mnist").file.read_bytes()
    (server.root / "cnn.safetensors").write_bytes(good)
    server.routes["/evil.safetensors"] = (200, good[:-4] + b"evil", "application/octet-stream")
    remote = card_of(good, urls=[server.url("cnn.safetensors")])
    del remote["file"]
    evil = {**remote, "urls": [server.url("evil.safetensors")]}
    install_weights(site, "remote", {"cnn.remote": remote, "cnn.evil": evil}, {})
    image = digit_png(tmp_path / "x.png")
    first = run_process("predict", "cnn.remote", image, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    cached = list((zoo.zoo_home() / "weights").rglob("*.safetensors"))
    assert [p.read_bytes() for p in cached] == [good]
    requests = len(server.requests)
    again = run_process("predict", "cnn.remote", image, cwd=tmp_path, env={"ZOO_OFFLINE": "1"})
    assert again.stdout == first.stdout and len(server.requests) == requests
    bad = run_process("predict", "cnn.evil", image, cwd=tmp_path)
    one_line_error(bad, "weights 'cnn.evil'", "sha256")
    assert len(list((zoo.zoo_home() / "weights").rglob("*.safetensors"))) == 1  # not kept


# --- start from weights, publish, reproduce -----------------------------------------------------


def train_quick(tmp_path, mnist_file, out="run", **overrides):
    return zoo.train(
        "logistic",
        overrides={"dataset.path": str(mnist_file), **overrides},
        epochs=1,
        out=tmp_path / out,
    )


def test_init_starts_from_registered_weights_or_a_run(tmp_path, mnist_file):
    import torch

    first = train_quick(tmp_path, mnist_file, "first")
    # with a learning rate of 0 the run's weights stay what it started from
    frozen = train_quick(tmp_path, mnist_file, "frozen", init=str(first.dir), **{"optimizer.lr": 0})
    best = zoo.load_run(first.dir, which="best")
    for key, value in frozen.model.state_dict().items():
        assert torch.equal(value, best.state_dict()[key])
    result = run_cli(
        "run",
        "logistic",
        "--init",
        "logistic.mnist",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        "optimizer.lr=0",
        "--epochs",
        "1",
        "--out",
        tmp_path / "from-card",
        cwd=tmp_path,
    )
    assert result.returncode == 0
    shipped = zoo.create_model("logistic.mnist").state_dict()
    again = zoo.load_run(tmp_path / "from-card").state_dict()
    assert all(torch.equal(again[k], v) for k, v in shipped.items())


@pytest.mark.hostile
def test_init_that_does_not_fit_is_one_line_naming_tensors(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "cnn",
        "--init",
        "cnn.mnist",
        "--set",
        "model.channels=4",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        tmp_path / "no",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "--init weights 'cnn.mnist' do not fit the model", "conv1.weight is")
    assert not (tmp_path / "no").exists()
    nowhere = run_cli("run", "cnn", "--init", "cnn.mnst", cwd=tmp_path, check=False)
    one_line_error(nowhere, "did you mean 'cnn.mnist'")


def test_a_run_published_as_a_plugin_appears_and_reproduces_exactly(tmp_path, mnist_file):
    run = train_quick(tmp_path, mnist_file)
    made = run_cli(
        "new-plugin",
        "tiny",
        "--from-run",
        run.dir,
        "--tag",
        "tiny",
        "--set",
        f"dataset.path={mnist_file}",
        cwd=tmp_path,
    )
    assert "wrote zoo-tiny/ with the weights logistic.tiny (test accuracy" in made.stdout
    card = json.loads((tmp_path / "zoo-tiny/zoo_tiny/weights/logistic.tiny.json").read_text())
    assert "path" not in card["recipe"]["config"]["dataset"]  # where the data was stays here
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), str(tmp_path / "zoo-tiny")],
        check=True,
        capture_output=True,
    )
    assert (site / "zoo_tiny" / "weights" / "logistic.tiny.safetensors").is_file()
    env = {"PYTHONPATH": str(site)}
    listed = run_process("list", "weights", cwd=tmp_path, env=env).stdout
    assert "logistic.tiny" in listed and "tiny" in listed
    again = run_process(
        "reproduce",
        "logistic.tiny",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        tmp_path / "again",
        cwd=tmp_path,
        env=env,
    )
    assert again.returncode == 0, again.stderr
    assert "reproduced exactly: 6 of 6 match" in again.stdout, again.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "zoo-tiny",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr


def test_a_reproduction_on_other_hardware_says_what_differs_and_how_far(tmp_path, mnist_file, site):
    run = train_quick(tmp_path, mnist_file)
    card = site.publish(run.dir, "logistic.tiny")
    fields = json.loads(card.read_text())
    fields["hardware"] = "AMD EPYC 7B13, 2 cores"  # where the card was made (this is another)
    fields["metrics"]["val_loss"] = round(fields["metrics"]["val_loss"] * 1.004, 6)
    card.write_text(json.dumps(fields))
    zoo.api.reset()
    result = run_cli(
        "reproduce", "logistic.tiny", "--set", f"dataset.path={mnist_file}", "--out",
        tmp_path / "again", cwd=tmp_path,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert "not the same numbers: 3 of 4 match" in lines, result.stdout
    assert "  close to the card's: accuracies the same, losses within 0.4%" in lines
    here = zoo.runs.provenance.hardware("cpu")
    assert f"  hardware differs: the card's AMD EPYC 7B13, 2 cores, this run's {here}" in lines
    assert any("the same kind of CPU" in line for line in lines)


@pytest.mark.hostile
def test_reproduce_takes_only_where_the_data_is(tmp_path):
    result = run_cli(
        "reproduce", "cnn.mnist", "--set", "optimizer.lr=0.1", cwd=tmp_path, check=False
    )
    one_line_error(result, "zoo reproduce --set takes where the data is here")


# --- export -------------------------------------------------------------------------------------

LOAD_WITHOUT_ZOO = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "zoo" or name.startswith(("zoo.", "zoo_")):
            raise ImportError(name + " is not installed here")
sys.meta_path.insert(0, Block())
import numpy as np
x = np.load(sys.argv[2])
if sys.argv[1].endswith(".onnx"):
    import onnxruntime
    out = onnxruntime.InferenceSession(sys.argv[1]).run(None, {"input": x})[0]
else:
    import torch
    out = torch.export.load(sys.argv[1]).module()(torch.from_numpy(x)).detach().numpy()
np.save(sys.argv[3], out)
"""


@pytest.mark.parametrize("format", ["onnx", "pt2"])
def test_exported_weights_load_without_zoo_and_agree(tmp_path, format, mnist_arrays):
    import numpy as np
    import torch

    if format == "onnx":
        pytest.importorskip("onnxruntime", reason="the test extra installs onnxruntime")
    out = tmp_path / f"model.{format}"
    result = run_cli("export", "cnn.mnist", "--format", format, "--out", out, cwd=tmp_path)
    assert result.stdout.startswith(f"wrote {out} (") and out.is_file()
    _, _, (x, _) = mnist_arrays()  # 32 digit-like rows, as the model reads them
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_ZOO, out, tmp_path / "x.npy", tmp_path / "y.npy"],
        check=True,
        capture_output=True,
    )
    with torch.inference_mode():
        expected = zoo.create_model("cnn.mnist")(torch.from_numpy(x)).numpy()
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() <= 1e-5


@pytest.mark.hostile
def test_export_mistakes_are_one_line(tmp_path):
    result = run_cli("export", "cnn.mnst", cwd=tmp_path, check=False)
    one_line_error(result, "did you mean 'cnn.mnist'")
    (tmp_path / "folder").mkdir()
    result = run_cli("export", "cnn.mnist", "--out", tmp_path / "folder", cwd=tmp_path, check=False)
    assert result.returncode != 0


@pytest.mark.hostile
def test_publishing_mistakes_are_one_line_before_anything_is_measured(tmp_path, mnist_file):
    run = train_quick(tmp_path, mnist_file)
    bad_tag = run_cli(
        "new-plugin", "mine", "--from-run", run.dir, "--tag", "a b", cwd=tmp_path, check=False
    )
    one_line_error(bad_tag, "--tag 'a b': use letters, digits")
    bad_name = run_cli("new-plugin", "Mine", "--from-run", run.dir, cwd=tmp_path, check=False)
    one_line_error(bad_name, "plugin name 'Mine'")
    assert not (tmp_path / "zoo-mine").exists() and not (tmp_path / "zoo-Mine").exists()


def test_a_run_exports_too(tmp_path, mnist_file):
    run = train_quick(tmp_path, mnist_file)
    path = zoo.export(run.dir, "pt2", out=tmp_path / "run.pt2", which="best")
    import torch

    program = torch.export.load(path).module()
    x = torch.rand(3, 784)
    assert torch.allclose(program(x), zoo.load_run(run.dir, which="best")(x), atol=1e-5)
