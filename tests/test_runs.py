"""Runs you can keep: the run directory, checkpoints that survive SIGKILL, exact resume, eval,
predict, plots and the guards. Training runs in real subprocesses of the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

import zoo
from conftest import KILLER, run_cli
from conftest import run_metrics as metrics
from conftest import run_process as zoo_cmd
from conftest import run_weights as weights


@pytest.fixture(scope="module")
def shared(module_data):
    """A data file and a cache shared by this module's runs."""
    return module_data


@pytest.fixture
def train_args(shared, monkeypatch):
    folder, data = shared
    monkeypatch.setenv("ZOO_HOME", str(folder / "zoo-home"))
    return ["--set", f"dataset.path={data}", "--epochs", "3", "--no-progress"]


@pytest.fixture(scope="module")
def reference(shared):
    """An uninterrupted 3-epoch cnn run, shuffled: what every resumed run must equal."""
    folder, data = shared
    run_cli(
        "run",
        "cnn",
        "--set",
        f"dataset.path={data}",
        "--epochs",
        "3",
        "--no-progress",
        "--out",
        "reference",
        cwd=folder,
        env={"ZOO_HOME": str(folder / "zoo-home")},
    )
    return folder / "reference"


def test_the_run_directory_describes_itself(reference):
    files = {p.name for p in reference.iterdir()}
    assert {
        "config.yaml",
        "metrics.jsonl",
        "env.json",
        "model.json",
        "checkpoint.json",
        "best.safetensors",
        "curves.png",
        "checkpoints",
    } <= files
    env = json.loads((reference / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert env["plugins"]["cnn"] == {
        "distribution": "zoo-cnn",
        "version": "0.1.0",
        "status": "loaded",
    }
    assert (reference / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (reference / "checkpoints").iterdir()] == ["epoch-0003"]
    state = torch.load(reference / "checkpoints" / "epoch-0003" / "state.pt", weights_only=True)
    assert state["epoch"] == 3 and len(state["history"]) == 3


@pytest.mark.parametrize(
    ("point", "epoch"),
    [
        ("between-epochs", 1),
        ("mid-weights", 2),
        ("before-state", 2),
        ("before-marker", 3),
        ("before-metrics", 2),
        ("before-metrics", 3),  # the last epoch: resume finds the run complete, one line short
        ("mid-weights", 1),
    ],
)
def test_sigkill_at_any_point_then_resume_gives_exactly_the_same_run(
    tmp_path, train_args, reference, point, epoch
):
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLER,
            point,
            str(epoch),
            "run",
            "cnn",
            *train_args,
            "--out",
            "killed",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_dir = tmp_path / "killed"
    first_save = not (run_dir / "checkpoint.json").exists()
    result = run_cli("resume", run_dir, "--no-progress", cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    if first_save:  # killed inside the first save: it starts again, in the same directory
        assert "no epoch had finished; starting it again from epoch 1" in result.stdout
    assert metrics(run_dir) == metrics(reference)
    for name, tensor in weights(reference).items():
        assert torch.equal(weights(run_dir)[name], tensor), name
    assert not list(run_dir.rglob("*.part"))
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch-0003"]


def test_ctrl_c_keeps_the_last_checkpoint_and_says_how_to_resume(tmp_path, train_args, reference):
    args = [
        sys.executable,
        "-m",
        "zoo",
        "run",
        "cnn",
        *train_args,
        "--epochs",
        "1000",  # far more than it can train before the signal, even on a loaded machine
        "--out",
        "interrupted",
    ]
    proc = subprocess.Popen(
        args,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal starts it: Ctrl-C's default action (a test run before this one in the same
        # xdist worker may leave SIGINT ignored, and children inherit that)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    metrics_file = tmp_path / "interrupted" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        metrics_file.exists() and metrics_file.read_text().count("\n") >= 2
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"zoo resume {tmp_path / 'interrupted'}" in err or "zoo resume interrupted" in err
    done = len(metrics(tmp_path / "interrupted"))  # 2, unless a loaded machine let it go on
    run_cli("resume", "interrupted", "--epochs", max(3, done), "--no-progress", cwd=tmp_path)
    assert metrics(tmp_path / "interrupted")[:3] == metrics(reference)


def test_resume_extends_a_finished_run(tmp_path, mnist_file, reference):
    run_cli(
        "run",
        "cnn",
        "--set",
        f"dataset.path={mnist_file}",
        "--epochs",
        "2",
        "--no-progress",
        "--out",
        "short",
        cwd=tmp_path,
    )
    done = run_cli("resume", "short", cwd=tmp_path)
    assert "is complete: 2 of 2 epochs" in done.stdout
    run_cli("resume", "short", "--epochs", "3", "--no-progress", cwd=tmp_path)
    assert metrics(tmp_path / "short") == metrics(reference)


def test_fp16_runs_resume_exactly_with_their_loss_scale(tmp_path, train_args):
    def run(*args):
        return run_cli(*args, "--no-progress", cwd=tmp_path)

    common = [*train_args[:2], "--amp", "fp16"]
    run("run", "logistic", *common, "--epochs", "3", "--out", "whole")
    run("run", "logistic", *common, "--epochs", "1", "--out", "parts")
    state = torch.load(
        tmp_path / "parts" / "checkpoints" / "epoch-0001" / "state.pt", weights_only=True
    )
    assert state["scaler"]["scale"] > 1
    assert state["scaler"]["_growth_tracker"] > 0  # the scaler that trained, not a fresh one
    run("resume", "parts", "--epochs", "3")
    assert metrics(tmp_path / "parts") == metrics(tmp_path / "whole")
    assert "amp fp16" in (tmp_path / "whole" / "config.yaml").read_text().replace(": ", " ")


def test_eval_reproduces_the_last_val_loss(tmp_path, reference):
    out = run_cli("eval", str(reference), cwd=tmp_path).stdout
    last = json.loads((reference / "metrics.jsonl").read_text().splitlines()[-1])
    assert f"loss {last['val_loss']:.4f}" in out
    assert f"accuracy {last['val_acc']:.2%}" in out
    test = run_cli(
        "eval", str(reference), "--split", "test", "--weights", "best", cwd=tmp_path
    ).stdout
    assert "on test (32 samples)" in test


def test_predict_reads_any_picture(tmp_path, reference, mnist_arrays):
    from PIL import Image

    _, _, (x, y) = mnist_arrays()
    paths = []
    for i in range(4):  # dark ink on a light page, bigger, in colour: as a phone photo would be
        ink = 255 - (x[i].reshape(28, 28) * 255).astype("uint8")
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(ink).resize((90, 90)).convert("RGB").save(path)
        paths.append(str(path))
    out = run_cli("predict", str(reference), *paths, "--top", "2", cwd=tmp_path).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 4 and all(line.count("%") == 2 for line in lines)
    from zoo.runs.images import read_image

    model = zoo.load_run(reference)
    for i, path in enumerate(paths):  # back to the dataset's own pixels: light on black, 28x28
        pixels = read_image(path, (1, 28, 28))
        assert (pixels - torch.from_numpy(x[i : i + 1])).abs().mean() < 0.05
        expected = model(torch.from_numpy(x[i : i + 1])).argmax().item()
        assert lines[i].startswith(f"{path}: {expected} ")
    bad = tmp_path / "notes.txt"
    bad.write_text("not a picture")
    result = run_cli("predict", str(reference), str(bad), cwd=tmp_path, check=False)
    assert result.returncode == 1 and "cannot read image" in result.stderr


def test_load_run_and_create_model_with_weights(reference):
    model = zoo.load_run(reference)
    again = zoo.create_model("cnn", weights=str(reference))
    assert not model.training
    x = torch.rand(2, 784)
    torch.testing.assert_close(model(x), again(x))
    for name, tensor in weights(reference).items():
        assert torch.equal(model.state_dict()[name], tensor)
    with pytest.raises(zoo.ConfigError, match="trained model 'cnn', not 'logistic'"):
        zoo.create_model("logistic", weights=str(reference))


def test_runs_plot_and_show_samples(tmp_path, reference, mnist_file):
    listing = run_cli("runs", str(reference.parent), cwd=tmp_path).stdout
    assert "3/3" in listing and str(reference) in listing
    run_cli("plot", str(reference), str(reference), "--out", "both.png", cwd=tmp_path)
    assert (tmp_path / "both.png").read_bytes()[:4] == b"\x89PNG"
    run_cli(
        "show-samples",
        "mnist",
        "--set",
        f"path={mnist_file}",
        "--count",
        "8",
        "--out",
        "grid.png",
        cwd=tmp_path,
    )
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_keep_last(tmp_path, train_args):
    run_cli("run", "cnn", *train_args, "--keep-last", "2", "--out", "kept", cwd=tmp_path)
    kept = sorted(p.name for p in (tmp_path / "kept" / "checkpoints").iterdir())
    assert kept == ["epoch-0002", "epoch-0003"]


def test_a_diverging_loss_stops_with_a_learning_rate_hint(tmp_path, train_args):
    result = run_cli(
        "run",
        "logistic",
        *train_args,
        "--set",
        "optimizer.lr=1e38",
        "--out",
        "nan",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the loss became" in result.stderr and "learning rate" in result.stderr
    # it diverged in epoch 1: no checkpoint to name, and no zoo resume to suggest
    assert "no epoch had finished, so there is no checkpoint" in result.stderr
    assert "zoo resume" not in result.stderr


def test_progress_has_no_control_characters_in_a_log(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--epochs",
        "1",
        "--out",
        "log",
        cwd=tmp_path,
    )
    assert "\r" not in result.stdout + result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def test_an_unwritable_run_dir_is_a_clear_error_at_the_start(tmp_path, mnist_file):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "/proc/zoo-run",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot write the run directory /proc/zoo-run" in result.stderr


def test_a_full_disk_at_a_save_is_a_clear_error(tmp_path, mnist_file):
    run_cli("data", "fetch", "mnist", "--set", f"path={mnist_file}", cwd=tmp_path)

    def small_files():  # files past 12 KB cannot be written: the cnn's weights are 16 KB
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, 12_000))

    result = zoo_cmd(
        "run",
        "cnn",
        "--set",
        f"dataset.path={mnist_file}",
        "--epochs",
        "1",
        "--out",
        "full",
        cwd=tmp_path,
        check=False,
        preexec_fn=small_files,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "could not save the checkpoint of epoch 1" in result.stderr
    assert not (tmp_path / "full" / "checkpoint.json").exists()
