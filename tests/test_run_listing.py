"""Listing runs: `zoo runs`, `zoo.list_runs()` and what the page lists read a folder someone
shared. One bad run is one row saying why, never the end of the list; a run deleted while the
list is made is left out; the walk is bounded and never recursive; names are printed as text
(no escape sequence reaches the terminal); a run's date is when it trained."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

import zoo
from conftest import run_cli, run_process, train_small

pytestmark = pytest.mark.hostile

#: Names a shared folder can hold, each printed escaped: a window title and a screen clear, a
#: colour, a right-to-left override (``gnp.exe`` reads backwards as ``exe.png``).
HOSTILE_NAMES = {
    "title": "t\x1b]0;pwned\x07\x1b[2J",
    "colour": "c\x1b[31mred",
    "rtl": "x\u202egnp.exe",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished logistic run (2 epochs), copied by each test into its own folder."""
    return train_small(tmp_path_factory.mktemp("listing"))


def copy(trained, folder, name):
    target = folder / name
    shutil.copytree(trained, target)
    return target


@pytest.fixture
def chain(tmp_path):
    """1,100 nested folders (a RecursionError from a recursive glob), made and removed one by
    one: shutil.rmtree, pytest's clean-up, recurses as deep."""
    folders = [tmp_path / "runs" / "nested"]
    for _ in range(1100):
        folders.append(folders[-1] / "d")
    yield folders
    for folder in reversed(folders):
        if folder.is_dir():
            folder.rmdir()


def test_one_bad_run_is_one_row_and_the_others_are_listed(trained, tmp_path, chain):
    runs = tmp_path / "runs"
    copy(trained, runs, "good")
    for name in ("metrics-dir", "model-dir", "surrogate", "deep"):
        copy(trained, runs, name)
    (runs / "metrics-dir" / "metrics.jsonl").unlink()
    (runs / "metrics-dir" / "metrics.jsonl").mkdir()  # was "Error: Is a directory (3)"
    (runs / "model-dir" / "model.json").unlink()
    (runs / "model-dir" / "model.json").mkdir()
    with open(runs / "surrogate" / "metrics.jsonl", "a") as f:  # plain ASCII JSON
        f.write('{"epoch": 3, "train_loss": 0.1, "val_loss": 0.1, "val_acc": 0.5, "\\udcff": 1}\n')
    for folder in chain:
        folder.mkdir()
    undecodable = os.fsencode(runs) + b"/bad\xffname"  # a folder name that is not UTF-8
    shutil.copytree(os.fsencode(trained), undecodable)

    listing = run_process("runs", runs, cwd=tmp_path)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
    lines = listing.stdout.splitlines()
    broken = [line for line in lines if line.split()[3:4] == ["broken"]]
    assert len(broken) == 2, listing.stdout
    assert any(
        "metrics-dir" in line and "metrics.jsonl is not a regular file" in line for line in broken
    )
    assert any(
        "model-dir" in line and "model.json is not a regular file" in line for line in broken
    )
    listed = [line for line in lines if line.startswith("logistic")]
    assert len(listed) == 4, listing.stdout  # good, surrogate (its bad row left out), deep, bad\xff
    assert any("surrogate" in line and "2/2" in line for line in listed)
    assert any("bad\\udcffname" in line for line in listed)  # escaped, not a crash

    summaries = zoo.list_runs(runs)
    assert len(summaries) == 6 and sum(s.problem is not None for s in summaries) == 2


def test_names_from_a_shared_folder_reach_the_terminal_as_text(trained, tmp_path):
    runs = tmp_path / "runs"
    for name in HOSTILE_NAMES.values():
        copy(trained, runs, name)
    listing = run_process("runs", runs, cwd=tmp_path)
    assert listing.returncode == 0
    assert "\x1b" not in listing.stdout and "\x07" not in listing.stdout
    assert "\u202e" not in listing.stdout
    assert "t\\x1b]0;pwned\\x07\\x1b[2J" in listing.stdout and "x\\u202egnp.exe" in listing.stdout
    # a description in zoo.yaml someone shared: `zoo list runs` prints it escaped as well
    (tmp_path / "zoo.yaml").write_text(
        'runs:\n  mine:\n    model: {name: logistic}\n    description: "a\\e]0;pwned\\ab"\n'
    )
    listed = run_process("list", "runs", cwd=tmp_path)
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout, listed.stdout
    assert "a\\x1b]0;pwned\\x07b" in listed.stdout


def test_a_run_deleted_while_the_list_is_made_is_left_out(trained, tmp_path):
    runs = tmp_path / "runs"
    for i in range(20):
        copy(trained, runs, f"run-{i:02d}")
    stop = threading.Event()

    def churn():  # delete and bring back runs while the lists are made
        while not stop.is_set():
            for i in range(0, 20, 2):
                victim = runs / f"run-{i:02d}"
                shutil.rmtree(victim, ignore_errors=True)
                shutil.copytree(trained, victim, dirs_exist_ok=True)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(100):
            found = zoo.list_runs(runs)  # one half deleted may be a row saying what it lacks
            assert 10 <= len(found) <= 20
            assert all(s.problem is None or "\n" not in s.problem for s in found)
    finally:
        stop.set()
        worker.join()


def test_the_walk_is_bounded_in_depth(trained, tmp_path):
    from zoo.runs import directory

    runs = tmp_path / "runs"
    copy(trained, runs / os.path.join(*["d"] * (directory.MAX_DEPTH - 1)), "found")
    copy(trained, runs / os.path.join(*["d"] * (directory.MAX_DEPTH + 2)), "too-deep")
    assert [p.name for p in directory.find_runs(runs)] == ["found"]


def test_a_runs_date_is_when_it_trained_not_when_it_was_looked_at(trained, tmp_path):
    run = copy(trained, tmp_path / "runs", "good")
    trained_at = time.time() - 3600
    for name in ("config.yaml", "metrics.jsonl"):
        os.utime(run / name, (trained_at, trained_at))
    os.utime(run, (trained_at, trained_at))
    before = zoo.run_summary(run).date
    out = run_cli("eval", run, "--set", "metrics=[confusion_matrix]", cwd=tmp_path)
    assert "confusion matrix" in out.stdout and (run / "confusion-valid.json").is_file()
    assert (
        zoo.run_summary(run).date
        == before
        == time.strftime("%Y-%m-%d %H:%M", time.localtime(trained_at))
    )


def test_the_page_reads_again_only_the_runs_that_changed(trained, tmp_path):
    """A poll of the page's list reads a run again when its files changed (an epoch appended, a
    file broken, a run removed or added), never shows what it was before."""
    from zoo.ui.app import Folder

    runs = tmp_path / "runs"
    for name in ("a", "b", "c"):
        copy(trained, runs, name)
    folder = Folder(runs)
    first = {name: s for name, s in folder.runs()}
    assert {s.status for s in first.values()} == {"complete"}
    again = {name: s for name, s in folder.runs()}
    assert all(again[n] is first[n] for n in first)  # nothing changed: nothing read again
    rows = (runs / "a" / "metrics.jsonl").read_text().splitlines()
    (runs / "a" / "metrics.jsonl").write_text("\n".join(rows[:1]) + "\n")
    (runs / "b" / "model.json").write_text("[")
    shutil.rmtree(runs / "c")
    copy(trained, runs, "d")
    now = {name: s for name, s in folder.runs()}
    assert sorted(now) == ["a", "b", "d"]
    assert now["a"].epochs_done == 1 and now["a"] is not first["a"]
    assert now["b"].status == "broken" and "model.json" in now["b"].problem
