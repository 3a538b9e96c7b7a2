"""Text from outside stays text wherever zoo writes it: a CSV cell is never a spreadsheet
formula (OWASP's rule), a Markdown cell never splits its row or adds markup, a card never
carries such a value (a shared run cannot plant one in a published card), and a shared run's
metrics cannot make a card zoo itself would refuse."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

import zoo
from conftest import one_line_error, run_cli, train_small
from zoo import text
from zoo.api.results import Result, format_results

pytestmark = pytest.mark.hostile
ROOT = Path(__file__).parents[1]

FORMULAS = ['=HYPERLINK("http://example.com/x","Click")', "+1+2", "-2+3", "@SUM(A1:A2)"]


def row(**changes) -> Result:
    fields = dict(
        name="cnn.mine",
        model="cnn",
        dataset="mnist",
        test_acc=0.95,
        test_loss=0.18,
        parameters=3930,
        flops=328_320,
        train_seconds=1162.5,
        hardware="AMD EPYC, 2 cores",
        plugin="mine",
    )
    return Result(**(fields | changes))


@pytest.mark.parametrize("value", FORMULAS)
def test_a_csv_cell_is_never_a_formula(value):
    table = format_results([row(hardware=value, plugin=value)], "csv")
    (parsed,) = csv.DictReader(io.StringIO(table))
    assert parsed["hardware"] == "'" + value and parsed["plugin"] == "'" + value
    assert not any(cell.startswith(tuple("=+-@")) for cell in parsed.values())
    assert parsed["test_acc"] == "0.95"  # numbers stay numbers


def test_a_markdown_cell_cannot_split_its_row_or_add_markup():
    hostile = "a | b | c <img src=x onerror=alert(1)> [link](javascript:x) `code` *em*"
    table = format_results([row(hardware=hostile)], "markdown", commands=True)
    head, rule, line = table.splitlines()
    unescaped = lambda s: s.replace("\\|", "")  # noqa: E731
    assert unescaped(line).count("|") == unescaped(head).count("|") == rule.count("|")
    assert "<img" not in line and "&lt;img" in line and "\\[link\\]" in line
    assert "\\`code\\`" in line and "\\*em\\*" in line
    assert "bn_cnn.mnist" in format_results(zoo.results("bn_cnn.mnist"), "markdown")


def test_one_duration_formatter_everywhere():
    assert text.duration(1162.5) == "19m 22s"  # as the page shows it (it asks the server)
    assert text.duration(1163.5) == "19m 24s" and text.duration(42.25) == "42.2s"
    cells = format_results([row()], "text").splitlines()[1]
    assert "19m 22s" in cells


def test_printable_escapes_what_a_terminal_or_a_page_would_act_on():
    assert text.printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert text.printable("x\u202egnp.exe") == "x\\u202egnp.exe"
    assert text.printable("\udcff") == "\\udcff"  # a lone surrogate: encodable once escaped
    assert text.terminal("two\nlines\x07") == "two\nlines\\x07"


@pytest.mark.parametrize("value", FORMULAS[:1] + ["a\x1b[2Jb"])
def test_a_card_refuses_formula_or_control_text(tmp_path, value):
    from zoo.plugins.cards import CardError, read_card

    card = json.loads((ROOT / "plugins/cnn/zoo_cnn/weights/cnn.mnist.json").read_text())
    for field in ("hardware", "description"):
        hostile = dict(card, **{field: value})
        with pytest.raises(CardError, match=field):
            read_card("cnn.mnist", hostile, None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_small(tmp_path_factory.mktemp("published"))


def test_a_shared_runs_hardware_cannot_plant_a_formula_in_a_published_card(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    env = json.loads((run / "env.json").read_text())
    (run / "env.json").write_text(json.dumps(env | {"hardware": FORMULAS[0]}))
    result = run_cli("new-plugin", "mine", "--from-run", run, cwd=tmp_path, check=False)
    one_line_error(result, "its hardware", "not starting like a spreadsheet formula")
    assert not (tmp_path / "zoo-mine").exists()


@pytest.mark.parametrize("seconds", ["1.5", 1.5e308, -3.0, None])
def test_a_shared_runs_epoch_seconds_never_make_an_unreadable_card(trained, tmp_path, seconds):
    from zoo.plugins.cards import read_card

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r | {"epoch_seconds": seconds} for r in rows]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_cli("new-plugin", "mine", "--from-run", run, "--tag", "t", cwd=tmp_path)
    folder = tmp_path / "zoo-mine" / "zoo_mine" / "weights"
    card = json.loads((folder / "logistic.t.json").read_text())
    assert card["train_seconds"] is None  # not a number zoo can vouch for: not recorded
    assert read_card("logistic.t", "logistic.t.json", folder).train_seconds is None
