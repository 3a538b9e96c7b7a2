"""The zoo command as a user meets it: real subprocesses for the end-to-end run and the error
paths, click's CliRunner for the listings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from conftest import run_cli
from conftest import run_process as zoo_cmd
from zoo.cli import cli


def invoke(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_run_logistic_end_to_end(server, tmp_path):
    url = server.url("mnist.pkl.gz")
    result = zoo_cmd(
        "run",
        "logistic",
        "--epochs",
        "1",
        "--set",
        f"dataset.url={url}",
        "--out",
        "out",
        cwd=tmp_path,
        check=True,
    )
    assert "zoo run logistic: model logistic" in result.stdout
    assert "256 train / 64 valid samples, 7,850 parameters, device cpu" in result.stdout
    assert "train_loss  val_loss  val_acc" in result.stdout
    assert "best val_loss" in result.stdout
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").open()]
    assert len(rows) == 1 and rows[0]["epoch"] == 1
    assert {"train_loss", "val_loss", "val_acc", "epoch_seconds", "samples_per_s"} <= set(rows[0])
    saved = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert saved["epochs"] == 1 and saved["dataset"]["url"] == url
    assert saved["optimizer"] == {"name": "sgd", "lr": 0.5, "momentum": 0.0}


def test_two_runs_with_the_same_seed_give_the_same_metrics(server, tmp_path):
    url = server.url("mnist.pkl.gz")
    metrics = []
    for out in ("a", "b"):
        run_cli(
            "run",
            "cnn",
            "--epochs",
            "2",
            "--set",
            f"dataset.url={url}",
            "--out",
            out,
            "--device",
            "cpu",
            cwd=tmp_path,
            check=True,
        )
        rows = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").open()]
        metrics.append([(r["train_loss"], r["val_loss"], r["val_acc"]) for r in rows])
    assert metrics[0] == metrics[1]


def test_default_run_dir_is_runs_name_timestamp(server, tmp_path):
    url = server.url("mnist.pkl.gz")
    run_cli(
        "run", "logistic", "--epochs", "1", "--set", f"dataset.url={url}", cwd=tmp_path, check=True
    )
    (run_dir,) = (tmp_path / "runs" / "logistic").iterdir()
    assert len(run_dir.name) == len("20261127-101500")
    assert (run_dir / "metrics.jsonl").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "cnnn"], "'cnnn' is neither a run in"),
        (["run", "logistic", "--set", "epochs=many"], "epochs: expected a positive integer"),
        (
            ["run", "logistic", "--set", "model.depth=3"],
            "model.depth: model 'logistic' has no option",
        ),
        (["run", "logistic", "--config", "missing.yaml"], "missing.yaml (--config) does not exist"),
        (["show", "cnm"], "did you mean 'cnn'"),
    ],
)
def test_a_user_mistake_is_one_line_without_traceback(tmp_path, args, message):
    result = zoo_cmd(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_network_down_is_one_line_and_leaves_no_run(tmp_path, closed_port_url):
    result = zoo_cmd("run", "logistic", "--set", f"dataset.url={closed_port_url}", cwd=tmp_path)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: could not download") and "dataset.path" in error
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_bad_yaml_names_its_line(tmp_path):
    (tmp_path / "zoo.yaml").write_text("runs:\n  a: [\n")
    result = zoo_cmd("show", "a", cwd=tmp_path)
    assert result.returncode == 1 and "zoo.yaml line 3: invalid YAML" in result.stderr


def test_zoo_debug_brings_the_traceback_back(tmp_path):
    result = zoo_cmd("run", "cnnn", cwd=tmp_path, env={"ZOO_DEBUG": "1"})
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_an_existing_out_dir_is_never_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = zoo_cmd("run", "logistic", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1 and "not empty" in result.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("args", [["--help"], ["list"], ["plugins"], ["list", "models", "*cnn*"]])
def test_help_list_and_plugins_do_not_import_torch(args):
    code = (
        "import sys\nfrom zoo.cli import cli\n"
        f"cli({args!r}, prog_name='zoo', standalone_mode=False)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_list_shows_names_descriptions_and_plugins():
    out = invoke("list").output
    for kind in ("models", "datasets", "optimizers", "layers", "runs"):
        assert f"\n{kind} (" in f"\n{out}"
    line = next(x for x in out.splitlines() if x.strip().startswith("cnn "))
    assert "cnn" in line and "MNISTCNN" in line
    assert invoke("list", "models", "*cnn*").output.splitlines()[0] == "models (3)"
    assert "adam" not in invoke("list", "*cnn*").output


def test_list_rejects_an_unknown_kind():
    result = CliRunner().invoke(cli, ["list", "modles", "x"])
    assert result.exit_code == 2 and "unknown kind 'modles'" in result.output


def test_plugins_shows_distribution_version_and_registrations():
    out = invoke("plugins").output
    line = next(x for x in out.splitlines() if x.startswith("cnn "))
    assert "zoo-cnn 0.1.0" in line and "loaded" in line and "models: cnn" in line
    assert "optimizers: adam, adamw, sgd" in out


def test_show_prints_the_resolved_config_as_yaml():
    out = invoke("show", "cnn", "--set", "optimizer.lr=0.1").output
    cfg = yaml.safe_load(out)
    assert cfg["model"] == {"name": "cnn"} and cfg["optimizer"]["lr"] == 0.1
    assert cfg["epochs"] == 10 and cfg["valid_batch_size"] == 128
    assert "# model 'cnn' (cnn) options: num_classes: int = 10, input_shape: tuple" in out


def test_a_registered_model_without_a_run_uses_the_defaults():
    cfg = yaml.safe_load(invoke("show", "logistic_scratch").output)
    assert cfg["model"]["name"] == "logistic_scratch"


def test_run_skips_a_dead_mirror(server, tmp_path, closed_port_url):
    urls = f"dataset.url=[{closed_port_url}, {server.url('mnist.pkl.gz')}]"
    result = run_cli(
        "run", "logistic", "--epochs", "1", "--set", urls, "--out", "out", cwd=tmp_path, check=True
    )
    assert "best val_loss" in result.stdout


def test_run_from_an_idx_mirror(server, idx_dir, tmp_path, closed_port_url):
    server.root = idx_dir.parent  # serves tmp/idx/ as http://127.0.0.1:port/idx/
    urls = f"dataset.url=[{closed_port_url.rsplit('/', 1)[0]}/, {server.url('idx/')}]"
    result = run_cli(
        "run",
        "logistic",
        "--epochs",
        "1",
        "--set",
        urls,
        "--set",
        "dataset.format=idx",
        "--out",
        "out",
        cwd=tmp_path,
        check=True,
    )
    assert "100 train / 20 valid samples" in result.stdout


def test_offline_run_from_a_system_copy(idx_dir, tmp_path):
    result = run_cli(
        "run",
        "logistic",
        "--epochs",
        "1",
        "--set",
        "dataset.name=fashion_mnist",
        "--set",
        f"dataset.system_dir={idx_dir}",
        "--out",
        "out",
        cwd=tmp_path,
        env={"ZOO_OFFLINE": "1"},
        check=True,
    )
    assert "dataset fashion_mnist" in result.stdout and "best val_loss" in result.stdout
    assert "fashion_mnist loaded from idx in" in result.stderr  # below here: as typed


def test_data_commands(server, tmp_path, zoo_home):
    url = server.url("mnist.pkl.gz")
    fetched = run_cli("data", "fetch", "mnist", "--set", f"url={url}", cwd=tmp_path, check=True)
    assert "mnist: 256 train, 64 valid, 32 test" in fetched.stdout
    listed = run_cli("data", "list", cwd=tmp_path, check=True).stdout
    assert "mnist.pkl.gz" in listed and url in listed and "prepared from" in listed
    assert run_cli("data", "verify", cwd=tmp_path, check=True).stdout.count("ok ") == 2
    pickle_file = next((zoo_home / "datasets" / "mnist").glob("*-mnist.pkl.gz"))
    pickle_file.write_bytes(b"changed")
    verify = run_cli("data", "verify", cwd=tmp_path, check=False)
    assert verify.returncode == 1 and "CHANGED     mnist/" in verify.stdout
    removed = run_cli("data", "rm", "mnist", cwd=tmp_path, check=True)
    assert "removed" in removed.stdout and not (zoo_home / "datasets" / "mnist").exists()
    assert run_cli("data", "rm", "mnist", cwd=tmp_path, check=False).returncode == 1


def test_amp_before_the_run_name_says_where_it_goes(tmp_path):
    result = run_cli("run", "--amp", "logistic", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "put it after the run's name, e.g. zoo run cnn --amp" in result.stderr
    assert "Traceback" not in result.stderr
