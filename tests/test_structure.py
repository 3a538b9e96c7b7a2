"""One typed run config, one idea of "best", an API with everything the CLI does, and what a new
user tripped over: each seen working here, through the commands and the Python API."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from conftest import one_line_error, run_cli, train_small


def data_options(mnist_file):
    return {"dataset.path": str(mnist_file), "dataset.progress": False}


def test_the_run_config_is_typed_frozen_and_written_whole(tmp_path, mnist_file):
    run = zoo.train("logistic", overrides=data_options(mnist_file), epochs=1, out=tmp_path / "r")
    config = run.config
    assert isinstance(config, zoo.RunConfig) and config.epochs == 1
    assert config.valid_size == 64 and config.precision is None and config.best_mode == "min"
    with pytest.raises(AttributeError):
        config.epochs = 3  # frozen: read everywhere, changed nowhere
    written = (run.dir / "config.yaml").read_text()
    for line in ("deterministic: true", "monitor: val_loss", "accumulate: 1", "seed: 0"):
        assert line in written
    assert zoo.open_run(run.dir).config == config


def test_the_format_of_a_local_path_is_plain_from_it(tmp_path, idx_dir):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={idx_dir}",
        "--epochs",
        "1",
        "--out",
        "r",
        "--no-progress",
        cwd=tmp_path,
    )
    assert "1 epoch," in result.stdout and "format=" not in result.stdout


def test_a_relative_data_path_is_stored_whole_and_a_moved_one_says_how(tmp_path, mnist_file):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "mnist.pkl.gz").write_bytes(mnist_file.read_bytes())
    run_cli(
        "run",
        "logistic",
        "--set",
        "dataset.path=mnist.pkl.gz",
        "--epochs",
        "1",
        "--out",
        "r",
        "--no-progress",
        cwd=tmp_path / "work",
    )
    written = (tmp_path / "work" / "r" / "config.yaml").read_text()
    assert f"path: {tmp_path / 'work' / 'mnist.pkl.gz'}" in written
    resumed = run_cli("resume", "work/r", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0
    (tmp_path / "work" / "mnist.pkl.gz").rename(tmp_path / "moved.pkl.gz")
    moved = run_cli("resume", "work/r", "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(moved, "does not exist", "--set dataset.path=WHERE_IT_IS_NOW")


def test_the_header_and_table_show_the_recipe(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        "scheduler={name: step, step_size: 1, gamma: 0.5}",
        "--set",
        "metrics=[top_k]",
        "--set",
        "callbacks=[csv]",
        "--epochs",
        "2",
        "--out",
        "r",
        "--no-progress",
        cwd=tmp_path,
    )
    header, table = result.stdout.splitlines()[0], result.stdout.splitlines()
    assert "scheduler step(step_size=1, gamma=0.5)" in header
    assert "metrics top_k" in header and "callbacks csv" in header and "2 epochs" in header
    columns = next(line for line in table if "epoch" in line and "train_loss" in line)
    assert columns.split()[-2:] == ["val_top5_acc", "lr"]
    rows = [line.split() for line in table if len(line.split()) == len(columns.split())]
    assert [row[-1] for row in rows[1:]] == ["0.5", "0.25"]  # each epoch's rate


def test_zoo_gives_what_it_gives_and_lists_options_one_way(tmp_path):
    result = run_cli(
        "run", "cnn", "--set", "scheduler={name: cosine, epochs: 3}", cwd=tmp_path, check=False
    )
    one_line_error(result, "zoo gives scheduler 'cosine' its epochs itself")
    shown = run_cli("show", "cnn", "--set", "scheduler=cosine", cwd=tmp_path).stdout
    listed = next(line for line in shown.splitlines() if line.startswith("# scheduler"))
    options = listed.split("options: ")[1]
    bad = run_cli(
        "show", "cnn", "--set", "scheduler={name: cosine, warmup: 1}", cwd=tmp_path, check=False
    )
    assert "it takes: warmup_epochs, min_lr)" in bad.stderr
    assert [o.split(":")[0] for o in options.split(", ")] == ["warmup_epochs", "min_lr"]


def test_a_changed_run_does_not_keep_a_description_that_is_no_longer_true(tmp_path):
    config = zoo.resolve("cnn", overrides=["optimizer.lr=0.1"], epochs=3)
    assert config.description.endswith("(changed here: optimizer.lr, epochs)")
    assert zoo.resolve("cnn", overrides=["dataset.path=/data"]).description.endswith("epochs.")


def test_interrupted_before_any_checkpoint_says_so(tmp_path, mnist_file):
    from zoo.training.trainer import Trainer

    config = zoo.resolve("logistic", overrides=data_options(mnist_file))
    trainer = Trainer(config, zoo.api.current(), run_dir=tmp_path / "r")
    assert "no epoch had finished" in trainer.interrupted_message()
    assert "is intact" not in trainer.interrupted_message()
    trainer.history = [{"epoch": 1}]
    assert "the checkpoint of epoch 1" in trainer.interrupted_message()


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """One small finished run with a confusion matrix among its metrics, for the API's tests."""
    folder = tmp_path_factory.mktemp("api")
    return train_small(folder, "logistic", "--set", "metrics=[confusion_matrix]", epochs=1)


def test_the_api_lists_every_kind_as_the_cli_does():
    assert [e.name for e in zoo.listing("schedulers")] == zoo.list_schedulers()
    assert "cnn.mnist" in [e.name for e in zoo.listing("weights", "cnn.*")]
    assert zoo.list_losses() == ["cross_entropy", "nll"] and "csv" in zoo.list_callbacks()


def test_the_api_creates_every_part_of_a_recipe():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=1.0)
    assert zoo.create_scheduler("cosine", optimizer, epochs=2, steps_per_epoch=3) is not None
    assert zoo.create_metric("top_k", num_classes=10, k=2).key == "top2_acc"
    assert zoo.create_loss("cross_entropy", label_smoothing=0.1) is not None
    assert zoo.create_callback("early_stopping", patience=2).patience == 2


def test_the_api_evaluates_and_writes_the_confusion_matrix_where_asked(api_run, tmp_path):
    overrides = {"dataset.path": str(api_run.parent.parent / "mnist.pkl.gz")}
    result = zoo.evaluate(api_run, split="test", out=tmp_path / "out", overrides=overrides)
    assert [p.name for p in result["files"]] == ["confusion-test.json", "confusion-test.png"]
    assert json.loads((tmp_path / "out" / "confusion-test.json").read_text())["matrix"]


def test_the_api_predicts_samples_given_as_a_tensor(api_run):
    samples = zoo.open_run(api_run).model.linear.weight.new_zeros(2, 784)
    samples[1, :100] = 1.0
    assert [name for name, _ in zoo.predict(api_run, samples)] == ["0", "1"]


def test_the_api_lists_and_plots_runs(api_run, tmp_path):
    listed = zoo.list_runs(api_run.parent)
    assert [r.dir for r in listed] == [api_run] and listed[0].best["epoch"] == 1
    assert listed[0].status == "complete"
    picture, skipped = zoo.plot([api_run, tmp_path], out=tmp_path / "p.png")
    assert picture.is_file() and len(skipped) == 1
