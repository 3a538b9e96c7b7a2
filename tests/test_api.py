"""The Python API a notebook uses, and the CLI is built on: zoo.train, zoo.resume, zoo.Run, and
options checked against the factories' signatures before any work starts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Literal

import pytest
import torch
import yaml

import zoo
from conftest import run_cli
from zoo.plugins import options

EXACT = ("epoch", "train_loss", "val_loss", "val_acc")


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def exact(history):
    return [tuple(row[k] for k in EXACT) for row in history]


def test_train_writes_what_zoo_run_writes_and_returns_the_run(tmp_path, mnist_file, capsys):
    run = zoo.train(
        "logistic", overrides={"dataset.path": str(mnist_file)}, epochs=1, out=tmp_path / "api"
    )
    assert capsys.readouterr().out == ""  # quiet unless asked (verbose=True)
    assert isinstance(run, zoo.Run) and run.dir == tmp_path / "api"
    assert isinstance(run.model, torch.nn.Module)
    assert run.history == rows(run.dir) and [r["epoch"] for r in run.history] == [1]
    run_cli("run", "logistic", "--set", f"dataset.path={mnist_file}", "--epochs", "1",
            "--out", "cli", "--no-progress", cwd=tmp_path)  # fmt: skip
    cli = tmp_path / "cli"
    assert sorted(p.name for p in run.dir.iterdir()) == sorted(p.name for p in cli.iterdir())
    assert exact(run.history) == exact(rows(cli))
    assert yaml.safe_load((run.dir / "config.yaml").read_text()) == yaml.safe_load(
        (cli / "config.yaml").read_text()
    )
    trained = zoo.load_run(cli)
    x = torch.rand(3, 784)
    torch.testing.assert_close(run.model(x), trained(x))
    assert "1 of 1 epoch, best val_loss" in repr(run)


def test_resume_continues_exactly_and_verbose_prints_the_table(tmp_path, mnist_file, capsys):
    data = {"dataset.path": str(mnist_file)}
    whole = zoo.train("cnn", overrides=data, epochs=3, out=tmp_path / "whole")
    zoo.train("cnn", overrides=data, epochs=1, out=tmp_path / "parts")
    resumed = zoo.resume(tmp_path / "parts", epochs=3, verbose=True)
    out = capsys.readouterr().out
    assert f"zoo resume {tmp_path / 'parts'}: from epoch 1 of 3" in out
    assert "train_loss  val_loss  val_acc" in out and "best val_loss" in out
    assert exact(resumed.history) == exact(whole.history) == exact(rows(tmp_path / "parts"))
    again = zoo.resume(tmp_path / "parts")  # complete: nothing to do, the run comes back
    assert exact(again.history) == exact(whole.history) and again.model is not None
    assert zoo.open_run(tmp_path / "whole").best == whole.best


def test_overrides_take_the_keys_of_set_and_errors_are_zoo_errors(tmp_path, mnist_file):
    with pytest.raises(zoo.ConfigError, match=r"^optimizer\.lr: expected float, got 'abc'"):
        zoo.train("logistic", overrides={"optimizer.lr": "abc"}, out=tmp_path / "a")
    with pytest.raises(zoo.ConfigError, match="has no option 'lrr' — did you mean 'lr'"):
        zoo.train("logistic", overrides={"optimizer.lrr": 0.1})
    with pytest.raises(zoo.ConfigError, match="unknown key 'epoch' — did you mean 'epochs'"):
        zoo.train("logistic", overrides={"epoch": 1})
    with pytest.raises(zoo.UnknownNameError, match="did you mean 'cnn'"):
        zoo.train("cnnn")
    assert not (tmp_path / "a").exists()
    resolved = zoo.resolve("logistic", overrides=["optimizer.lr=0.1", "shuffle=true"], epochs=4)
    assert (resolved.optimizer.options["lr"], resolved.shuffle, resolved.epochs) == (0.1, True, 4)


def test_a_wrong_option_type_fails_before_any_download_or_torch(server, tmp_path):
    args = ["run", "logistic", "--set", "optimizer.lr=abc"]
    args += ["--set", f"dataset.url={server.url('mnist.pkl.gz')}"]
    code = (
        "import sys\nfrom zoo.cli import cli\n"
        f"try:\n    cli({args!r}, prog_name='zoo', standalone_mode=False)\n"
        "except Exception as exc:\n    print(exc, file=sys.stderr)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stderr.strip().splitlines() == [
        "optimizer.lr: expected float, got 'abc' (a string) (optimizer 'sgd' takes lr: float = 0.1)"
    ]
    assert server.requests == []  # nothing was downloaded
    cli = run_cli(*args, cwd=tmp_path, check=False)
    assert cli.returncode == 1 and cli.stderr.startswith("Error: optimizer.lr: expected float")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.channels=2.5", "model.channels: expected int, got 2.5 (a number)"),
        ("optimizer.nesterov=maybe", "optimizer.nesterov: expected bool, got 'maybe'"),
        ("optimizer.momentum=[1]", "optimizer.momentum: expected float, got [1] (a list)"),
        ("dataset.url=5", "dataset.url: expected str | list[str] | None, got 5 (an integer)"),
        ("dataset.timeout=fast", "dataset.timeout: expected float, got 'fast'"),
        ("dataset.retries=true", "dataset.retries: expected int, got True (true/false)"),
    ],
)
def test_each_option_is_checked_against_its_annotation(tmp_path, override, message):
    result = run_cli("show", "cnn", "--set", override, cwd=tmp_path, check=False)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_options_that_fit_pass(tmp_path):
    for override in ("optimizer.lr=1", "dataset.url=[http://a/x, http://b/x]", "model.channels=8"):
        assert run_cli("show", "cnn", "--set", override, cwd=tmp_path).returncode == 0
    cfg = zoo.resolve("cnn", overrides={"optimizer": {"name": "adam", "betas": [0.8, 0.9]}})
    assert cfg.optimizer.options["betas"] == [0.8, 0.9]
    with pytest.raises(zoo.ConfigError, match=r"expected tuple\[float, float\], got \[0.8\]"):
        zoo.resolve("cnn", overrides={"optimizer": {"name": "adam", "betas": [0.8]}})


def test_the_type_checker_reads_annotations_and_accepts_what_it_cannot_read():
    def factory(
        a: int,
        b: float | None,
        c: tuple[int, ...],
        d: Mapping[str, str],
        e: Literal["x", "y"],
        f: Sequence[float],
        g,
        h: NotDefinedAnywhere,  # noqa: F821
    ):
        """A factory with every kind of annotation."""

    params = options.signature(factory).parameters
    check = {name: p.annotation for name, p in params.items()}
    assert options.check(3, check["a"]) and not options.check(3.5, check["a"])
    assert not options.check(True, check["a"])  # YAML's true is not a number
    assert options.check(None, check["b"]) and options.check(2, check["b"])
    assert options.check([1, 2, 3], check["c"]) and not options.check([1, "x"], check["c"])
    assert options.check({"k": "v"}, check["d"]) and not options.check({"k": 1}, check["d"])
    assert options.check("y", check["e"]) and not options.check("z", check["e"])
    assert options.check([0.5], check["f"]) and not options.check("0.5", check["f"])
    assert options.check(object(), check["g"]) and options.check(object(), check["h"])
    assert options.describe(check["c"]) == "tuple[int, ...]"


@pytest.mark.hostile
def test_run_summary_and_confusion_matrices_read_what_zoo_wrote_and_skip_the_rest(
    tmp_path, mnist_file
):
    run = zoo.train(
        "logistic",
        overrides={"dataset.path": str(mnist_file), "metrics": ["confusion_matrix"]},
        epochs=2,
        out=tmp_path / "run",
    )
    summary = zoo.run_summary(run.dir)
    assert summary.history == run.history and summary.epochs_done == 2
    assert summary.input_shape == (1, 28, 28) and not summary.in_use and summary.problem is None
    found = zoo.confusion_matrices(run.dir)
    assert list(found) == ["epoch 2"]
    assert found["epoch 2"]["matrix"] == run.history[-1]["val_confusion_matrix"]
    assert sum(map(sum, found["epoch 2"]["matrix"])) == 64  # every validation sample
    zoo.evaluate(run.dir, split="test")  # zoo eval writes confusion-test.json into the run
    assert list(zoo.confusion_matrices(run.dir)) == ["test", "epoch 2"]
    hostile = [
        {"matrix": [[1, 2], [3]]},  # not square
        {"matrix": [[1, -2], [3, 4]]},  # a negative count
        {"matrix": [[1, 2], [3, 4]], "classes": ["a", "b\x1b[2J"]},  # a terminal escape
        {"matrix": [[True]]},
        [[1]],
    ]
    for body in hostile:
        (run.dir / "confusion-valid.json").write_text(json.dumps(body))
        assert "valid" not in zoo.confusion_matrices(run.dir), body
    (run.dir / "model.json").write_text("[]")
    broken = zoo.run_summary(run.dir)
    assert broken.config is None and "model.json" in broken.problem


def test_a_metrics_scan_reads_only_what_was_added_and_starts_again_when_replaced(tmp_path):
    from zoo.runs import metrics

    row = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_acc": 0.9}
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(row | {"epoch": e}) + "\n" for e in range(1, 5001)))
    scan = metrics.MetricsScan(tmp_path, best=lambda rows: min(rows, key=lambda r: r["epoch"]))
    scan.update()
    assert scan.count == 5000 and scan.offset == path.stat().st_size
    assert len(scan.rows) <= metrics.MAX_SHOWN_ROWS and scan.rows[-1]["epoch"] == 5000
    assert [r["epoch"] for r in scan.rows[:3]] == [1, 5, 9]  # every 4th, evenly spaced
    with open(path, "a") as f:
        f.write(json.dumps(row | {"epoch": 5001}) + "\n" + '{"epoch": 5002, "tra')  # cut short
    read_from = scan.offset
    scan.update()
    assert scan.count == 5001 and scan.last["epoch"] == 5001 and scan.best["epoch"] == 1
    assert scan.offset == read_from + len(json.dumps(row | {"epoch": 5001})) + 1
    with open(path, "a") as f:  # the cut line completed: read now
        f.write('in_loss": 0.5, "val_loss": 0.4, "val_acc": 0.9}\n')
    assert scan.update().count == 5002
    replaced = tmp_path / "new.jsonl"  # a resume rewrites the file: read again from its start
    replaced.write_text(json.dumps(row | {"epoch": 1, "val_loss": 0.1}) + "\n")
    replaced.replace(path)
    assert scan.update().count == 1 and scan.rows == [row | {"epoch": 1, "val_loss": 0.1}]
