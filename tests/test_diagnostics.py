"""Looking into a model: the samples it gets most wrong (zoo eval --top-losses) and the
learning-rate range test (zoo lr-find)."""

from __future__ import annotations

import pytest
from PIL import Image

import zoo
from conftest import one_line_error, run_cli


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
    if "suggested" in printed:  # the command to try trains on the data it measured
        assert f"(try it: zoo run logistic --set dataset.path={mnist_file} --set optimizer.lr=" in (
            printed
        )
    assert (tmp_path / "lr-find.png").is_file() and not (tmp_path / "runs").exists()
    one_line_error(
        run_cli("lr-find", "logistic", "--start", "1", "--end", "0.1", cwd=tmp_path, check=False),
        "the rates must grow",
    )
