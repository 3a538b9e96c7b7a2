"""Runs that end by their own rule: early stopping (patience, min_delta, the monitor's mode, the
best weights kept) and stop_at (a target reached), each a ``stopped`` run that resume leaves
ended; mnist_fast, the named run that stops at 99%."""

from __future__ import annotations

import hashlib
import json

import zoo
from conftest import STOPPING, run_cli
from conftest import train_api as train
from conftest import untimed_rows as rows


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


def test_early_stopping_ends_the_run_saying_why_and_resume_keeps_it_ended(tmp_path, data):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={data}",
        "--set",
        f"callbacks=[{json.dumps(STOPPING)}]",
        "--epochs",
        "20",
        "--out",
        "stopped",
        cwd=tmp_path,
    )
    assert "early stopping after epoch" in result.stdout
    assert "has not improved by more than 0.02 for 1 epoch; the best was epoch" in result.stdout
    history = rows(tmp_path / "stopped")
    assert len(history) < 20
    again = run_cli("resume", "stopped", cwd=tmp_path)
    assert "is stopped (complete by its own rule) after" in again.stdout
    assert rows(tmp_path / "stopped") == history


def test_early_stopping_on_an_accuracy_waits_for_it_to_rise(tmp_path, data):
    """mode auto: higher is better for val_acc; a rising accuracy (lr 0.01 here) never stops the
    run, while mode min reads every rise as no improvement."""
    watch = {"name": "early_stopping", "monitor": "val_acc", "patience": 1}
    run = train(tmp_path, data, "acc", epochs=4, callbacks=[watch], **{"optimizer.lr": 0.01})
    accs = [row["val_acc"] for row in run.history]
    assert len(accs) == 4 and accs == sorted(accs)
    wrong = {**watch, "mode": "min"}
    run = train(tmp_path, data, "min", epochs=4, callbacks=[wrong], **{"optimizer.lr": 0.01})
    assert len(run.history) == 2


def test_early_stopping_on_val_acc_keeps_the_best_val_acc_weights(tmp_path, mnist_file, capsys):
    run = zoo.train(
        "logistic",
        overrides={
            "dataset.path": str(mnist_file),
            "dataset.progress": False,
            "monitor": "val_acc",
            "callbacks": ["early_stopping"],  # watching the run's monitor: nothing more to say
            "optimizer.lr": 3.0,  # a rate that makes val_acc go up and down
        },
        epochs=6,
        out=tmp_path / "r",
        keep_last=10,
        verbose=True,
    )
    best = max(run.history, key=lambda row: row["val_acc"])
    assert run.best is not None and run.best["epoch"] == best["epoch"]
    kept = run.dir / "checkpoints" / f"epoch-{best['epoch']:04d}" / "model.safetensors"
    sha = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert sha(run.dir / "best.safetensors") == sha(kept)
    out = capsys.readouterr().out
    assert f"best val_acc {best['val_acc']:.2%} (epoch {best['epoch']})" in out
    if "early stopping" in out:  # the two lines name the same best epoch
        assert f"the best was epoch {best['epoch']} (val_acc" in out
    card = zoo.api.list_runs(tmp_path)[0]
    assert card.best["epoch"] == best["epoch"]
