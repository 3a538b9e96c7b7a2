"""Several processes through torchrun (torch.distributed, gloo on 127.0.0.1): metrics written
once, weights equal on every rank, the same numbers as one process with the same global batch,
and a rank that dies ends the run with an error instead of a hang."""

from __future__ import annotations

import json

from conftest import run_cli
from conftest import run_process as zoo_cmd

DIES = '''
import os
import zoo

def dies(num_classes=10):
    """A model whose second rank dies in its first forward pass."""
    from torch import nn

    class Dies(nn.Linear):
        def forward(self, x):
            if os.environ.get("RANK") == "1":
                os._exit(3)
            return super().forward(x.flatten(1))

    return Dies(784, num_classes)

@zoo.hookimpl
def register_models(register):
    register("dies", dies)
'''


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path, mnist_file):
    args = ["run", "logistic", "--epochs", "2", "--set", f"dataset.path={mnist_file}"]
    args += ["--set", "shuffle=true", "--no-progress", "--set", "metrics=[confusion_matrix]"]
    two = zoo_cmd(*args, "--nproc-per-node", "2", "--out", "two", cwd=tmp_path, check=True)
    assert "2 processes (ranks), global batch 64" in two.stdout
    assert "weights identical on all 2 ranks: True" in two.stdout
    assert two.stdout.count("best val_loss") == 1  # only rank 0 prints
    assert two.stderr.count("mnist loaded from") == 1  # the dataset's line too
    run_cli(*args, "--out", "one", cwd=tmp_path)
    distributed, single = rows(tmp_path / "two"), rows(tmp_path / "one")
    assert [r["epoch"] for r in distributed] == [1, 2]  # written once, by rank 0
    for a, b in zip(distributed, single, strict=True):
        assert abs(a["val_loss"] - b["val_loss"]) < 0.05
        assert abs(a["val_acc"] - b["val_acc"]) < 0.05
    assert (tmp_path / "two" / "checkpoint.json").exists()
    for row in distributed:  # the ranks' counts summed: every validation sample once
        matrix = row["val_confusion_matrix"]
        assert sum(map(sum, matrix)) == 64
        assert sum(matrix[i][i] for i in range(10)) == round(row["val_acc"] * 64)


def test_a_distributed_run_resumes_in_as_many_processes_exactly(tmp_path, mnist_file):
    args = ["run", "logistic", "--nproc-per-node", "2", "--set", f"dataset.path={mnist_file}"]
    args += ["--set", "shuffle=true", "--no-progress"]
    zoo_cmd(*args, "--epochs", "3", "--out", "whole", cwd=tmp_path, check=True)
    zoo_cmd(*args, "--epochs", "1", "--out", "parts", cwd=tmp_path, check=True)
    marker = json.loads((tmp_path / "parts" / "checkpoint.json").read_text())
    assert marker["world_size"] == 2
    resumed = zoo_cmd("resume", "parts", "--epochs", "3", "--no-progress", cwd=tmp_path, check=True)
    assert "2 processes (ranks)" in resumed.stdout  # as many as trained it, unasked
    assert "weights identical on all 2 ranks: True" in resumed.stdout
    exact = ("epoch", "train_loss", "val_loss", "val_acc")
    assert [[r[k] for k in exact] for r in rows(tmp_path / "parts")] == [
        [r[k] for k in exact] for r in rows(tmp_path / "whole")
    ]
    alone = zoo_cmd(
        "resume",
        "parts",
        "--epochs",
        "4",
        "--nproc-per-node",
        "1",
        "--no-progress",
        cwd=tmp_path,
        check=True,
    )
    assert "trained in 2 process(es), continued in 1" in alone.stdout


def test_a_rank_that_dies_ends_the_run_with_an_error(site, tmp_path, mnist_file):
    site.install("dies", "dies", DIES)
    result = zoo_cmd(
        "run",
        "dies",
        "--nproc-per-node",
        "2",
        "--epochs",
        "1",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "died",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Error: a rank of the 2-process run failed" in result.stderr
