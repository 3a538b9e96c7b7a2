"""``callbacks: [mlflow]`` against a real ``mlflow server`` (SQLite backend, 127.0.0.1, a temp
folder), read back with ``MlflowClient``: params, every epoch's metrics with the epoch as step
(equal to metrics.jsonl), tags, artifacts; one unbroken MLflow run across SIGKILL and resume; a
server that stops mid-run (said once, sent later); MLflow's default local SQLite file; URIs that
lead elsewhere refused."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_mnist_arrays, one_line_error, run_cli, write_pickle_gz

pytest.importorskip("mlflow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``mlflow server`` on 127.0.0.1 with a SQLite store and artifacts in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        mlflow = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        self.process = subprocess.Popen(
            [
                *mlflow,
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.folder / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.folder / "artifacts"),
            ],  # fmt: skip
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "server.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        import requests

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "server.log").read_text()[-2000:]
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise AssertionError("mlflow server did not start in 120 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("mlflow"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays(256, 64, 32))


def tracked(url: str, experiment: str) -> str:
    return f"callbacks=[{{name: mlflow, tracking_uri: '{url}', experiment: {experiment}}}]"


def zoo_args(data, callbacks, out, epochs):
    return [
        sys.executable, "-m", "zoo", "run", "logistic", "--set", f"dataset.path={data}",
        "--set", callbacks, "--epochs", str(epochs), "--no-progress", "--out", str(out),
    ]  # fmt: skip


def the_run(url: str, experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]  # one run, whatever happened
    return client, runs[0]


def jsonl(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def saved_epochs(run_dir: Path) -> int:
    try:
        return len((run_dir / "metrics.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def wait_for(condition, seconds=120.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def killed_after(tmp_path, data, callbacks, epochs: int, saved: int) -> Path:
    """A run of ``epochs`` in ``tmp_path/run`` killed with SIGKILL (no handler runs) once it
    has saved ``saved`` epochs; its folder."""
    out = tmp_path / "run"
    process = subprocess.Popen(
        zoo_args(data, callbacks, out, epochs),
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: saved_epochs(out) >= saved)
    process.kill()
    process.wait()
    return out


def test_a_run_is_logged_with_params_metrics_tags_and_artifacts(tmp_path, server, small):
    result = run_cli(
        "run", "logistic", "--set", f"dataset.path={small}", "--set", tracked(server.url, "whole"),
        "--epochs", "3", "--no-progress", "--out", tmp_path / "run", cwd=tmp_path,
    )  # fmt: skip
    assert "does not answer" not in result.stdout
    client, run = the_run(server.url, "whole")
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    params = run.data.params
    assert params["optimizer.name"] == "sgd" and params["optimizer.lr"] == "0.5"
    assert params["dataset.name"] == "mnist" and params["epochs"] == "3"
    tags = run.data.tags
    assert tags["zoo.version"] == "0.1.0" and tags["zoo.plugin.zoo-logistic"] == "0.1.0"
    assert tags["zoo.hardware"] and tags["zoo.torch"]
    rows = jsonl(tmp_path / "run")
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        assert history(client, run.info.run_id, key) == [(r["epoch"], r[key]) for r in rows]
    artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert artifacts == ["best.safetensors", "card.json", "config.yaml", "curves.png", "model.json"]
    fetched = client.download_artifacts(run.info.run_id, "card.json", str(tmp_path))
    card = json.loads(Path(fetched).read_text())
    assert card["model"] == "logistic" and card["metrics"]["epoch"] in [r["epoch"] for r in rows]
    assert not (tmp_path / "run" / ".mlflow-upload").exists()


def test_a_killed_and_resumed_run_is_one_unbroken_mlflow_run(tmp_path, server, small):
    out = killed_after(tmp_path, small, tracked(server.url, "killed"), epochs=40, saved=3)
    client, run = the_run(server.url, "killed")
    assert run.info.status == "RUNNING"
    resumed = subprocess.run(
        [sys.executable, "-m", "zoo", "resume", str(out), "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    client, again = the_run(server.url, "killed")
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    rows = jsonl(out)
    assert [r["epoch"] for r in rows] == list(range(1, 41))
    for key in ("train_loss", "val_loss", "val_acc"):  # every epoch once, as metrics.jsonl says
        assert history(client, run.info.run_id, key) == [(r["epoch"], r[key]) for r in rows]


def test_a_server_that_stops_mid_run_is_said_once_and_sent_later(tmp_path, small):
    down = Server(tmp_path / "server")
    down.folder.mkdir()
    down.start()
    out = tmp_path / "run"
    log = tmp_path / "zoo.log"
    process = subprocess.Popen(
        zoo_args(small, tracked(down.url, "interrupted"), out, 100_000),
        cwd=tmp_path, stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines are read after a SIGKILL
    )  # fmt: skip
    try:
        wait_for(lambda: saved_epochs(out) >= 2)
        down.stop()
        stopped_at = saved_epochs(out)
        wait_for(lambda: saved_epochs(out) >= stopped_at + 5)  # epochs trained while it is down
        while_down = saved_epochs(out)
        down.start()
        from mlflow.tracking import MlflowClient

        def caught_up() -> bool:
            if "answers again" not in log.read_text():
                return False
            client, run = the_run(down.url, "interrupted")
            return len(client.get_metric_history(run.info.run_id, "val_loss")) > while_down

        wait_for(caught_up, 180)
    finally:
        process.kill()
        process.wait()
        down.stop()
    said = log.read_text()
    assert said.count("does not answer") == 1 and "training goes on" in said
    assert said.count("answers again") == 1 and "Traceback" not in said
    down.start()
    try:
        client = MlflowClient(down.url)
        _, run = the_run(down.url, "interrupted")
        sent = history(client, run.info.run_id, "val_loss")
        rows = jsonl(out)
        assert [step for step, _ in sent] == list(range(1, len(sent) + 1))  # nothing missing
        assert sent == [(r["epoch"], r["val_loss"]) for r in rows[: len(sent)]]
        assert len(sent) > while_down
    finally:
        down.stop()


def test_mlflows_default_is_a_local_sqlite_file(tmp_path, small, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_cli(
        "run", "logistic", "--set", f"dataset.path={small}", "--set", "callbacks=[mlflow]",
        "--epochs", "2", "--no-progress", "--out", tmp_path / "run", cwd=tmp_path,
    )  # fmt: skip
    assert (tmp_path / "mlflow.db").read_bytes().startswith(b"SQLite format 3\0")
    url = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, run = the_run(url, "zoo")
    rows = jsonl(tmp_path / "run")
    assert history(client, run.info.run_id, "val_loss") == [
        (r["epoch"], r["val_loss"]) for r in rows
    ]


@pytest.mark.hostile
@pytest.mark.parametrize(
    "uri, expected",
    [
        ("sqlite:///../outside.db", "a path with '..'"),
        ("sqlite:///{tmp}/link/x.db", "outside the path named"),
        ("sqlite:///{tmp}/notes.txt", "is not a SQLite database"),
        ("file://otherhost/srv/mlruns", "names a path on this machine"),
        ("ftp://example.org/x", "expected http(s)://HOST:PORT"),
        ("http:///no-host", "names no host"),
        ("{tmp}/plain/path", "expected http(s)://HOST:PORT"),
    ],
    ids=["dotdot", "link", "not-sqlite", "file-host", "scheme", "no-host", "plain-path"],
)
def test_tracking_uris_that_lead_elsewhere_are_one_line(tmp_path, small, uri, expected):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "notes.txt").write_text("the user's own notes\n")
    callbacks = f"callbacks=[{{name: mlflow, tracking_uri: '{uri.format(tmp=tmp_path)}'}}]"
    result = run_cli(
        "run", "logistic", "--set", f"dataset.path={small}", "--set", callbacks,
        "--epochs", "1", "--out", tmp_path / "run", cwd=tmp_path, check=False,
    )  # fmt: skip
    one_line_error(result, expected)
    assert (tmp_path / "notes.txt").read_text() == "the user's own notes\n"
    assert list((tmp_path / "elsewhere").iterdir()) == [] and not (tmp_path / "run").exists()


@pytest.mark.hostile
def test_a_shared_runs_checkpoint_cannot_send_its_metrics_elsewhere(tmp_path, server, small):
    """A run folder logged to another server (its checkpoint's tracking_uri): resumed here, it
    goes to this config's server, as a new MLflow run, and says so."""
    out = killed_after(tmp_path, small, tracked(server.url, "shared"), epochs=30, saved=2)
    config = (out / "config.yaml").read_text()
    (out / "config.yaml").write_text(
        config.replace(server.url, "sqlite:///" + str(tmp_path / "mine.db"))
    )
    resumed = subprocess.run(
        [sys.executable, "-m", "zoo", "resume", str(out), "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "as a new MLflow run" in resumed.stdout
    client, run = the_run("sqlite:///" + str(tmp_path / "mine.db"), "shared")
    rows = jsonl(out)
    assert history(client, run.info.run_id, "val_loss") == [
        (r["epoch"], r["val_loss"]) for r in rows
    ]
