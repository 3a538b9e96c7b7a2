"""zoo.yaml: where it is found, how runs merge with defaults, --set overrides and their errors."""

from __future__ import annotations

import re

import pytest

import zoo
from zoo import config

DOC = """
defaults:
  dataset: {name: mnist}
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
  epochs: 10
  batch_size: 64
runs:
  logistic:
    model: {name: logistic}
    optimizer: {lr: 0.5, momentum: 0.0}
    epochs: 2
  fancy:
    model: {name: cnn}
    optimizer: {name: adam, lr: 0.001}
"""


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "zoo.yaml"
    path.write_text(DOC)
    return config.load(path)


def test_a_run_merges_over_the_defaults(doc):
    cfg = config.resolve_run(doc, "logistic")
    assert cfg.optimizer.to_dict() == {"name": "sgd", "lr": 0.5, "momentum": 0.0}
    assert (cfg.epochs, cfg.batch_size, cfg.name) == (2, 64, "logistic")


def test_a_section_with_another_name_replaces_the_default(doc):
    assert config.resolve_run(doc, "fancy").optimizer == config.Part("adam", {"lr": 0.001})


def test_a_registered_model_runs_with_the_defaults(doc):
    cfg = config.resolve_run(doc, "wide_mlp", is_model=lambda n: n == "wide_mlp")
    assert cfg.model == config.Part("wide_mlp") and cfg.epochs == 10


def test_unknown_run_suggests_close_names(doc):
    with pytest.raises(zoo.UnknownNameError, match="did you mean 'logistic'"):
        config.resolve_run(doc, "logistc", models=["cnn"])


def test_set_overrides_any_key_with_yaml_values(doc):
    cfg = config.resolve_run(
        doc,
        "logistic",
        overrides=[
            "optimizer.lr=0.1",
            "dataset.url=[http://a/x.gz, http://b/x.gz]",
            "shuffle=false",
            "model.hidden=32",
        ],
    )
    assert cfg.optimizer.options["lr"] == 0.1
    assert cfg.dataset.options["url"] == ["http://a/x.gz", "http://b/x.gz"]
    assert cfg.shuffle is False and cfg.model.options["hidden"] == 32


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epoch=3", "unknown key 'epoch' — did you mean 'epochs'?"),
        ("epochs=three", "epochs: expected a positive integer, got 'three'"),
        ("epochs=0", "epochs: expected a positive integer, got 0"),
        ("shuffle=maybe", "shuffle: expected true or false, got 'maybe'"),
        ("device=tpu", "device: expected auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
        ("amp=fp32", "amp: expected false, true (bf16), bf16 or fp16, got 'fp32'"),
        ("epochs.x=1", "'epochs' has no sub-keys"),
        ("optimizer", "expected KEY=VALUE"),
        ("model=3", "model: expected a mapping with a 'name'"),
        ("scheduler=[1]", "scheduler: expected a mapping with a 'name'"),
        ("metrics.top_k=3", "'metrics' is a list: set it whole"),
        ("callbacks=3", "callbacks: expected a list"),
        ("accumulate=0", "accumulate: expected a positive integer"),
    ],
)
def test_bad_overrides_name_the_key(doc, override, message):
    with pytest.raises(zoo.ConfigError, match=re.escape(message)):
        config.resolve_run(doc, "logistic", overrides=[override])


def test_cli_options_apply_last(doc):
    cfg = config.resolve_run(
        doc, "logistic", overrides=["epochs=5"], options={"epochs": 1, "seed": None}
    )
    assert cfg.epochs == 1 and cfg.seed == 0  # the default, as zoo.yaml gives none here


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "zoo.yaml"
    path.write_text("runs:\n  a:\n    epochs: 1\n   bad: [\n")
    with pytest.raises(zoo.ConfigError, match=r"zoo.yaml line \d+: invalid YAML"):
        config.load(path)


def test_unknown_keys_in_the_file_are_errors(tmp_path):
    path = tmp_path / "zoo.yaml"
    path.write_text("runs:\n  a:\n    epocs: 1\n")
    with pytest.raises(zoo.ConfigError, match="runs.a: unknown key 'epocs'"):
        config.load(path)


def test_config_is_found_from_flag_env_parents_then_shipped(tmp_path, monkeypatch):
    nested = tmp_path / "project" / "src" / "deep"
    nested.mkdir(parents=True)
    (tmp_path / "project" / "zoo.yaml").write_text(DOC)
    assert config.find_config(cwd=nested) == tmp_path / "project" / "zoo.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(DOC)
    monkeypatch.setenv("ZOO_CONFIG", str(other))
    assert config.find_config(cwd=nested) == other
    assert config.find_config(str(other), cwd=nested) == other
    with pytest.raises(zoo.ConfigError, match="does not exist"):
        config.find_config(str(tmp_path / "nope.yaml"))
    monkeypatch.delenv("ZOO_CONFIG")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    assert config.find_config(cwd=lonely) == config.shipped_config()


def test_the_shipped_config_has_the_seeds_runs():
    doc = config.load(config.shipped_config())
    logistic = config.resolve_run(doc, "logistic")
    assert logistic.optimizer == config.Part("sgd", {"lr": 0.5, "momentum": 0.0})
    assert (logistic.epochs, logistic.batch_size, logistic.shuffle) == (2, 64, False)
    for name in ("cnn", "sequential_cnn"):
        cfg = config.resolve_run(doc, name)
        assert cfg.optimizer == config.Part("sgd", {"lr": 0.05, "momentum": 0.9})
        assert (cfg.epochs, cfg.batch_size, cfg.shuffle) == (10, 64, True)
        assert cfg.valid_size == 128


def test_scientific_notation_is_a_number(doc):
    cfg = config.resolve_run(doc, "logistic", overrides=["optimizer.lr=1e-3"])
    assert cfg.optimizer.options["lr"] == 0.001
