"""``zoo tune``: searches on real Optuna (a journal file), each trial a zoo run directory; worker
processes that never share a trial; a worker SIGKILLed mid-trial whose trial the next worker
resumes from its checkpoint with the numbers of one never stopped; searches written wrongly,
one line each."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import zoo
from conftest import one_line_error, run_cli, run_process

pytest.importorskip("optuna")


def tune_args(mnist_file, out, *more):
    return ["tune", "logistic", "--space", "optimizer.lr=loguniform(0.01,1)", "--set",
            f"dataset.path={mnist_file}", "--out", out, *more]  # fmt: skip


def test_two_workers_share_a_study_and_never_a_trial(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "study", "--space", "batch_size=choice(32,64)",
                     "--trials", "5", "--epochs", "2", "--workers", "2", "--seed", "0")  # fmt: skip
    done = run_process(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[worker 0] trial" in done.stdout and "[worker 1] trial" in done.stdout
    found = zoo.tune_status(tmp_path / "study")
    rows = found["trials"]
    assert sum(r["state"] in ("complete", "pruned") for r in rows) >= 5
    dirs = [r["run_dir"] for r in rows]
    assert len(dirs) == len(set(dirs))  # no two trials in one directory
    for row in rows:
        run_dir = tmp_path / "study" / row["run_dir"]
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert config["optimizer"]["lr"] == pytest.approx(row["params"]["optimizer.lr"])
        assert config["batch_size"] == row["params"]["batch_size"]
        history = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert len(history) == row["epochs"]  # every epoch reported to its trial
    best = found["best"]
    assert best["value"] == min(r["value"] for r in rows if r["state"] == "complete")
    assert f"best: trial {best['number']}, val_loss" in done.stdout
    shown = run_cli("tune", "--status", tmp_path / "study", cwd=tmp_path).stdout
    assert "study 'logistic' in" in shown and "importances (Optuna's fANOVA): " in shown


def test_a_pruned_trial_is_a_stopped_run_with_the_pruners_reason(tmp_path, mnist_file):
    study = zoo.tune("logistic", ["optimizer.lr=loguniform(1e-4,1)"], trials=6, epochs=3,
                     overrides=[f"dataset.path={mnist_file}"], out=tmp_path / "s", seed=2,
                     sampler="random")  # fmt: skip
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert len(study.trials) == 6 and pruned, [t.state for t in study.trials]
    for trial in pruned:
        standing = zoo.runs.rundir.RunDir(tmp_path / "s" / trial.user_attrs["run_dir"]).check()
        assert standing.status == "stopped" and "pruned by Optuna's median pruner" in (
            standing.reason
        )
        assert len(trial.intermediate_values) < 3  # never pruned at its last epoch


def test_a_worker_killed_mid_trial_is_resumed_exactly_by_the_next(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "killed", "--trials", "1", "--epochs", "4",
                     "--pruner", "none", "--seed", "5")  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "zoo", *map(str, args)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    metrics = tmp_path / "killed" / "trial-0000" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    again = run_process(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "trial 0: its worker (process" in again.stdout and "queued again" in again.stdout
    assert "trial 1 (trial 0 again, resumed)" in again.stdout
    same = ["--trials", "1", "--epochs", "4", "--pruner", "none", "--seed", "5"]
    whole = run_process(*tune_args(mnist_file, tmp_path / "whole", *same), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr

    def rows(folder):
        lines = (tmp_path / folder / "trial-0000" / "metrics.jsonl").read_text().splitlines()
        timed = ("epoch_seconds", "samples_per_s")
        return [{k: v for k, v in json.loads(x).items() if k not in timed} for x in lines]

    assert rows("killed") == rows("whole")  # the numbers of a trial never stopped
    states = {r["state"]: r for r in zoo.tune_status(tmp_path / "killed")["trials"]}
    assert states["fail"]["run_dir"] == states["complete"]["run_dir"] == "trial-0000"
    assert states["complete"]["epochs"] == 4 and states["complete"]["retry_of"] == 0
    whole_value = zoo.tune_status(tmp_path / "whole")["best"]["value"]
    assert states["complete"]["value"] == whole_value


@pytest.mark.hostile
@pytest.mark.parametrize(
    "space, expected",
    [
        ("optimizer.lr=lognormal(1,2)", "is not a distribution zoo knows"),
        ("optimizer.lr=loguniform(0,1)", "a log scale needs bounds above 0"),
        ("optimizer.lr=uniform(1,0.1)", "the low bound must be below the high one"),
        ("model.width=int(8,6.5)", "'6.5' is not an integer"),
        ("optimizer.lr", "expected KEY=DISTRIBUTION"),
        ("optimizer.lr=uniform(nan,1)", "is not a finite number"),
        ("optimizer.nonsense=uniform(0.1,1)", "--space optimizer.nonsense:"),
        ("optimizer.name=choice(sgd,nosuch)", "--space optimizer.name:"),
    ],
)
def test_a_search_written_wrongly_is_one_line_and_leaves_nothing(tmp_path, mnist_file, space,
                                                                   expected):  # fmt: skip
    result = run_cli("tune", "logistic", "--space", space, "--set", f"dataset.path={mnist_file}",
                     "--out", tmp_path / "s", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, expected)
    assert not (tmp_path / "s").exists()


@pytest.mark.hostile
def test_a_study_of_another_search_or_no_study_is_one_line(tmp_path, mnist_file):
    first = run_cli(*tune_args(mnist_file, tmp_path / "s", "--trials", "1", "--epochs", "1"),
                    cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0
    other = run_cli("tune", "logistic", "--space", "batch_size=choice(16,32)", "--set",
                    f"dataset.path={mnist_file}", "--out", tmp_path / "s", cwd=tmp_path,
                    check=False)  # fmt: skip
    one_line_error(other, "is a study of another search (space", "zoo tune --join")
    (tmp_path / "empty").mkdir()
    one_line_error(run_cli("tune", "--status", tmp_path / "empty", cwd=tmp_path, check=False),
                   "holds no study (study.json): start one with zoo tune")  # fmt: skip
    bad = run_cli(*tune_args(mnist_file, tmp_path / "db", "--storage", "redis://x"),
                  cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(bad, "--storage 'redis://x': expected a database URL")
    down = run_cli(*tune_args(mnist_file, tmp_path / "pg", "--storage",
                              "postgresql://zoo:secret@127.0.0.1:9/none"),
                   cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(down, "--storage postgresql://zoo@127.0.0.1:9/none: ")
    assert "secret" not in down.stderr and not (tmp_path / "pg").exists()
    nowhere = run_cli(*tune_args(mnist_file, tmp_path / "q", "--storage",
                                 f"sqlite:///{tmp_path}/no/such/folder/study.db"),
                      cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(nowhere, "cannot reach the database")
    assert Path(tmp_path / "s" / "study.json").is_file()  # the first study untouched


# --- a study many machines share: a real PostgreSQL server -----------------------------------


def test_two_machines_share_a_study_on_postgresql(tmp_path, mnist_file, postgres_url):
    """Two zoo tune commands with their own folders (as on two machines) and two workers each,
    on one database: one study, every trial trained once, each in its own worker's folder."""

    def start(folder):
        more = ["--workers", "2", "--storage", postgres_url, "--study", "shared", "--seed", "0"]
        args = tune_args(mnist_file, tmp_path / folder, "--trials", "6", "--epochs", "2", *more)
        command = [sys.executable, "-m", "zoo", *map(str, args)]
        return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    machines = [start("here"), start("there")]
    outs = [m.communicate(timeout=600) for m in machines]
    for machine, (out, err) in zip(machines, outs, strict=True):
        assert machine.returncode == 0, out + err
    import optuna

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 6 and len({t.number for t in study.trials}) == len(study.trials)
    workers = {t.user_attrs["worker"] for t in finished}
    assert len(workers) >= 3, workers  # the four workers of both commands took trials
    drawn = [t.params["optimizer.lr"] for t in study.trials]
    assert len(set(drawn)) == len(drawn)  # started alike, the workers never drew alike
    for folder in ("here", "there"):
        status = zoo.tune_status(tmp_path / folder)
        assert len(status["trials"]) == len(study.trials)  # one study, seen from either
    dirs = [p.name for f in ("here", "there") for p in (tmp_path / f).glob("trial-*")]
    assert len(dirs) == len(set(dirs)) == len(study.trials)  # no trial trained twice
    assert study.user_attrs["zoo"]["metric"] == "val_loss"


@pytest.mark.hostile
def test_a_postgresql_study_of_another_search_is_one_line(tmp_path, mnist_file, postgres_url):
    more = ["--storage", postgres_url, "--study", "mine"]
    first = run_cli(*tune_args(mnist_file, tmp_path / "a", "--trials", "1", "--epochs", "1",
                               *more), cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0
    other = run_cli("tune", "logistic", "--space", "batch_size=choice(16,32)", "--set",
                    f"dataset.path={mnist_file}", "--out", tmp_path / "b", "--storage",
                    postgres_url, "--study", "mine", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(other, "was made for another search", "give another --study")


# --- zoo sweep: a grid on the same engine -----------------------------------------------------


def test_a_sweep_with_two_workers_trains_every_point_once(tmp_path, mnist_file):
    args = ["sweep", "logistic", "--set", f"dataset.path={mnist_file}", "--epochs", "1",
            "--set", "optimizer.lr=0.4,0.2,0.1,0.05", "--set", "batch_size=32,64",
            "--workers", "2", "--out", "grid"]  # fmt: skip
    done = run_process(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[worker 0] sweep logistic: run" in done.stdout
    assert "[worker 1] sweep logistic: run" in done.stdout
    table = done.stdout[done.stdout.index("sweep logistic: 8 runs") :].splitlines()
    losses = [float(line.split()[2]) for line in table[2:10]]
    assert losses == sorted(losses)
    found = zoo.tune_status(tmp_path / "grid")
    complete = [r for r in found["trials"] if r["state"] == "complete"]
    assert sorted(r["run_dir"] for r in complete) == sorted(
        p.name for p in (tmp_path / "grid").iterdir() if p.is_dir()
    )
    assert len(complete) == 8  # each point once
    for row in complete:
        history = (tmp_path / "grid" / row["run_dir"] / "metrics.jsonl").read_text().splitlines()
        assert len(history) == 1
    shutil.rmtree(tmp_path / "grid" / "lr=0.1-batch_size=64")  # someone removed one run
    again = run_process(*args[:-4], "--out", "grid", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "run 6 of 8, lr=0.1-batch_size=64 (new)" in again.stdout
    assert again.stdout.count("(complete)") == 7


@pytest.mark.hostile
@pytest.mark.parametrize(
    "grid, expected",
    [
        (["optimizer.lr=0.1,0.1"], "--set optimizer.lr: a value is given twice in the sweep"),
        (["model.name=a b,a_b"], "would share the folder"),
    ],
)
def test_a_sweep_written_wrongly_is_one_line(tmp_path, mnist_file, grid, expected):
    sets = [x for g in grid for x in ("--set", g)]
    result = run_cli("sweep", "logistic", *sets, "--set", f"dataset.path={mnist_file}",
                     "--out", tmp_path / "s", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, expected)
    assert not (tmp_path / "s").exists()


# --- results over seeds -----------------------------------------------------------------------


def test_a_search_over_seeds_reports_each_configurations_mean_and_sd(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "s", "--trials", "2", "--epochs", "1", "--seeds",
                     "3", "--seed", "4", "--pruner", "none")  # fmt: skip
    done = run_cli(*args, cwd=tmp_path)
    found = zoo.tune_status(tmp_path / "s")
    for row in found["trials"]:
        folder = tmp_path / "s" / row["run_dir"]
        assert sorted(p.name for p in folder.iterdir()) == ["seed-4", "seed-5", "seed-6"]
        values = []
        for seed in (4, 5, 6):
            config = yaml.safe_load((folder / f"seed-{seed}" / "config.yaml").read_text())
            assert config["seed"] == seed
            assert config["optimizer"]["lr"] == pytest.approx(row["params"]["optimizer.lr"])
            metrics = json.loads((folder / f"seed-{seed}" / "metrics.jsonl").read_text())
            values.append(metrics["val_loss"])
        assert row["value"] == pytest.approx(sum(values) / 3)
        assert list(row["seeds"].values()) == pytest.approx(values)
        assert row["sd"] == pytest.approx(statistics.stdev(values))
        assert f"{row['value']:.4f} ± {row['sd']:.4f} (3)" in done.stdout
    assert "over 3 seeds" in done.stdout


def test_a_sweep_over_seeds_shows_each_configuration_over_them(tmp_path, mnist_file):
    done = run_cli("sweep", "logistic", "--set", f"dataset.path={mnist_file}", "--epochs", "1",
                   "--set", "optimizer.lr=0.3,0.03", "--set", "seed=0,1", "--out", "g",
                   "--no-progress", cwd=tmp_path)  # fmt: skip
    table = done.stdout[done.stdout.index("sweep logistic: 2 configurations") :].splitlines()
    assert "2 configurations over seeds" in table[0] and "mean ± sd (n)" in table[1]
    rows = [line.split() for line in table[2:4]]
    assert {r[0] for r in rows} == {"0.3", "0.03"} and all(
        r[2:5] == ["±", r[3], "(2)"] for r in rows
    )
    assert float(rows[0][1]) <= float(rows[1][1])  # best mean val_loss first


@pytest.mark.hostile
def test_a_trial_directory_someone_changed_is_refused_and_nothing_lost(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "s", "--trials", "1", "--epochs", "2", "--seed", "1",
                     "--pruner", "none")  # fmt: skip
    run_cli(*args, cwd=tmp_path)
    config = tmp_path / "s" / "trial-0000" / "config.yaml"
    config.write_text(config.read_text().replace("lr: ", "lr: 9", 1))
    before = {p.name: p.read_bytes() for p in (tmp_path / "s" / "trial-0000").iterdir()
              if p.is_file()}  # fmt: skip
    state = zoo.tune_status(tmp_path / "s")["trials"][0]
    # the trial is done: asked for one more, the study trains a new trial and leaves it alone
    again = run_cli("tune", "--join", tmp_path / "s", "--trials", "2", cwd=tmp_path)
    assert again.returncode == 0
    after = {p.name: p.read_bytes() for p in (tmp_path / "s" / "trial-0000").iterdir()
             if p.is_file()}  # fmt: skip
    assert after == before and zoo.tune_status(tmp_path / "s")["trials"][0] == state
    # a sweep's point whose folder someone changed is one line, nothing trained there
    sweep = ["sweep", "logistic", "--set", f"dataset.path={mnist_file}", "--epochs", "2",
             "--set", "optimizer.lr=0.1,0.2", "--out", "g", "--no-progress"]  # fmt: skip
    run_cli(*sweep, cwd=tmp_path)
    rows = tmp_path / "g" / "lr=0.1" / "metrics.jsonl"
    rows.write_text(rows.read_text().splitlines()[0] + "\n")  # as if killed after epoch 1...
    (tmp_path / "g" / "lr=0.1" / "checkpoint.json").unlink()
    changed = tmp_path / "g" / "lr=0.1" / "config.yaml"
    changed.write_text(changed.read_text().replace("lr: 0.1", "lr: 0.7"))  # ...and changed
    one_line_error(run_cli(*sweep, cwd=tmp_path, check=False),
                   "lr=0.1 was changed: its config.yaml has optimizer.lr=0.7")  # fmt: skip


def test_a_configuration_over_seeds_is_published_with_every_seeds_results(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "s", "--trials", "1", "--epochs", "2", "--seeds",
                     "3", "--pruner", "none")  # fmt: skip
    run_cli(*args, cwd=tmp_path)
    trial = tmp_path / "s" / "trial-0000"
    made = run_cli("new-plugin", "seeded", "--from-run", trial, "--tag", "seeded", "--set",
                   f"dataset.path={mnist_file}", cwd=tmp_path)  # fmt: skip
    assert "the card carries every seed's results (3 seeds: test accuracy" in made.stdout
    card = json.loads((tmp_path / "zoo-seeded/zoo_seeded/weights/logistic.seeded.json")
                      .read_text())  # fmt: skip
    assert [s["seed"] for s in card["seeds"]] == [0, 1, 2]
    for entry in card["seeds"]:  # each seed's own test numbers, as zoo eval measures them
        test = zoo.evaluate(trial / f"seed-{entry['seed']}", split="test", which="best",
                            overrides={"dataset.path": str(mnist_file)})  # fmt: skip
        assert entry["test_acc"] == pytest.approx(test["acc"])
    published = [s for s in card["seeds"] if s["test_acc"] == card["metrics"]["test_acc"]]
    assert published and card["metrics"]["val_loss"] == min(s["val_loss"] for s in card["seeds"])
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(tmp_path / "zoo-seeded")],
                   check=True, capture_output=True)  # fmt: skip
    env = {"PYTHONPATH": str(site)}
    accs = [s["test_acc"] for s in card["seeds"]]
    shown = f"{statistics.fmean(accs):.2%} ± {statistics.stdev(accs) * 100:.2f} (3)"
    listed = run_process("list", "weights", "logistic.*", cwd=tmp_path, env=env).stdout
    (line,) = [x for x in listed.splitlines() if x.startswith("logistic.seeded")]
    assert shown in line and f"{card['metrics']['test_acc']:.2%}" in line
    markdown = run_process("list", "weights", "--format", "markdown", cwd=tmp_path, env=env)
    assert f"| {shown} |" in markdown.stdout and "| 1 seed |" in markdown.stdout
    rows = list(csv.DictReader(io.StringIO(run_process(
        "list", "weights", "--format", "csv", cwd=tmp_path, env=env).stdout)))  # fmt: skip
    (row,) = [r for r in rows if r["name"] == "logistic.seeded"]
    assert row["seeds"] == "3" and float(row["seeds_test_acc"]) == pytest.approx(
        statistics.fmean(accs)
    )


@pytest.mark.hostile
def test_a_folder_of_runs_that_are_not_one_configuration_is_not_published(tmp_path, mnist_file):
    for lr in (0.1, 0.2):
        run_cli("run", "logistic", "--epochs", "1", "--set", f"dataset.path={mnist_file}",
                "--set", f"optimizer.lr={lr}", "--out", tmp_path / "mixed" / f"lr{lr}",
                "--no-progress", cwd=tmp_path)  # fmt: skip
    result = run_cli("new-plugin", "mixed", "--from-run", tmp_path / "mixed", "--set",
                     f"dataset.path={mnist_file}", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(result, "at another seed (their configs differ in more than the seed)")
    assert not (tmp_path / "zoo-mixed").exists()


def test_a_search_for_the_fastest_way_to_a_target_counts_the_seconds_to_it(tmp_path, mnist_file):
    args = tune_args(mnist_file, tmp_path / "s", "--trials", "3", "--epochs", "3",
                     "--objective", "seconds_to:val_acc=0.5", "--seed", "0")  # fmt: skip
    done = run_cli(*args, cwd=tmp_path)
    assert "seconds_to:val_acc=0.5 (min) of logistic" in done.stdout
    for row in zoo.tune_status(tmp_path / "s")["trials"]:
        assert row["state"] == "complete"  # nothing pruned: a slow start may still be fastest
        lines = (tmp_path / "s" / row["run_dir"] / "metrics.jsonl").read_text().splitlines()
        history = [json.loads(x) for x in lines]
        reached = [i for i, r in enumerate(history) if r["val_acc"] >= 0.5]
        spent = sum(r["epoch_seconds"] for r in history[: reached[0] + 1]) if reached else None
        assert row["value"] == (pytest.approx(spent) if reached else float("inf"))
    never = run_cli(*tune_args(mnist_file, tmp_path / "n", "--trials", "1", "--epochs", "1",
                               "--seeds", "2", "--objective", "seconds_to:val_acc=1.01"),
                    cwd=tmp_path)  # fmt: skip
    assert "not reached at 2 of 2 seeds" in never.stdout
    (row,) = zoo.tune_status(tmp_path / "n")["trials"]
    assert row["state"] == "complete" and row["value"] == float("inf") and row["sd"] is None
    wrong = run_cli(*tune_args(mnist_file, tmp_path / "w", "--objective", "fastest"),
                    cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(wrong, "--objective 'fastest': expected seconds_to:METRIC=VALUE")
    assert not (tmp_path / "w").exists()
