"""zoo's promises on any device: deterministic by default (recorded in the run), any machine
reads any run (a run trained on cuda is evaluated, predicted and exported where there is none,
and resumed there only when asked, with a note), CUDA graphs that fall back with a reason.

The ``@pytest.mark.cuda`` tests run only where CUDA is (``benchmarks/gpu.py`` runs them on a
GPU): the same seed twice gives the same weights, a resume on cuda ends where a straight run
does, a replayed CUDA graph gives the eager step's numbers, bf16 and fp16 train, and a run
trained on cuda is read with CUDA hidden."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import zoo
from conftest import one_line_error, run_cli
from conftest import run_process as zoo_cmd


def quick(tmp_path, mnist_file, out, model="cnn", epochs=1, **overrides):
    return zoo.train(
        model,
        overrides={"dataset.path": str(mnist_file), "dataset.progress": False, **overrides},
        epochs=epochs,
        out=tmp_path / out,
    )


def weights_of(run):
    return {k: v.detach().cpu() for k, v in run.model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- on any machine -----------------------------------------------------------------------------


def test_a_run_records_that_it_is_deterministic_and_says_when_it_is_not(tmp_path, mnist_file):
    run = quick(tmp_path, mnist_file, "det", model="logistic")
    assert run.config.deterministic is True and run.config.cuda_graphs is False
    assert "deterministic: true" in (run.dir / "config.yaml").read_text()
    loose = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        "deterministic=false",
        "--epochs",
        "1",
        "--out",
        "loose",
        "--no-progress",
        cwd=tmp_path,
    )
    assert "NOT deterministic (deterministic: false)" in loose.stdout
    resumed = run_cli("resume", "loose", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert "not promised to end exactly where an uninterrupted run would" in resumed.stdout


@pytest.mark.hostile
def test_cuda_graphs_on_the_cpu_run_eagerly_and_say_why(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        "cuda_graphs=true",
        "--epochs",
        "1",
        "--out",
        "g",
        "--no-progress",
        cwd=tmp_path,
    )
    assert "cuda_graphs: running eagerly, since they need a CUDA device" in result.stdout
    eager = quick(tmp_path, mnist_file, "e", model="logistic")
    graphed = zoo.open_run(tmp_path / "g")
    assert graphed.history[0]["val_loss"] == eager.history[0]["val_loss"]
    bad = run_cli("run", "logistic", "--set", "cuda_graphs=sometimes", cwd=tmp_path, check=False)
    one_line_error(bad, "cuda_graphs: expected false, true or auto")


def test_the_graph_plan_names_every_reason():
    from zoo.training.graphs import plan

    model = torch.nn.Linear(2, 2)
    adam = torch.optim.Adam(model.parameters())
    ok, why = plan(
        True,
        device=torch.device("cpu"),
        in_memory=False,
        optimizer=adam,
        per_step_scheduler=True,
        scaler=object(),
        accumulate=2,
        compiled=True,
        world=2,
    )
    assert not ok
    for reason in (
        "CUDA device",
        "not a tensor in memory",
        "several processes",
        "compiled",
        "accumulated",
        "fp16",
        "Adam is not capturable",
        "per-step scheduler",
    ):
        assert reason in why, reason
    assert plan(
        False,
        device=torch.device("cpu"),
        in_memory=True,
        optimizer=adam,
        per_step_scheduler=False,
        scaler=None,
        accumulate=1,
        compiled=False,
        world=1,
    ) == (False, "")


def as_if_trained_on_cuda(run_dir):
    """A run directory as a CUDA machine writes it (its config and env.json say cuda)."""
    config = (run_dir / "config.yaml").read_text().replace("device: auto", "device: cuda")
    (run_dir / "config.yaml").write_text(config)
    env = json.loads((run_dir / "env.json").read_text())
    (run_dir / "env.json").write_text(json.dumps(env | {"device": "cuda"}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="what a machine without CUDA does")
def test_a_run_trained_on_cuda_is_read_anywhere_and_resumed_only_when_asked(tmp_path, mnist_file):
    from PIL import Image

    run = quick(tmp_path, mnist_file, "run", model="logistic")
    as_if_trained_on_cuda(run.dir)
    evaluated = run_cli("eval", run.dir, cwd=tmp_path)
    assert "accuracy" in evaluated.stdout
    image = Image.new("L", (28, 28))
    image.paste(255, (10, 5, 16, 22))
    image.save(tmp_path / "x.png")
    assert "%" in run_cli("predict", run.dir, "x.png", cwd=tmp_path).stdout
    refused = run_cli("resume", run.dir, "--epochs", "2", cwd=tmp_path, check=False)
    one_line_error(refused, "was trained on cuda", "--device cpu", "not be bit-identical")
    resumed = run_cli(
        "resume", run.dir, "--epochs", "2", "--device", "cpu", "--no-progress", cwd=tmp_path
    )
    assert "note: trained on cuda, continued on cpu: the numbers will differ" in resumed.stdout


def test_zoo_device_says_what_auto_means(tmp_path, mnist_file, monkeypatch):
    monkeypatch.setenv("ZOO_DEVICE", "tpu")
    bad = run_cli(
        "run", "logistic", "--set", f"dataset.path={mnist_file}", cwd=tmp_path, check=False
    )
    one_line_error(bad, "ZOO_DEVICE=tpu: expected auto, cpu, cuda, cuda:N or mps")


# --- on a CUDA machine --------------------------------------------------------------------------


@pytest.mark.cuda
def test_on_cuda_the_same_seed_gives_the_same_weights(tmp_path, mnist_file):
    first = quick(tmp_path, mnist_file, "a", epochs=2, device="cuda")
    second = quick(tmp_path, mnist_file, "b", epochs=2, device="cuda")
    assert first.history[-1]["val_loss"] == second.history[-1]["val_loss"]
    assert same_weights(weights_of(first), weights_of(second))


@pytest.mark.cuda
def test_on_cuda_a_resumed_run_ends_where_a_straight_one_does(tmp_path, mnist_file):
    straight = quick(tmp_path, mnist_file, "straight", epochs=3, device="cuda")
    quick(tmp_path, mnist_file, "cut", epochs=1, device="cuda")
    resumed = zoo.resume(tmp_path / "cut", epochs=3)
    keys = ("train_loss", "val_loss", "val_acc")
    assert [[r[k] for k in keys] for r in resumed.history] == [
        [r[k] for k in keys] for r in straight.history
    ]
    assert same_weights(weights_of(straight), weights_of(resumed))


@pytest.mark.cuda
@pytest.mark.parametrize(
    "recipe",
    [
        {},
        {"scheduler": {"name": "step", "step_size": 1, "gamma": 0.5}},
        {
            "optimizer": {"name": "adam", "lr": 1e-3, "capturable": True},
            "scheduler": {"name": "cosine"},
        },
        {"amp": "bf16"},
    ],
)
def test_a_cuda_graph_gives_the_eager_steps_numbers(tmp_path, mnist_file, recipe):
    overrides = {"device": "cuda"} | {k: v for k, v in recipe.items()}
    eager = quick(tmp_path, mnist_file, "eager", epochs=2, **overrides)
    graphed = quick(tmp_path, mnist_file, "graph", epochs=2, cuda_graphs=True, **overrides)
    keys = ("train_loss", "val_loss", "val_acc")
    assert [[r[k] for k in keys] for r in graphed.history] == [
        [r[k] for k in keys] for r in eager.history
    ]
    assert same_weights(weights_of(eager), weights_of(graphed))


@pytest.mark.cuda
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cuda(tmp_path, mnist_file, amp):
    run = quick(tmp_path, mnist_file, amp, epochs=2, device="cuda", amp=amp)
    assert all(row["val_loss"] == row["val_loss"] for row in run.history)  # finite, not NaN
    assert run.history[-1]["val_acc"] > 0.2


@pytest.mark.cuda
def test_a_cuda_run_is_read_with_cuda_hidden(tmp_path, mnist_file):
    from PIL import Image

    run = quick(tmp_path, mnist_file, "run", epochs=1, device="cuda")
    image = Image.new("L", (28, 28))
    image.paste(255, (10, 5, 16, 22))
    image.save(tmp_path / "x.png")
    hidden = {"CUDA_VISIBLE_DEVICES": "", "ZOO_DEVICE": "auto"}
    for command in (
        ["eval", run.dir, "--split", "test"],
        ["predict", run.dir, "x.png"],
        ["export", run.dir, "--format", "pt2", "--out", "m.pt2"],
    ):
        done = zoo_cmd(*command, cwd=tmp_path, env=hidden)
        assert done.returncode == 0, done.stderr
    refused = zoo_cmd("resume", run.dir, "--epochs", "2", cwd=tmp_path, env=hidden)
    one_line_error(refused, "--device cpu")
    code = "import torch; print(torch.cuda.is_available())"
    check = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **hidden}
    )
    assert check.stdout.strip() == "False"
