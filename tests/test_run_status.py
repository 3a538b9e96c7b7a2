"""A run's status, one word everywhere: ``zoo.open_run(path).status``, ``zoo runs`` (and its
``--format json``), ``zoo resume`` and ``zoo sweep`` agree on new, unfinished, complete, stopped,
training and broken runs (zoo ui's page is checked in tests/test_ui.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zoo
from conftest import EveryStatus, one_line_error, run_cli


@pytest.fixture
def every(tmp_path):
    runs = EveryStatus(tmp_path)
    yield runs
    runs.close()


def listed(folder) -> dict[str, dict]:
    out = run_cli("runs", "runs", "--format", "json", cwd=folder).stdout
    return {json.loads(line)["dir"]: json.loads(line) for line in out.splitlines()}


def test_every_status_is_the_same_word_in_python_and_in_zoo_runs(every):
    folder = every.folder
    for state in ("live", "killed"):
        if state == "killed":
            every.kill()
        for path, status in every.expected.items():
            assert zoo.open_run(folder / path).status == status, (path, state)
        rows = listed(folder)
        expected = {p: s for p, s in every.expected.items() if p != "runs/new"}  # holds no run
        assert {p: r["status"] for p, r in rows.items()} == expected
        table = run_cli("runs", "runs", cwd=folder).stdout.splitlines()
        assert table[0].split()[:3] == ["name", "date", "status"]
        for line in table[1:]:
            path = line.split()[-1].rstrip(":") if "broken" not in line else "runs/broken"
            assert expected[path.split(":")[0]] in line.split(), line


def test_the_reason_says_why_in_one_line(every):
    folder = every.folder
    rows = listed(folder)
    assert rows["runs/complete"]["reason"] == "2 of 2 epochs"
    assert "reached the target" in rows["runs/stopped"]["reason"]
    assert "model.json is not JSON" in rows["runs/broken"]["reason"]
    assert f"pid {every.live.pid}" in rows["runs/training"]["reason"]
    every.kill()
    assert listed(folder)["runs/training"]["reason"].endswith("of 100000 epochs")
    for row in listed(folder).values():
        assert "\n" not in row["reason"]


def test_the_status_needs_no_model_and_no_torch(every):
    """Read in a fresh process: the status, reason and history of each run, torch never imported
    (the model is built the first time it is asked for)."""
    code = (
        "import sys, zoo\n"
        "for path in sys.argv[1:]:\n"
        "    run = zoo.open_run(path)\n"
        "    print(path, run.status)\n"
        "print('torch' in sys.modules)\n"
    )
    paths = [str(every.folder / p) for p in every.expected]
    out = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[-2] == "False"
    run = zoo.open_run(every.folder / "runs/complete")
    assert run._model is None and run.model is not None and not run.model.training


def test_a_broken_run_opens_and_says_why_where_it_is_used(every):
    run = zoo.open_run(every.folder / "runs/broken")
    assert run.status == "broken" and "model.json is not JSON" in run.reason
    assert "broken" in repr(run)
    with pytest.raises(zoo.ZooError, match="not JSON"):
        run.model  # noqa: B018
    with pytest.raises(zoo.ZooError, match="not a folder"):
        zoo.open_run(every.folder / "runs/none-here")


def test_zoo_resume_follows_the_status(every):
    folder = every.folder
    complete = run_cli("resume", "runs/complete", cwd=folder)
    assert complete.stdout.strip().splitlines() == [
        "runs/complete is complete: 2 of 2 epochs (zoo resume --epochs N trains further)"
    ]
    stopped = run_cli("resume", "runs/stopped", cwd=folder).stdout.strip().splitlines()
    assert len(stopped) == 1 and "is stopped (complete by its own rule) after 1 epoch" in stopped[0]
    broken = run_cli("resume", "runs/broken", cwd=folder, check=False)
    one_line_error(broken, "cannot be resumed", "model.json is not JSON")
    assert broken.returncode == 1
    training = run_cli("resume", "runs/training", cwd=folder, check=False)
    one_line_error(training, f"is in use by zoo (pid {every.live.pid}")
    one_line_error(run_cli("resume", "runs/new", cwd=folder, check=False), "holds no run")
    every.kill()
    fewer = run_cli("resume", "runs/training", "--epochs", "1", cwd=folder, check=False)
    one_line_error(fewer, "--epochs 1", "epochs already")  # fewer than it has trained
    assert zoo.open_run(folder / "runs/training").status == "unfinished"  # its plan unchanged
