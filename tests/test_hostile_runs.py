"""A run directory someone shared is untrusted input: every file in it is checked, nothing outside
it is read or deleted, nothing in it is run, and each bad file is one line on stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import one_line_error, run_cli
from conftest import run_process as zoo_cmd

#: Counted at the end of the run: how many hostile inputs zoo was tried on.
pytestmark = pytest.mark.hostile


@pytest.fixture(scope="module")
def trained(module_data):
    """Two finished runs (logistic, 2 epochs) that each test copies and tampers with."""
    folder, data = module_data
    for out in ("runs/good", "runs/other"):
        run_cli("run", "logistic", "--set", f"dataset.path={data}", "--out", out,
                "--no-progress", cwd=folder, env={"ZOO_HOME": str(folder / "home")})  # fmt: skip
    return folder


@pytest.fixture
def runs(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(trained / "home"))
    shutil.copytree(trained / "runs", tmp_path / "runs")
    return tmp_path / "runs"


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ({"epoch": 2, "folder": "/elsewhere/checkpoints/epoch-0002"}, "names the folder"),
        ({"epoch": 2, "folder": "../other/checkpoints/epoch-0002"}, "names the folder"),
        ({"epoch": -5, "folder": "checkpoints/epoch-00-5"}, "expected a positive epoch"),
        ({"epoch": "2", "folder": "checkpoints/epoch-0002"}, "expected a positive epoch"),
        ([1, 2], "expected a positive epoch"),
        ("not json at all", "is unreadable"),
    ],
)
def test_a_marker_cannot_point_outside_its_run(runs, tmp_path, marker, message):
    good = runs / "good"
    text = marker if isinstance(marker, str) else json.dumps(marker)
    (good / "checkpoint.json").write_text(text)
    before = sorted(p.name for p in (good / "checkpoints").iterdir())
    for command in (["eval", good], ["resume", good, "--epochs", "3"], ["predict", good, good]):
        one_line_error(run_cli(*command, cwd=tmp_path, check=False), message)
    assert sorted(p.name for p in (good / "checkpoints").iterdir()) == before  # nothing deleted
    assert len((good / "metrics.jsonl").read_text().splitlines()) == 2  # nothing rewritten


def test_a_symlinked_checkpoint_leading_elsewhere_is_refused(runs, tmp_path):
    good, other = runs / "good", runs / "other"
    folder = good / "checkpoints" / "epoch-0002"
    shutil.rmtree(folder)
    folder.symlink_to(other / "checkpoints" / "epoch-0002")
    one_line_error(run_cli("eval", good, cwd=tmp_path, check=False), "outside its run directory")


BOMB = """\
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_a_yaml_bomb_is_refused_and_zoo_runs_shows_the_others(runs, tmp_path):
    (runs / "good" / "config.yaml").write_text(BOMB)
    for command in (["eval", runs / "good"], ["resume", runs / "good"]):
        one_line_error(run_cli(*command, cwd=tmp_path, check=False), "aliases")
    listing = run_cli("runs", runs, cwd=tmp_path)
    lines = listing.stdout.splitlines()
    assert any(line.split()[3:4] == ["broken"] and "good" in line for line in lines)
    assert any(line.startswith("logistic") and "other" in line for line in lines)
    plotted = run_cli("plot", runs / "good", runs / "other", "--out", "p.png", cwd=tmp_path)
    assert "wrote p.png" in plotted.stdout  # the metrics of both are fine: both are drawn


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("config.yaml", "epochs: 2 -> epochs: many", "epochs: expected a positive integer"),
        ("config.yaml", "[1, 2]\n", "not a run config zoo wrote"),
        ("config.yaml", b"\xff\xfe binary", "is not text"),
        ("model.json", '{"model": 5}', "'model' must name a model"),
        ("model.json", '{"model": "logistic", "input_shape": [1, -28, 28]}', "input_shape"),
        ("model.json", "{", "is not JSON"),
        ("checkpoints/epoch-0002/model.safetensors", b"garbage", "not a readable safetensors file"),
    ],
)
def test_malformed_files_are_one_line(runs, tmp_path, file, content, message):
    path = runs / "good" / file
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif " -> " in content:  # one line of the real file changed
        old, new = content.split(" -> ")
        path.write_text(path.read_text().replace(old, new))
    else:
        path.write_text(content)
    one_line_error(run_cli("eval", runs / "good", cwd=tmp_path, check=False), message)


PAYLOAD = """
import os, pickle, sys

class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
with open(sys.argv[1], "wb") as f:
    pickle.dump({"format": 1, "epoch": 2, "evil": Evil()}, f)
"""


def test_a_pickle_in_state_pt_never_runs(runs, tmp_path):
    state = runs / "good" / "checkpoints" / "epoch-0002" / "state.pt"
    proof = tmp_path / "payload-ran"
    subprocess.run([sys.executable, "-c", PAYLOAD, str(state), str(proof)], check=True)
    result = zoo_cmd("resume", runs / "good", "--epochs", "3", cwd=tmp_path)
    one_line_error(result, "is not a training state zoo wrote", "nothing in it was run")
    assert "weights_only=False" not in result.stderr  # torch's advice to run it is not passed on
    assert not proof.exists()
    state.write_bytes(b"\x00" * 100)
    one_line_error(run_cli("resume", runs / "good", "--epochs", "3", cwd=tmp_path, check=False))


HOLDER = textwrap.dedent("""
    import sys, time
    from zoo.runs import lock
    with lock.locked(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def test_two_processes_never_share_a_run_directory(runs, tmp_path):
    good = runs / "good"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(good)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_cli("resume", good, "--epochs", "3", cwd=tmp_path, check=False)
        one_line_error(result, "is in use by zoo (pid", f"{holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while (good / ".zoo.lock.owner").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run_cli("resume", good, "--epochs", "3", "--no-progress", cwd=tmp_path).returncode == 0
    assert len((good / "metrics.jsonl").read_text().splitlines()) == 3


def test_a_run_that_died_before_its_first_checkpoint_starts_again(runs, tmp_path):
    good = runs / "good"
    expected = (good / "metrics.jsonl").read_text().splitlines()
    for name in ("checkpoint.json", "best.safetensors", "metrics.jsonl"):
        (good / name).unlink()
    shutil.rmtree(good / "checkpoints")
    resumed = run_cli("resume", good, "--no-progress", cwd=tmp_path)
    assert "starting it again from epoch 1" in resumed.stdout
    got = [json.loads(line) for line in (good / "metrics.jsonl").read_text().splitlines()]
    keys = ("epoch", "train_loss", "val_loss", "val_acc")
    assert [[r[k] for k in keys] for r in got] == [
        [json.loads(line)[k] for k in keys] for line in expected
    ]


def test_an_unwritable_zoo_home_is_one_line(tmp_path):
    result = zoo_cmd("plugins", "disable", "cnn", cwd=tmp_path, env={"ZOO_HOME": "/proc/zoo"})
    one_line_error(result, "/proc/zoo")


@pytest.fixture
def read_only(tmp_path):
    """``read_only(folder)``: the folder mounted read-only in place (even root cannot write
    there); the test is skipped where mounting is not allowed."""
    mounted = []

    def make(folder):
        for args in (["--bind", folder, folder], ["-o", "remount,bind,ro", folder]):
            done = subprocess.run(["mount", *map(str, args)], capture_output=True)
            if done.returncode != 0:
                pytest.skip("a read-only bind mount is not allowed here")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_read_only_run_directory_or_zoo_home_is_one_line(runs, tmp_path, read_only, trained):
    good = read_only(runs / "good")
    one_line_error(run_cli("resume", good, "--epochs", "3", cwd=tmp_path, check=False), "Read-only")
    home = tmp_path / "home"
    shutil.copytree(trained / "home", home)
    read_only(home)
    for command in (["data", "rm", "mnist"], ["plugins", "disable", "cnn"]):
        result = zoo_cmd(*command, cwd=tmp_path, env={"ZOO_HOME": str(home)})
        one_line_error(result, "Read-only file system")
    assert list((home / "datasets" / "mnist").iterdir())  # nothing removed
