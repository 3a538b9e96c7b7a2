"""What a new user ran into: a local zoo.yaml that hid zoo's own runs, data that moved before a
resume, `~` kept unexpanded, `zoo list --config` that ignored the file's models."""

from __future__ import annotations

import shutil

import yaml

from conftest import run_cli

LOCAL = """
models:
  tiny:
    sequential:
      - {layer: flatten}
      - {layer: linear, in_features: 784, out_features: 10}
runs:
  mine:
    model: {name: tiny}
    epochs: 3
"""


def test_a_local_zoo_yaml_adds_to_zoos_own_runs_and_show_says_where_from(tmp_path):
    (tmp_path / "zoo.yaml").write_text(LOCAL)
    logistic = run_cli("show", "logistic", cwd=tmp_path).stdout
    assert yaml.safe_load(logistic)["optimizer"]["lr"] == 0.5  # the tutorial's run, still there
    assert "# from runs.logistic in zoo's own zoo.yaml: description, model.name" in logistic
    mine = run_cli("show", "mine", "--set", "optimizer.lr=0.1", cwd=tmp_path).stdout
    assert "# from runs.mine in zoo.yaml: model.name, epochs" in mine
    assert "# from --set: optimizer.lr" in mine
    assert "# from defaults in zoo's own zoo.yaml: dataset.name" in mine
    runs = run_cli("list", "runs", cwd=tmp_path).stdout
    assert "  mine " in runs and "  cnn " in runs


def test_list_with_config_shows_that_files_models(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mine.yaml").write_text(LOCAL)
    listed = run_cli("list", "models", "--config", "conf/mine.yaml", cwd=tmp_path).stdout
    assert "tiny" in listed and "2 layers from mine.yaml" in listed


def test_resume_can_be_told_where_the_data_went(tmp_path, mnist_file, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "data").mkdir(parents=True)
    shutil.copy(mnist_file, tmp_path / "home" / "data" / "mnist.pkl.gz")
    run_cli("run", "logistic", "--epochs", "1", "--set", "dataset.path=~/data/mnist.pkl.gz",
            "--out", "run", "--no-progress", cwd=tmp_path)  # fmt: skip
    stored = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert stored["dataset"]["path"] == str(tmp_path / "home" / "data" / "mnist.pkl.gz")
    (tmp_path / "home" / "data").rename(tmp_path / "moved")
    lost = run_cli("resume", "run", "--epochs", "2", cwd=tmp_path, check=False)
    assert lost.returncode == 1 and "does not exist" in lost.stderr
    refused = run_cli("resume", "run", "--set", "optimizer.lr=1", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "takes where the data is now" in refused.stderr
    new = tmp_path / "moved" / "mnist.pkl.gz"
    run_cli("resume", "run", "--epochs", "2", "--set", f"dataset.path={new}", "--no-progress",
            cwd=tmp_path)  # fmt: skip
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["dataset"]["path"] == (
        str(new)
    )
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
