"""Weights in the Hugging Face Hub's layout: ``zoo export --format hf`` (read back by
huggingface_hub's own ModelCard parser and by safetensors), such a folder loaded back by
predict, eval, run --init, reproduce and ``zoo.create_model``, and ``hf://OWNER/NAME`` fetched
through huggingface_hub from a Hub on 127.0.0.1 into its cache, then used offline. Hostile
folders and names are one line each."""

from __future__ import annotations

import hashlib
import http.server
import json
import pickle
import shutil
import threading
from pathlib import Path

import pytest

import zoo
from conftest import make_mnist_arrays, one_line_error, run_cli, write_pickle_gz

pytest.importorskip("huggingface_hub")
DIGITS = Path(__file__).parent / "digits"


def export(tmp_path: Path, name: str = "cnn.mnist", out: str = "hub") -> Path:
    result = run_cli("export", name, "--format", "hf", "--out", tmp_path / out, cwd=tmp_path)
    assert result.stdout.startswith(f"wrote {tmp_path / out}/: README.md (")
    return tmp_path / out


def pictures() -> list[Path]:
    return sorted(DIGITS.glob("*.png"))[:4]


# --- the layout -------------------------------------------------------------------------------


def test_export_writes_the_hubs_layout_that_huggingface_hub_reads(tmp_path):
    from huggingface_hub import ModelCard, metadata_load
    from safetensors.torch import load_file

    folder = export(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    card = zoo.get_weights("cnn.mnist")
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == "cnn.mnist" and config["model"] == "cnn"
    assert config["dataset"]["input_shape"] == [1, 28, 28] and config["library_name"] == "torch-zoo"
    assert config["zoo"]["plugin"]["distribution"] == "zoo-cnn"
    assert (
        config["sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    )
    assert config["recipe"] == json.loads(json.dumps(dict(card.recipe)))

    header = metadata_load(folder / "README.md")
    assert header["library_name"] == "torch-zoo" and header["license"] == "mit"
    assert header["datasets"] == ["mnist"] and "cnn" in header["tags"]
    results = ModelCard.load(folder / "README.md").data.eval_results
    by_type = {r.metric_type: r for r in results}
    assert by_type["accuracy"].metric_value == card.metrics["test_acc"]
    assert by_type["loss"].metric_value == card.metrics["test_loss"]
    assert {r.dataset_split for r in results} == {"test"}
    assert {r.dataset_type for r in results} == {"mnist"}
    assert "zoo reproduce ./this-folder" in (folder / "README.md").read_text()

    tensors = load_file(folder / "model.safetensors")
    shipped = zoo.create_model("cnn.mnist").state_dict()
    assert tensors.keys() == shipped.keys()


def test_a_hub_folder_loads_back_as_the_weights_it_holds(tmp_path, idx_dir):
    import torch

    folder = export(tmp_path)
    again = zoo.create_model(str(folder)).state_dict()
    for key, value in zoo.create_model("cnn.mnist").state_dict().items():
        assert torch.equal(again[key], value)
    assert not zoo.create_model(str(folder)).training
    by_folder = run_cli("predict", folder, *pictures(), "--top", "2", cwd=tmp_path).stdout
    by_name = run_cli("predict", "cnn.mnist", *pictures(), "--top", "2", cwd=tmp_path).stdout
    assert by_folder == by_name and len(by_folder.splitlines()) == 4
    path = f"dataset.path={idx_dir}"
    hub = run_cli("eval", folder, "--split", "test", "--set", path, cwd=tmp_path).stdout
    card = run_cli("eval", "cnn.mnist", "--split", "test", "--set", path, cwd=tmp_path).stdout
    assert hub.startswith(f"{folder} (cnn.mnist) on test (30 samples): loss ")
    assert hub.split(": loss ")[1] == card.split(": loss ")[1]


def test_a_run_starts_from_a_hub_folder(tmp_path):
    import torch

    folder = export(tmp_path)
    data = write_pickle_gz(tmp_path / "mnist.pkl.gz", make_mnist_arrays(128, 32, 32))
    result = run_cli(
        "run", "cnn", "--init", folder, "--set", f"dataset.path={data}", "--set", "optimizer.lr=0",
        "--epochs", "1", "--no-progress", "--out", tmp_path / "tuned", cwd=tmp_path,
    )  # fmt: skip
    assert f"from {folder}" in result.stdout
    tuned = zoo.load_run(tmp_path / "tuned").state_dict()
    for key, value in zoo.create_model("cnn.mnist").state_dict().items():
        assert torch.equal(tuned[key], value)  # a rate of 0: the Hub folder's weights, kept


def test_a_run_exports_its_best_weights_with_validation_results(tmp_path):
    from huggingface_hub import ModelCard

    data = write_pickle_gz(tmp_path / "mnist.pkl.gz", make_mnist_arrays(128, 32, 32))
    run_cli(
        "run", "logistic", "--set", f"dataset.path={data}", "--epochs", "2", "--no-progress",
        "--out", tmp_path / "runs" / "first", cwd=tmp_path,
    )  # fmt: skip
    folder = export(tmp_path, str(tmp_path / "runs" / "first"), "exported")
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == "logistic.first" and config["metrics"]["test_acc"] is None
    results = ModelCard.load(folder / "README.md").data.eval_results
    assert {r.dataset_split for r in results} == {"validation"}
    assert results[0].metric_value == config["metrics"]["val_acc"]
    best = zoo.load_run(tmp_path / "runs" / "first", which="best").state_dict()
    again = zoo.create_model(str(folder)).state_dict()
    assert all((again[k] == v).all() for k, v in best.items())


# --- the Hub, on 127.0.0.1 ---------------------------------------------------------------------


class Hub:
    """Repositories as the Hub serves their files (``/OWNER/NAME/resolve/REV/FILE``, with the
    commit and ETag headers huggingface_hub reads), from a folder; every request is noted."""

    COMMIT = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self, root: Path) -> None:
        self.root, self.requests = root, []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self, body=False):
                hub.requests.append((self.command, self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                found = None
                if len(parts) >= 5 and parts[2] == "resolve":
                    found = hub.root / parts[0] / parts[1] / "/".join(parts[4:])
                if found is None or not found.is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = found.read_bytes()
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_GET(self):
                self.do_HEAD(body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    served = Hub(tmp_path / "served")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield served
    served.stop()


def hub_env(hub: Hub, **more: str) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, **more}


def run_hub(tmp_path, hub, *args, offline=False, check=True):
    """zoo in a new process (huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE at import)."""
    from conftest import run_process

    env = hub_env(hub, HF_HOME=str(tmp_path / "hf-home"))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    result = run_process(*args, cwd=tmp_path, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_hf_names_are_fetched_into_the_cache_then_work_offline(tmp_path, hub):
    shutil.copytree(export(tmp_path), hub.root / "alice" / "cnn-mnist")
    picture = pictures()[0]
    online = run_hub(tmp_path, hub, "predict", "hf://alice/cnn-mnist", picture).stdout
    assert online == run_cli("predict", "cnn.mnist", picture, cwd=tmp_path).stdout
    fetched = [path for method, path in hub.requests if method == "GET"]
    assert any(p.endswith("/model.safetensors") for p in fetched)
    cache = tmp_path / "hf-home" / "hub" / "models--alice--cnn-mnist"
    assert (cache / "snapshots" / Hub.COMMIT / "model.safetensors").exists()
    hub.stop()  # the Hub is gone: the cached copy serves, offline
    again = run_hub(tmp_path, hub, "predict", "hf://alice/cnn-mnist", picture, offline=True)
    assert again.stdout == online
    missing = run_hub(
        tmp_path, hub, "predict", "hf://alice/other", picture, offline=True, check=False
    )
    one_line_error(missing, "hf://alice/other", "not in the Hub cache", "HF_HUB_OFFLINE is set")


@pytest.mark.hostile
def test_a_hub_file_larger_than_its_card_is_never_downloaded(tmp_path, hub):
    repo = hub.root / "mallory" / "big"
    shutil.copytree(export(tmp_path), repo)
    with open(repo / "model.safetensors", "ab") as f:  # 64 MB more than the card's 16 kB
        f.truncate(64 << 20)
    result = run_hub(tmp_path, hub, "predict", "hf://mallory/big", pictures()[0], check=False)
    one_line_error(result, "model.safetensors has 67,108,864 bytes", "not downloaded")
    assert not any(m == "GET" and p.endswith("model.safetensors") for m, p in hub.requests)


@pytest.mark.hostile
@pytest.mark.parametrize(
    "name",
    [
        "hf://../../etc",
        "hf://alice/../bob",
        "hf://alice/cnn/extra",
        "hf://alice",
        "hf://alice/cnn@../../main",
        "hf://alice/cnn@main/../../x",
        "hf://alice/c%2F..",
        "hf:///etc/passwd",
        "hf://al ice/cnn",
        "hf://alice/cnn--x",
    ],
)
def test_hf_names_with_path_tricks_are_refused(tmp_path, name):
    result = run_cli("predict", name, pictures()[0], cwd=tmp_path, check=False)
    one_line_error(result, "is not a Hub model name")
    assert not (tmp_path / "hf-home").exists()


# --- hostile folders ----------------------------------------------------------------------------


class Planted:
    """A pickle that, if unpickled, would write a file: proof that zoo never unpickles."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.write_text, (self.target, "ran"))


@pytest.mark.hostile
def test_a_hub_folder_with_a_pickle_instead_of_safetensors_is_refused_unread(tmp_path):
    folder = export(tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Planted(tmp_path / "ran.txt")))
    result = run_cli("predict", folder, pictures()[0], cwd=tmp_path, check=False)
    one_line_error(result, "pytorch_model.bin, a pickle", "only safetensors")
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.hostile
@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c["options"].update(channels=3), "do not fit the model"),
        (lambda c: c.update(model="resnet_huge", name="resnet_huge.x"), "pip install zoo-cnn"),
        (lambda c: c.update(sha256="0" * 64), "the file was changed"),
        (lambda c: c.update(library_name="transformers"), "is not one zoo wrote"),
        (lambda c: c["dataset"].update(input_shape=[1, 4096, 4096]), "dataset 'mnist' gives"),
        (lambda c: c.update(hardware='=HYPERLINK("http://x")'), "card field 'hardware'"),
    ],
    ids=["options", "model", "sha256", "library", "input", "formula"],
)
def test_a_config_that_does_not_describe_its_weights_is_one_line(tmp_path, change, expected):
    folder = export(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    result = run_cli("predict", folder, pictures()[0], cwd=tmp_path, check=False)
    one_line_error(result, expected)


@pytest.mark.hostile
@pytest.mark.parametrize(
    "readme, expected",
    [
        ("---\n- a list\n- not a mapping\n---\n", "not a mapping"),
        ("---\nkey: [unclosed\n---\n", "not valid YAML"),
        ("---\nlicense: mit\n", "does not end"),
        ("---\n" + "a: b\n" * 300_000 + "---\n", "larger than zoo ever writes"),
        ("---\n" + "[" * 5000 + "]" * 5000 + "\n---\n", "YAML header"),
        ("---\n!!python/object/apply:os.system ['touch ran.txt']\n---\n", "not valid YAML"),
    ],
    ids=["list", "broken", "unended", "huge", "nested", "python-tag"],
)
def test_a_model_card_that_is_not_one_is_one_line(tmp_path, readme, expected):
    folder = export(tmp_path)
    (folder / "README.md").write_text(readme)
    result = run_cli("predict", folder, pictures()[0], cwd=tmp_path, check=False)
    one_line_error(result, expected)
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.hostile
def test_hub_files_that_are_links_out_or_not_json_are_refused(tmp_path):
    folder = export(tmp_path)
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / "model.safetensors", outside)
    (folder / "model.safetensors").symlink_to(outside)
    one_line_error(
        run_cli("predict", folder, pictures()[0], cwd=tmp_path, check=False), "leads outside"
    )
    (folder / "config.json").write_text("{not json")
    one_line_error(
        run_cli("predict", folder, pictures()[0], cwd=tmp_path, check=False), "not valid JSON"
    )


@pytest.mark.hostile
def test_export_never_replaces_what_is_not_its_own(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep")
    result = run_cli(
        "export", "cnn.mnist", "--format", "hf", "--out", target, cwd=tmp_path, check=False
    )
    one_line_error(result, "already holds notes.txt")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    export(tmp_path, out="again")
    export(tmp_path, out="again")  # its own files: replaced, each atomically
