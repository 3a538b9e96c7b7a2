"""The catalog worth choosing from: batch transforms (augmentation) as plugins, with exact resume;
stopping at a target; the results table of the weights (and docs/results.md in sync with it);
the cards' parameters, FLOPs, training time and hardware; the top losses and the learning-rate
range test. Small generated data: the catalog's real numbers come from plugins/ship_weights.py."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from conftest import KILLER, one_line_error, run_cli
from conftest import run_metrics as metrics
from conftest import run_weights as weights

ROOT = Path(__file__).resolve().parents[1]
AUGMENT = "augment=[{name: random_affine, degrees: 15, translate: 0.1}, random_erasing]"


def images(n=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=generator)


# --- the transforms -------------------------------------------------------------------------


#: Each built-in transform, with options that make it change an image.
BUILTIN = {
    "random_affine": {"degrees": 10, "translate": 0.1, "scale": 0.1, "shear": 5},
    "random_translate": {},
    "random_rotation": {},
    "random_flip": {},
    "random_erasing": {},
}


def test_the_builtin_transforms_are_registered():
    assert set(BUILTIN) <= set(zoo.list_transforms())


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_transform_keeps_the_shape_and_draws_only_from_its_generator(name):
    transform = zoo.create_transform(name, **BUILTIN[name])
    x = images()
    first = transform(x, torch.Generator().manual_seed(1))
    again = transform(x, torch.Generator().manual_seed(1))
    other = transform(x, torch.Generator().manual_seed(2))
    assert first.shape == x.shape and first.dtype == x.dtype
    assert torch.equal(first, again)  # the same generator state, the same batch
    assert not torch.equal(first, other)
    assert not torch.equal(first, x)


def test_what_each_transform_does():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10, 12] = 1.0
    moved = zoo.create_transform("random_translate", pixels=3)(x, torch.Generator().manual_seed(0))
    (row, col), shift = moved[0, 0].nonzero()[0].tolist(), None
    shift = (row - 10, col - 12)
    assert moved.sum() == 1 and max(map(abs, shift)) <= 3  # whole pixels, nothing blurred
    flipped = zoo.create_transform("random_flip", p=1.0)(x, torch.Generator())
    assert torch.equal(flipped, x.flip(-1))
    same = zoo.create_transform("random_affine")(images(), torch.Generator())
    torch.testing.assert_close(same, images(), atol=1e-5, rtol=0)  # no options: the identity
    ones = torch.ones(8, 1, 28, 28)
    erased = zoo.create_transform("random_erasing", p=1.0, scale=0.2)(ones, torch.Generator())
    holes = (erased == 0).flatten(1).sum(1)
    assert ((holes >= 1) & (holes <= 0.2 * 784 + 28)).all()
    untouched = zoo.create_transform("random_erasing", p=0.0)(ones, torch.Generator())
    assert torch.equal(untouched, ones)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("augment=[random_afine]", "did you mean 'random_affine'"),
        ("augment=[{name: random_rotation, degrees: 400}]", "degrees must be a number from 0"),
        ("augment=[{name: random_flip, size: 3}]", "random_flip"),
        ("augment=7", "augment: expected a list"),
    ],
)
def test_a_wrong_augment_is_one_line_before_any_data(tmp_path, override, expected):
    result = run_cli("run", "cnn", "--set", override, cwd=tmp_path, check=False)
    one_line_error(result, expected)
    assert not (tmp_path / "runs").exists()


def test_augmented_runs_train_only_on_transformed_batches_and_evaluate_plainly(
    tmp_path, mnist_file
):
    run = zoo.train(
        "cnn",
        overrides={"dataset.path": str(mnist_file), "augment": ["random_flip"]},
        epochs=1,
        out=tmp_path / "flipped",
    )
    plain = zoo.train(
        "cnn", overrides={"dataset.path": str(mnist_file)}, epochs=1, out=tmp_path / "plain"
    )
    assert run.history[0]["train_loss"] != plain.history[0]["train_loss"]
    valid = zoo.evaluate(run.dir, overrides={"dataset.path": str(mnist_file)})
    assert valid["loss"] == run.history[-1]["val_loss"]  # no transform in evaluation
    assert "augment random_flip" in (run.dir / "config.yaml").read_text().replace(
        "- name: ", "augment "
    )


@pytest.fixture(scope="module")
def augmented(tmp_path_factory):
    """An uninterrupted augmented 3-epoch run, and the arguments that make it."""
    import gzip
    import pickle

    from conftest import make_mnist_arrays

    folder = tmp_path_factory.mktemp("augmented")
    data = folder / "mnist.pkl.gz"
    with gzip.open(data, "wb") as f:
        pickle.dump(make_mnist_arrays(), f, protocol=2)
    args = ["run", "cnn", "--set", f"dataset.path={data}", "--set", AUGMENT, "--epochs", "3"]
    args += ["--no-progress"]
    run_cli(*args, "--out", folder / "reference", cwd=folder, env={"ZOO_HOME": str(folder)})
    return folder, args


@pytest.mark.parametrize(("point", "epoch"), [("between-epochs", 1), ("before-metrics", 2)])
def test_augmented_runs_resume_exactly_after_sigkill(tmp_path, augmented, point, epoch):
    folder, args = augmented
    env = {"ZOO_HOME": str(folder)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(epoch), *args, "--out", tmp_path / "killed"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_cli("resume", tmp_path / "killed", "--no-progress", cwd=tmp_path, env=env)
    reference = folder / "reference"
    assert metrics(tmp_path / "killed") == metrics(reference)
    for name, tensor in weights(reference).items():
        assert torch.equal(weights(tmp_path / "killed")[name], tensor), name


@pytest.mark.hostile
def test_a_checkpoint_without_the_augmentation_state_is_refused(tmp_path, augmented):
    import shutil

    folder, args = augmented
    run_dir = tmp_path / "copy"
    shutil.copytree(folder / "reference", run_dir)
    marker = json.loads((run_dir / "checkpoint.json").read_text())
    state_path = run_dir / marker["folder"] / "state.pt"
    state = torch.load(state_path, weights_only=True)
    del state["augment"]
    torch.save(state, state_path)
    shutil.rmtree(run_dir / "checkpoints" / "epoch-0003", ignore_errors=True)
    result = run_cli("resume", run_dir, "--epochs", "4", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_a_third_party_transform_registers_and_trains(tmp_path, site, mnist_file):
    site.install(
        "invert",
        "invert",
        "import zoo\n"
        "def invert(strength: float = 1.0):\n"
        "    '''Inverts the pixels.'''\n"
        "    return lambda images, generator: strength - images\n"
        "@zoo.hookimpl\n"
        "def register_transforms(register):\n"
        "    register('invert', invert)\n",
    )
    assert "invert" in zoo.list_transforms()
    run = zoo.train(
        "logistic",
        overrides={"dataset.path": str(mnist_file), "augment": [{"name": "invert"}]},
        epochs=1,
        out=tmp_path / "run",
    )
    assert run.history[0]["val_acc"] >= 0


# --- stopping at a target -----------------------------------------------------------------------


def test_stop_at_ends_the_run_when_the_target_is_reached(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        "callbacks=[{name: stop_at, monitor: val_acc, value: 0.0}]",
        "--epochs",
        "5",
        "--out",
        "run",
        cwd=tmp_path,
    )
    assert "reached the target after epoch 1: val_acc" in result.stdout
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1
    again = run_cli("resume", tmp_path / "run", cwd=tmp_path)
    assert "is stopped (complete by its own rule) after 1 epoch" in again.stdout


def test_mnist_fast_is_a_named_run_that_stops_at_99_percent():
    config = zoo.resolve("mnist_fast")
    assert [c.name for c in config.callbacks] == ["stop_at"]
    assert dict(config.callbacks[0].options) == {"monitor": "val_acc", "value": 0.99}


# --- cards and the results table ------------------------------------------------------------------


def test_a_runs_card_records_parameters_flops_time_and_hardware(tmp_path, mnist_file):
    from zoo.runs.weights import card_fields

    run = zoo.train(
        "cnn", overrides={"dataset.path": str(mnist_file)}, epochs=2, out=tmp_path / "run"
    )
    card = card_fields(run.dir, "cnn.tiny")
    assert card["parameters"] == 3930
    assert card["flops"] == 328_320  # 2 per multiply-accumulate of the three convolutions
    assert card["train_seconds"] == pytest.approx(
        sum(row["epoch_seconds"] for row in run.history), abs=0.1
    )
    assert card["hardware"] and "cores" in card["hardware"]


SHIPPED_NEW = {"mlp", "lenet5", "bn_cnn"}


def test_the_new_models_ship_weights_on_both_datasets_with_the_new_columns():
    rows = zoo.results()
    for model in SHIPPED_NEW:
        for dataset in ("mnist", "fashion_mnist"):
            name = f"{model}.{dataset}"
            row = next((r for r in rows if r.name == name), None)
            assert row is not None, f"{name} is not shipped"
            assert row.test_acc and row.parameters and row.flops and row.train_seconds
            assert row.hardware


def test_zoo_list_weights_prints_the_table_in_every_format(tmp_path):
    text = run_cli("list", "weights", cwd=tmp_path).stdout
    header = text.splitlines()[0].split()
    assert header[:4] == ["weights", "model", "dataset", "test"]
    assert "FLOPs" in header and "hardware" in header
    table = list(
        csv.DictReader(
            io.StringIO(run_cli("list", "weights", "--format", "csv", cwd=tmp_path).stdout)
        )
    )
    assert {r["name"] for r in table} == set(zoo.list_weights())
    items = json.loads(run_cli("list", "weights", "--format", "json", cwd=tmp_path).stdout)
    assert [i["name"] for i in items] == [r["name"] for r in table]
    by_accuracy = json.loads(
        run_cli("list", "weights", "--format", "json", "--sort", "test_acc", cwd=tmp_path).stdout
    )
    accuracies = [i["test_acc"] for i in by_accuracy]
    assert accuracies == sorted(accuracies, reverse=True)
    by_size = json.loads(
        run_cli("list", "weights", "--format", "json", "--sort", "parameters", cwd=tmp_path).stdout
    )
    sizes = [i["parameters"] for i in by_size if i["parameters"] is not None]
    assert sizes == sorted(sizes)
    markdown = run_cli("list", "weights", "--format", "markdown", cwd=tmp_path).stdout
    assert markdown.splitlines()[1].startswith("| --- |")
    one_line_error(
        run_cli("list", "weights", "--sort", "acc", cwd=tmp_path, check=False),
        "cannot sort by 'acc'",
    )


def test_docs_results_md_is_what_the_cards_say():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import results as page
    finally:
        sys.path.remove(str(ROOT / "docs"))
    written = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert written == page.page(), "docs/results.md is out of date: python docs/results.py"
    for name in zoo.list_weights():
        assert f"`zoo reproduce {name}`" in written


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("parameters", -1),
        ("flops", 10**400),
        ("train_seconds", "soon"),
        ("hardware", "\x1b[2Jgpu"),
    ],
)
def test_a_card_with_a_bad_new_field_is_refused(tmp_path, field, value):
    from zoo.plugins.cards import CardError, read_card

    card = json.loads((ROOT / "plugins/cnn/zoo_cnn/weights/cnn.mnist.json").read_text())
    card[field] = value
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "cnn.mnist.json").write_text(json.dumps(card))
    with pytest.raises(CardError, match=field):
        read_card("cnn.mnist", "cnn.mnist.json", package)


def test_a_new_model_with_augmentation_published_from_a_run_reproduces_exactly(
    tmp_path, mnist_file, site
):

    run = zoo.train(
        "bn_cnn",
        overrides={
            "dataset.path": str(mnist_file),
            "augment": ["random_flip"],
            "model.width": 4,
            "batch_size": 64,
        },
        epochs=2,
        out=tmp_path / "run",
    )
    site.publish(run.dir, "bn_cnn.tiny")
    assert zoo.get_weights("bn_cnn.tiny").train_seconds is not None
    again = zoo.reproduce(
        "bn_cnn.tiny", overrides={"dataset.path": str(mnist_file)}, out=tmp_path / "again"
    )
    assert again.exact, again.rows


# --- understanding a model ------------------------------------------------------------------------


def test_top_losses_are_the_worst_samples_drawn_with_their_classes(tmp_path, mnist_file):
    run = zoo.train(
        "logistic", overrides={"dataset.path": str(mnist_file)}, epochs=1, out=tmp_path / "run"
    )
    result = zoo.evaluate(
        run.dir, overrides={"dataset.path": str(mnist_file)}, top_losses=5, out=tmp_path / "out"
    )
    worst = result["top_losses"]
    assert len(worst) == 5
    assert [w["loss"] for w in worst] == sorted((w["loss"] for w in worst), reverse=True)
    assert all(0 <= w["index"] < 64 and 0 <= w["probability"] <= 1 for w in worst)
    assert Image.open(result["picture"]).size[0] > 100
    printed = run_cli(
        "eval", run.dir, "--set", f"dataset.path={mnist_file}", "--top-losses", "3", cwd=tmp_path
    ).stdout
    assert "the 3 valid samples with the highest loss (true > predicted):" in printed
    assert (run.dir / "top-losses-valid.png").is_file()


def test_lr_find_plots_the_loss_and_suggests_a_rate(tmp_path, mnist_file):
    found = zoo.lr_find(
        "logistic",
        overrides={"dataset.path": str(mnist_file)},
        steps=40,
        end=100.0,
        out=tmp_path / "lr.png",
    )
    assert found.lrs == sorted(found.lrs) and found.lrs[0] == pytest.approx(1e-7)
    assert found.stopped_early  # a rate of 100 blows the loss up
    assert found.suggestion is not None and 1e-5 < found.suggestion < 100
    assert Image.open(found.plot).size == (640, 420)
    printed = run_cli(
        "lr-find",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--steps",
        "20",
        cwd=tmp_path,
    ).stdout
    assert "suggested learning rate" in printed or "no suggestion" in printed
    assert (tmp_path / "lr-find.png").is_file() and not (tmp_path / "runs").exists()
    one_line_error(
        run_cli("lr-find", "logistic", "--start", "1", "--end", "0.1", cwd=tmp_path, check=False),
        "the rates must grow",
    )


@pytest.mark.hostile
def test_a_transform_that_changes_the_shape_is_one_line(tmp_path, site, mnist_file):
    site.install(
        "crop",
        "crop",
        "import zoo\n"
        "def crop():\n"
        "    '''Crops the images (wrongly: a batch transform keeps the shape).'''\n"
        "    return lambda images, generator: images[..., :20, :20]\n"
        "@zoo.hookimpl\n"
        "def register_transforms(register):\n"
        "    register('crop', crop)\n",
    )
    result = run_cli(
        "run", "logistic", "--set", f"dataset.path={mnist_file}", "--set", "augment=[crop]",
        "--out", "run", cwd=tmp_path, check=False,
    )  # fmt: skip
    one_line_error(result, "transform 'crop' gave (")
    assert not (tmp_path / "run").exists()  # found before the run directory is made


@pytest.mark.hostile
def test_a_shared_runs_model_json_with_a_bad_flops_count_is_refused(tmp_path, mnist_file):
    run = zoo.train(
        "logistic", overrides={"dataset.path": str(mnist_file)}, epochs=1, out=tmp_path / "run"
    )
    info = json.loads((run.dir / "model.json").read_text())
    assert info["parameters"] == 7850 and info["flops"] == 15_680
    info["flops"] = -5
    (run.dir / "model.json").write_text(json.dumps(info))
    result = run_cli("eval", run.dir, "--set", f"dataset.path={mnist_file}", cwd=tmp_path,
                     check=False)  # fmt: skip
    one_line_error(result, "'flops' must be a whole number")
