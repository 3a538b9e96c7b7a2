"""The catalog of shipped weights: the results table (and docs/results.md in sync with it), the
cards' parameters, FLOPs, training time and hardware, and cards with bad fields refused. Small
generated data: the catalog's real numbers come from plugins/ship_weights.py."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

import zoo
from conftest import one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[1]


# --- the transforms -------------------------------------------------------------------------


# --- stopping at a target -----------------------------------------------------------------------


# --- cards and the results table ------------------------------------------------------------------


def test_a_runs_card_records_parameters_flops_time_and_hardware(tmp_path, mnist_file):
    from zoo.runs.weights import card_fields

    run = zoo.train(
        "cnn", overrides={"dataset.path": str(mnist_file)}, epochs=2, out=tmp_path / "run"
    )
    card = card_fields(run.dir, "cnn.tiny")
    assert card["parameters"] == 3930
    assert card["flops"] == 328_320  # 2 per multiply-accumulate of the three convolutions
    assert card["train_seconds"] == pytest.approx(
        sum(row["epoch_seconds"] for row in run.history), abs=0.1
    )
    assert card["hardware"] and "cores" in card["hardware"]


SHIPPED_NEW = {"mlp", "lenet5", "bn_cnn"}


def test_the_new_models_ship_weights_on_both_datasets_with_the_new_columns():
    rows = zoo.results()
    for model in SHIPPED_NEW:
        for dataset in ("mnist", "fashion_mnist"):
            name = f"{model}.{dataset}"
            row = next((r for r in rows if r.name == name), None)
            assert row is not None, f"{name} is not shipped"
            assert row.test_acc and row.parameters and row.flops and row.train_seconds
            assert row.hardware


def test_zoo_list_weights_prints_the_table_in_every_format(tmp_path):
    text = run_cli("list", "weights", cwd=tmp_path).stdout
    header = text.splitlines()[0].split()
    assert header[:4] == ["weights", "model", "dataset", "test"]
    assert "FLOPs" in header and "hardware" in header
    table = list(
        csv.DictReader(
            io.StringIO(run_cli("list", "weights", "--format", "csv", cwd=tmp_path).stdout)
        )
    )
    assert {r["name"] for r in table} == set(zoo.list_weights())
    items = json.loads(run_cli("list", "weights", "--format", "json", cwd=tmp_path).stdout)
    assert [i["name"] for i in items] == [r["name"] for r in table]
    by_accuracy = json.loads(
        run_cli("list", "weights", "--format", "json", "--sort", "test_acc", cwd=tmp_path).stdout
    )
    accuracies = [i["test_acc"] for i in by_accuracy]
    assert accuracies == sorted(accuracies, reverse=True)
    by_size = json.loads(
        run_cli("list", "weights", "--format", "json", "--sort", "parameters", cwd=tmp_path).stdout
    )
    sizes = [i["parameters"] for i in by_size if i["parameters"] is not None]
    assert sizes == sorted(sizes)
    markdown = run_cli("list", "weights", "--format", "markdown", cwd=tmp_path).stdout
    assert markdown.splitlines()[1].startswith("| --- |")
    one_line_error(
        run_cli("list", "weights", "--sort", "acc", cwd=tmp_path, check=False),
        "cannot sort by 'acc'",
    )


def test_docs_results_md_is_what_the_cards_say():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import results as page
    finally:
        sys.path.remove(str(ROOT / "docs"))
    written = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert written == page.page(), "docs/results.md is out of date: python docs/results.py"
    for name in zoo.list_weights():
        assert f"`zoo reproduce {name}`" in written


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("parameters", -1),
        ("flops", 10**400),
        ("train_seconds", "soon"),
        ("hardware", "\x1b[2Jgpu"),
        ("seeds", {"seed": 0}),
        ("seeds", [{"seed": 0, "test_acc": 0.9}, {"seed": 0, "test_acc": 0.8}]),
        ("seeds", [{"seed": "0", "test_acc": 0.9}]),
        ("seeds", [{"seed": 1, "test_acc": 10**400}]),
        ("seeds", [{"seed": 1, "test_acc": "=HYPERLINK()"}]),
        ("seeds", [{"seed": i} for i in range(101)]),
    ],
)
def test_a_card_with_a_bad_new_field_is_refused(tmp_path, field, value):
    from zoo.plugins.cards import CardError, read_card

    card = json.loads((ROOT / "plugins/cnn/zoo_cnn/weights/cnn.mnist.json").read_text())
    card[field] = value
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "cnn.mnist.json").write_text(json.dumps(card))
    with pytest.raises(CardError, match=field):
        read_card("cnn.mnist", "cnn.mnist.json", package)


# --- understanding a model ------------------------------------------------------------------------


@pytest.mark.hostile
def test_a_shared_runs_model_json_with_a_bad_flops_count_is_refused(tmp_path, mnist_file):
    run = zoo.train(
        "logistic", overrides={"dataset.path": str(mnist_file)}, epochs=1, out=tmp_path / "run"
    )
    info = json.loads((run.dir / "model.json").read_text())
    assert info["parameters"] == 7850 and info["flops"] == 15_680
    info["flops"] = -5
    (run.dir / "model.json").write_text(json.dumps(info))
    result = run_cli("eval", run.dir, "--set", f"dataset.path={mnist_file}", cwd=tmp_path,
                     check=False)  # fmt: skip
    one_line_error(result, "'flops' must be a whole number")
