"""zoo sweep: a grid of runs under one folder, sorted by the metric, resumed where it stopped
after SIGKILL, complete and stopped runs skipped and a broken one refused (by each run's
status), and a sweep that fails at once leaves no folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from conftest import one_line_error, run_cli
from conftest import train_api as train
from conftest import untimed_rows as rows

SWEEP_KILLER = textwrap.dedent("""
    import os, signal, sys
    from zoo.runs import metrics

    calls, count = {"n": 0}, int(sys.argv[1])
    real_append = metrics.append_metrics
    def append_metrics(run_dir, row):
        real_append(run_dir, row)
        calls["n"] += 1
        if calls["n"] == count:
            os.kill(os.getpid(), signal.SIGKILL)
    metrics.append_metrics = append_metrics

    from zoo.cli import main
    sys.argv = ["zoo", *sys.argv[2:]]
    main()
""")


def test_a_sweep_runs_the_grid_sorts_it_and_resumes_where_it_stopped(tmp_path, data):
    args = ["sweep", "logistic", "--set", f"dataset.path={data}", "--epochs", "2"]
    args += ["--set", "optimizer.lr=0.5,0.05,0.005", "--out", "sweep", "--no-progress"]
    killed = subprocess.run(  # killed after the first epoch of the second run
        [sys.executable, "-c", SWEEP_KILLER, "3", *args], cwd=tmp_path, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL
    again = run_cli(*args, cwd=tmp_path).stdout
    assert "run 1 of 3, lr=0.5 (complete)" in again
    assert "run 2 of 3, lr=0.05 (unfinished)" in again and "run 3 of 3, lr=0.005 (new)" in again
    table = again[again.index("sweep logistic: 3 runs") :].splitlines()
    assert table[1].split()[:2] == ["optimizer.lr", "val_loss"]
    losses = [float(line.split()[1]) for line in table[2:5]]
    assert losses == sorted(losses) and table[2].split()[0] == "0.5"
    assert (tmp_path / "sweep" / "sweep.png").is_file()
    fresh = train(tmp_path, data, "fresh", epochs=2, **{"optimizer.lr": 0.05})
    assert rows(tmp_path / "sweep" / "lr=0.05") == rows(fresh.dir)
    other = run_cli("sweep", "logistic", "--set", "optimizer.lr=1,2", "--out", "sweep",
                    cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(other, "holds another sweep")


def test_a_sweep_that_fails_at_once_leaves_no_folder(tmp_path, closed_port_url):
    result = run_cli(
        "sweep",
        "logistic",
        "--set",
        "optimizer.lr=0.1,0.2",
        "--set",
        f"dataset.url={closed_port_url}",
        "--set",
        "dataset.retries=0",
        "--out",
        "sw",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1 and not (tmp_path / "sw").exists()


def test_a_sweep_skips_complete_and_stopped_runs_and_refuses_a_broken_one(tmp_path, mnist_file):
    folder = tmp_path
    common = ("--set", f"dataset.path={mnist_file}", "--no-progress", "--epochs", "1")
    sweep = ("sweep", "logistic", "--set", "optimizer.lr=0.1,0.2", *common, "--out", "s")
    run_cli(*sweep, cwd=folder)
    again = run_cli(*sweep, cwd=folder)
    assert again.stdout.count("(complete)") == 2, again.stdout
    (folder / "s" / "lr=0.2" / "model.json").write_text("[")
    one_line_error(run_cli(*sweep, cwd=folder, check=False), "lr=0.2 is broken")
