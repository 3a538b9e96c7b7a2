"""Batch transforms (augmentation) as plugins: the built-in ones, what each does, trained only on
the training batches, exact resume after SIGKILL with their own random stream, a third party's
transform, mistakes in one line, and a run that augments published and reproduced exactly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch

import zoo
from conftest import KILLER, one_line_error, run_cli
from conftest import run_metrics as metrics
from conftest import run_weights as weights

AUGMENT = "augment=[{name: random_affine, degrees: 15, translate: 0.1}, random_erasing]"


def images(n=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=generator)


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
def augmented(module_data):
    """An uninterrupted augmented 3-epoch run, and the arguments that make it."""
    folder, data = module_data
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
