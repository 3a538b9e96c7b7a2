"""Training recipes from plugins: schedulers, losses, metrics, callbacks (early stopping,
TensorBoard, CSV), gradient accumulation, sweeps and the scaffold's kinds. Every piece keeps
zoo's exact resume: a run with onecycle and early stopping killed with SIGKILL and resumed ends
as an uninterrupted one, loggers included."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import zoo
from conftest import STOPPING, one_line_error, run_cli
from conftest import train_api as train
from conftest import untimed_rows as rows

# --- the built-ins, through the same hooks as any plugin's --------------------------------------


def test_the_recipe_parts_are_registered_like_any_plugins(tmp_path):
    assert zoo.api.current().registries["schedulers"].names() == [
        "cosine",
        "multistep",
        "onecycle",
        "reduce_on_plateau",
        "step",
    ]
    listed = run_cli("list", "callbacks", cwd=tmp_path).stdout
    assert "early_stopping" in listed and "tensorboard" in listed and "csv" in listed
    assert (
        "label_smoothing"
        in run_cli("show", "cnn", "--set", "loss.name=cross_entropy", cwd=tmp_path).stdout
    )


def test_onecycle_steps_per_batch_and_every_row_records_its_learning_rate(tmp_path, data):
    run = train(tmp_path, data, "one", **{"scheduler.name": "onecycle", "optimizer.lr": 0.2})
    steps = 8  # 512 samples, batch 64
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.2)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.2, epochs=3, steps_per_epoch=steps
    )
    expected = []
    for _ in range(3):
        for _ in range(steps):
            optimizer.step()
            reference.step()
        expected.append(optimizer.param_groups[0]["lr"])
    assert [row["lr"] for row in run.history] == pytest.approx(expected)
    plain = train(tmp_path, data, "plain", epochs=1)
    assert plain.history[0]["lr"] == 0.5  # no scheduler: the optimizer's


def test_epoch_schedulers_step_after_each_epoch(tmp_path, data):
    run = train(tmp_path, data, "step", **{"scheduler": {"name": "step", "step_size": 1}})
    assert [row["lr"] for row in run.history] == pytest.approx([0.5, 0.05, 0.005])
    plateau = {"name": "reduce_on_plateau", "monitor": "val_loss", "mode": "max", "patience": 0}
    run = train(tmp_path, data, "plateau", **{"scheduler": plateau})  # val_loss falls: no "max"
    assert [row["lr"] for row in run.history] == pytest.approx([0.5, 0.5, 0.05])


def test_label_smoothing_and_nll_change_the_loss(tmp_path, data):
    plain = train(tmp_path, data, "ce", epochs=1)
    smooth = train(tmp_path, data, "ls", epochs=1, **{"loss.label_smoothing": 0.2})
    assert smooth.history[0]["val_loss"] > plain.history[0]["val_loss"]
    nll = train(tmp_path, data, "nll", epochs=1, **{"loss.name": "nll"})
    assert nll.history[0]["train_loss"] != plain.history[0]["train_loss"]


def test_zoo_eval_reports_the_plain_log_likelihood_and_names_the_runs_own_loss(tmp_path, data):
    import torch
    import torch.nn.functional as F

    smooth = train(tmp_path, data, "ls", epochs=2, **{"loss.label_smoothing": 0.2})
    result = zoo.evaluate(smooth.dir)
    model = zoo.load_run(smooth.dir)
    splits = zoo.create_dataset("mnist", path=str(data), progress=False)
    x, y = splits.valid.tensors
    with torch.no_grad():  # -log p(true class), averaged: what every model is measured by
        plain = F.cross_entropy(model(x), y).item()
    assert result["loss"] == pytest.approx(plain, abs=1e-6)
    own = result["run_loss"]  # the run's own loss, which its val_loss is
    assert own == {
        "loss": "cross_entropy(label_smoothing=0.2)",
        "value": smooth.history[-1]["val_loss"],
    }
    assert result["loss"] < own["value"]  # label smoothing adds to the loss of a right answer
    printed = run_cli("eval", smooth.dir, cwd=tmp_path).stdout.splitlines()
    assert printed[0].endswith(f"loss {result['loss']:.4f}, accuracy {result['acc']:.2%}")
    assert (
        printed[1]
        == f"  the run's own loss, cross_entropy(label_smoothing=0.2): {own['value']:.4f}"
    )
    assert "run_loss" not in zoo.evaluate(train(tmp_path, data, "ce", epochs=1).dir)


def test_chosen_metrics_go_into_each_row_and_zoo_eval_draws_the_confusion(tmp_path, data):
    metrics = ["top_k", {"name": "top_k", "k": 2}, "per_class_accuracy", "confusion_matrix"]
    run = train(tmp_path, data, "m", epochs=2, metrics=metrics)
    last = run.history[-1]
    assert 0 <= last["val_acc"] <= last["val_top2_acc"] <= last["val_top5_acc"] <= 1
    assert len(last["val_per_class_acc"]) == 10
    matrix = last["val_confusion_matrix"]
    assert sum(map(sum, matrix)) == 128
    assert sum(matrix[i][i] for i in range(10)) == round(last["val_acc"] * 128)
    result = run_cli("eval", run.dir, "--split", "test", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  top5_acc: ") and lines[2].startswith("  top2_acc: ")
    assert lines[3].startswith("  per_class_acc: 0 ")
    assert f"confusion matrix: {run.dir / 'confusion-test.json'}" in result.stdout
    saved = json.loads((run.dir / "confusion-test.json").read_text())
    assert sum(map(sum, saved["matrix"])) == 128 and saved["rows"] == "true class"
    from PIL import Image

    assert Image.open(run.dir / "confusion-test.png").size[0] > 200


# --- callbacks ----------------------------------------------------------------------------------


def test_tensorboard_events_and_the_csv_hold_every_epoch(tmp_path, data):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(tmp_path, data, "logged", callbacks=["tensorboard", "csv"])
    events = EventAccumulator(str(run.dir / "tensorboard"))
    events.Reload()
    assert {"val_loss", "train_loss", "val_acc", "lr"} <= set(events.Tags()["scalars"])
    logged = [(e.step, e.value) for e in events.Scalars("val_loss")]
    assert logged == [(r["epoch"], pytest.approx(r["val_loss"])) for r in run.history]
    with open(run.dir / "metrics.csv") as f:
        table = list(csv.DictReader(f))
    assert [float(r["val_loss"]) for r in table] == [r["val_loss"] for r in run.history]


@pytest.mark.hostile
@pytest.mark.parametrize(
    "override, message",
    [
        ("scheduler.name=cosin", "did you mean 'cosine'"),
        ("scheduler={name: step, gamma: abc}", "scheduler.gamma: expected float, got 'abc'"),
        ("metrics=[top_kk]", "did you mean 'top_k'"),
        ("callbacks=[{name: early_stopping, patience: soon}]", "callbacks[0].patience: expected"),
        ("loss.label_smoothing=high", "loss.label_smoothing: expected float"),
    ],
)
def test_recipe_mistakes_are_one_line_before_any_data(tmp_path, closed_port_url, override, message):
    result = run_cli(
        "run",
        "cnn",
        "--set",
        f"dataset.url={closed_port_url}",
        "--set",
        override,
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.hostile
@pytest.mark.parametrize(
    "override, message",
    [
        ("scheduler={name: cosine, warmup_epochs: 5}", "warmup_epochs must be in [0, epochs=2)"),
        ("scheduler={name: reduce_on_plateau, monitor: val_los}", "did you mean 'val_loss'"),
        ("metrics=[{name: top_k, k: 20}]", "k=20 does not fit a dataset of 10 classes"),
        ("loss.label_smoothing=1.5", "label_smoothing must be in [0, 1)"),
        ("callbacks=[{name: early_stopping, monitor: val_f1}]", "callbacks[0].monitor: 'val_f1'"),
        ("callbacks=[{name: csv, path: ../../x.csv}]", "path must be a path inside"),
    ],
)
def test_parts_that_do_not_fit_are_one_line(tmp_path, data, override, message):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={data}",
        "--set",
        override,
        "--out",
        "bad",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, message)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "bad").exists()


# --- gradient accumulation, compile -------------------------------------------------------------


def test_accumulating_two_batches_of_32_is_one_batch_of_64(tmp_path, data):
    big = train(tmp_path, data, "b64", epochs=1, batch_size=64, shuffle=False)
    small = train(tmp_path, data, "b32", epochs=1, batch_size=32, shuffle=False, accumulate=2)
    for key, value in big.model.state_dict().items():
        assert torch.allclose(value, small.model.state_dict()[key], atol=1e-6)
    assert big.history[0]["val_loss"] == pytest.approx(small.history[0]["val_loss"], abs=1e-5)


@pytest.mark.skipif(
    os.environ.get("ZOO_TEST_COMPILE") != "1",
    reason="torch.compile takes tens of seconds on 2 cores: ZOO_TEST_COMPILE=1 runs it",
)
def test_compile_trains_the_same_model(tmp_path, data):
    plain = train(tmp_path, data, "plain", epochs=1)
    compiled = train(tmp_path, data, "compiled", epochs=1, compile=True)
    assert compiled.history[0]["val_loss"] == pytest.approx(plain.history[0]["val_loss"], 1e-4)


# --- exact resume with a scheduler, early stopping and loggers -----------------------------------

KILLER = textwrap.dedent("""
    import os, signal, sys
    from zoo.runs import checkpoints, metrics

    point, count = sys.argv[1], int(sys.argv[2])
    calls = {"n": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_save = checkpoints.save
    def save(*args, **kwargs):
        calls["n"] += 1
        if point == "before-checkpoint" and calls["n"] == count:
            die()  # the epoch trained, logged to TensorBoard and the CSV, not yet saved
        return real_save(*args, **kwargs)
    checkpoints.save = save

    real_append = metrics.append_metrics
    def append_metrics(run_dir, row):
        if point == "before-metrics" and calls["n"] == count:
            die()  # the checkpoint has landed, its metrics line has not
        real_append(run_dir, row)
        if point == "after-metrics" and calls["n"] == count:
            die()
    metrics.append_metrics = append_metrics

    from zoo.cli import main
    sys.argv = ["zoo", *sys.argv[3:]]
    main()
""")

RECIPE = [
    "--set", "scheduler.name=onecycle",
    "--set", "optimizer.momentum=0.9",
    "--set", f"callbacks=[{json.dumps(STOPPING)}, tensorboard, csv]",
    "--epochs", "12",
]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from conftest import make_mnist_arrays, write_pickle_gz

    folder = tmp_path_factory.mktemp("recipe")
    data = write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays(512, 128, 128))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZOO_HOME", str(folder / "zoo-home"))
        run_cli("run", "logistic", "--set", f"dataset.path={data}", *RECIPE, "--out", "ref",
                cwd=folder)  # fmt: skip
    history = rows(folder / "ref")
    assert 2 < len(history) < 12, "the recipe should stop early after a few epochs"
    return folder, data


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
        if tag not in ("epoch_seconds", "samples_per_s")
    }


def csv_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv") as f:
        return [
            {k: v for k, v in row.items() if k not in ("epoch_seconds", "samples_per_s")}
            for row in csv.DictReader(f)
        ]


@pytest.mark.parametrize(
    "point, count",
    [("before-checkpoint", 2), ("before-metrics", 2), ("after-metrics", 1), ("before-metrics", 3)],
)
def test_sigkill_then_resume_ends_as_the_uninterrupted_run(uninterrupted, tmp_path, point, count):
    folder, data = uninterrupted
    args = ["run", "logistic", "--set", f"dataset.path={data}", *RECIPE, "--out", "killed"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(count), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_cli("resume", "killed", "--no-progress", cwd=tmp_path)
    reference, resumed = folder / "ref", tmp_path / "killed"
    assert rows(resumed) == rows(reference)
    from safetensors.torch import load_file

    for name in ("best.safetensors",):
        want, got = load_file(reference / name), load_file(resumed / name)
        assert all(torch.equal(want[k], got[k]) for k in want)
    last = sorted((resumed / "checkpoints").iterdir())[-1] / "model.safetensors"
    want = load_file(sorted((reference / "checkpoints").iterdir())[-1] / "model.safetensors")
    assert all(torch.equal(want[k], load_file(last)[k]) for k in want)
    assert scalars(resumed) == scalars(reference)
    assert csv_rows(resumed) == csv_rows(reference)


# --- sweeps -------------------------------------------------------------------------------------


# --- the scaffold's kinds -----------------------------------------------------------------------


def test_each_scaffold_kind_installs_and_its_tests_pass(tmp_path):
    """Every kind but the model (tests/test_ecosystem.py installs that one), installed with pip
    in one go, and the tests each plugin ships run once over all of them."""
    kinds = ["dataset", "optimizer", "scheduler", "callback", "metric", "loss", "transform"]
    folders = []
    for kind in kinds:
        made = run_cli("new-plugin", f"my_{kind}", "--kind", kind, cwd=tmp_path)
        listed = "losses" if kind == "loss" else f"{kind}s"
        assert f"zoo list {listed}  shows my_{kind}" in made.stdout
        folders.append(str(tmp_path / f"zoo-my-{kind}"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), *folders],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *folders],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert f"{2 * len(kinds)} passed" in tests.stdout, tests.stdout


@pytest.mark.hostile
def test_a_planned_schedule_cannot_be_stretched_by_resume(tmp_path, data):
    run = train(tmp_path, data, "planned", epochs=2, **{"scheduler.name": "cosine"})
    result = run_cli("resume", run.dir, "--epochs", "4", cwd=tmp_path, check=False)
    one_line_error(result, "scheduler 'cosine' is planned over its 2 epochs")
    assert len(rows(run.dir)) == 2 and "epochs: 2" in (run.dir / "config.yaml").read_text()
    stepped = train(tmp_path, data, "stepped", epochs=2, **{"scheduler.name": "step"})
    run_cli("resume", stepped.dir, "--epochs", "3", cwd=tmp_path)  # per epoch: it goes on
    assert len(rows(stepped.dir)) == 3


@pytest.mark.hostile
def test_a_shared_runs_logger_state_cannot_delete_other_files(tmp_path, data):
    run = train(tmp_path, data, "shared", epochs=2, callbacks=["tensorboard"])
    victim = tmp_path / "victim.txt"  # ../../victim.txt from the run's tensorboard folder
    victim.write_text("not zoo's")
    state_file = run.dir / "checkpoints" / "epoch-0002" / "state.pt"
    state = torch.load(state_file, weights_only=True)
    state["callbacks"][0]["files"] = [
        "../../victim.txt",
        "events.out.tfevents.x/../../../victim.txt",
    ]
    torch.save(state, state_file)
    run_cli("resume", run.dir, "--epochs", "3", cwd=tmp_path)
    assert victim.read_text() == "not zoo's"
    assert len(rows(run.dir)) == 3
