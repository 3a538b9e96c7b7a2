"""Trust, second round: what a run directory someone shared, a card, a generated plugin and a
picture can no longer do. Each test is one class of the contract (docs/runs.md, docs/data.md):
nothing outside a run is written or deleted; generated code holds no input as code; data a shared
run names does not become everyone's; everything is bounded before it is built; one line, never a
traceback; a kill leaves a folder that starts again; no silent wrong answers."""

from __future__ import annotations

import json
import os
import shutil
import textwrap

import numpy as np
import pytest

from conftest import make_mnist_arrays, one_line_error, peak_memory, run_cli, write_pickle_gz
from conftest import run_process as zoo_cmd
from zoo import ZooError

#: Counted at the end of the run: how many hostile inputs zoo was tried on.
pytestmark = pytest.mark.hostile


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished logistic run (2 epochs) and one with the TensorBoard and CSV loggers, which
    each test copies and tampers with."""
    folder = tmp_path_factory.mktemp("shared-runs")
    data = write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays())
    env = {"ZOO_HOME": str(folder / "home")}
    common = ["--set", f"dataset.path={data}", "--no-progress", "--epochs", "2"]
    run_cli("run", "logistic", *common, "--out", "runs/good", cwd=folder, env=env)
    run_cli("run", "logistic", *common, "--out", "runs/other", cwd=folder, env=env)
    loggers = "callbacks=[tensorboard, {name: csv, path: logs/metrics.csv}]"
    run_cli(
        "run", "logistic", *common, "--set", loggers, "--out", "runs/logged", cwd=folder, env=env
    )
    return folder


@pytest.fixture
def runs(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(trained / "home"))
    shutil.copytree(trained / "runs", tmp_path / "runs", symlinks=True)
    return tmp_path / "runs"


@pytest.fixture
def victim(tmp_path):
    """A folder outside every run, with files that must stay as they are."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "events.out.tfevents.1.host").write_bytes(b"someone else's events")
    (folder / "notes.txt").write_text("mine")
    return folder


def untouched(victim) -> bool:
    return sorted(p.name for p in victim.iterdir()) == ["events.out.tfevents.1.host", "notes.txt"]


def set_config(run_dir, old, new):
    path = run_dir / "config.yaml"
    text = path.read_text()
    assert old in text, text
    path.write_text(text.replace(old, new))


# --- 1. nothing outside a run directory is deleted or written ------------------------------------


@pytest.mark.parametrize("marker", [True, False], ids=["checkpoint", "no-checkpoint"])
def test_a_symlinked_checkpoints_folder_deletes_nothing_elsewhere(runs, tmp_path, marker):
    good, other = runs / "good", runs / "other"
    before = sorted(p.name for p in (other / "checkpoints").iterdir())
    shutil.rmtree(good / "checkpoints")
    (good / "checkpoints").symlink_to(other / "checkpoints")
    if not marker:  # the restart path: a run with no checkpoint clears what a killed save began
        (good / "checkpoint.json").unlink()
    result = run_cli("resume", good, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, "checkpoints", "refused")
    assert sorted(p.name for p in (other / "checkpoints").iterdir()) == before


def test_a_symlinked_tensorboard_folder_deletes_nothing_elsewhere(runs, tmp_path, victim):
    logged = runs / "logged"
    shutil.rmtree(logged / "tensorboard")
    (logged / "tensorboard").symlink_to(victim)
    result = run_cli("resume", logged, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, "leads outside")
    assert untouched(victim)


def test_a_log_dir_outside_the_run_is_refused(runs, tmp_path, victim):
    logged = runs / "logged"
    set_config(logged, "name: tensorboard", f"name: tensorboard\n  log_dir: {victim}")
    result = run_cli("resume", logged, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, "log_dir must be a path inside the run directory")
    assert untouched(victim)


def test_a_csv_path_through_a_symlinked_folder_or_onto_zoos_own_files_is_refused(
    runs, tmp_path, victim
):
    logged = runs / "logged"
    shutil.rmtree(logged / "logs")
    (logged / "logs").symlink_to(victim)
    one_line_error(
        run_cli("resume", logged, "--epochs", "3", cwd=tmp_path, check=False), "leads outside"
    )
    assert untouched(victim)
    (logged / "logs").unlink()
    config = (logged / "config.yaml").read_text()
    set_config(logged, "path: logs/metrics.csv", "path: config.yaml")
    changed = (logged / "config.yaml").read_text()
    result = run_cli("resume", logged, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, "one of zoo's own files of the run")
    assert (logged / "config.yaml").read_text() == changed != config


@pytest.mark.parametrize("name", [".zoo.lock", ".zoo.lock.owner"])
def test_a_symlinked_lock_file_is_never_written_through(runs, tmp_path, victim, name):
    good = runs / "good"
    (good / name).unlink(missing_ok=True)
    (good / name).symlink_to(victim / "notes.txt")
    result = run_cli("resume", good, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, name, "refused")
    assert (victim / "notes.txt").read_text() == "mine"


def test_a_metrics_file_linked_elsewhere_is_replaced_not_written_through(runs, tmp_path, victim):
    from zoo.runs import metrics

    good = runs / "good"
    (good / "metrics.jsonl").unlink()
    (good / "metrics.jsonl").symlink_to(victim / "notes.txt")
    with pytest.raises(ZooError, match="symbolic links"):  # appending never follows the link
        metrics.append_metrics(good, {"epoch": 3})
    assert (victim / "notes.txt").read_text() == "mine"


# --- 2. generated code carries no input as code -----------------------------------------------


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "model.json",
            '"model": "logistic"',
            '"model": "logistic\\"); import os; (\\""',
            "'model' must name a model",
        ),
        ("model.json", '"dataset": "mnist"', '"dataset": "mnist\\n"', "'dataset' must name"),
        ("model.json", '"dataset": "mnist"', '"dataset": "../../../escaped"', "'dataset' must"),
        ("model.json", '"model": "logistic"', '"model": "../../x"', "'model' must name a model"),
    ],
)
def test_a_run_naming_itself_as_code_or_a_path_publishes_nothing(
    runs, tmp_path, file, old, new, message
):
    good = runs / "good"
    text = (good / file).read_text()
    assert old in text
    (good / file).write_text(text.replace(old, new))
    for command in (["new-plugin", "mine", "--from-run", good], ["export", good]):
        result = run_cli(*command, cwd=tmp_path, check=False)
        one_line_error(result, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing written here...
    assert not list(tmp_path.parent.glob("escaped*")) and not (tmp_path.parent / "x.onnx").exists()


@pytest.mark.parametrize("tag", ["mnist\n", "a/b", "..", "x'); import os; ('"])
def test_a_tag_that_is_not_a_name_is_refused(runs, tmp_path, tag):
    result = run_cli(
        "new-plugin", "mine", "--from-run", runs / "good", "--tag", tag, cwd=tmp_path, check=False
    )
    one_line_error(result, "--tag")
    assert not (tmp_path / "zoo-mine").exists()


@pytest.mark.parametrize("name", ["class", "zoo", "register", "nn", "import", "x\n", "../x"])
def test_a_plugin_name_never_becomes_code(tmp_path, name):
    """Keywords and names of what the module itself uses are plugin names like any: the files
    hold them as quoted values. A name that is not one is refused."""
    import ast

    import tomllib

    from zoo.scaffold import PLUGIN_KINDS, new_plugin

    if not name.isidentifier():
        result = run_cli("new-plugin", name, cwd=tmp_path, check=False)
        one_line_error(result, "plugin name")
        return
    for kind in PLUGIN_KINDS:
        folder = new_plugin(name, tmp_path / kind, kind=kind)
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project["entry-points"]["zoo"] == {name: f"zoo_{name}"}
        for path in folder.rglob("*.py"):
            tree = ast.parse(path.read_text())  # parses: no keyword became a function's name
            names = [
                node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NAME"
            ]
            assert names == [name], path
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert name not in defined or name in ("model", "dataset", "metric", "loss"), path


def test_a_declarative_model_is_not_published_as_a_dependency_path(tmp_path, mnist_file):
    (tmp_path / "zoo.yaml").write_text(
        textwrap.dedent("""
        models:
          tiny:
            sequential:
              - {layer: flatten}
              - {layer: linear, in_features: 784, out_features: 10}
    """)
    )
    run_cli(
        "run",
        "tiny",
        "--epochs",
        "1",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "run",
        "--no-progress",
        cwd=tmp_path,
    )
    result = run_cli(
        "new-plugin",
        "mine",
        "--from-run",
        "run",
        "--set",
        f"dataset.path={mnist_file}",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "is written in", "not in an installed plugin")
    assert not (tmp_path / "zoo-mine").exists()


def test_a_symlinked_best_weights_file_from_elsewhere_is_never_published(runs, tmp_path):
    good, other = runs / "good", runs / "other"
    (good / "best.safetensors").unlink()
    (good / "best.safetensors").symlink_to(other / "best.safetensors")
    result = run_cli("new-plugin", "mine", "--from-run", good, cwd=tmp_path, check=False)
    one_line_error(result, "leads outside")
    assert not (tmp_path / "zoo-mine").exists()


def test_a_card_naming_a_path_as_its_run_is_refused_before_training(site, tmp_path):
    card = weights_card("http://127.0.0.1:9/x.safetensors")
    card["recipe"]["config"]["name"] = "../../../outside"
    source = f"""
import zoo
@zoo.hookimpl
def register_weights(register):
    register("logistic.bad", {card!r})
"""
    site.install("badcard", "badcard", source)
    result = run_cli("reproduce", "logistic.bad", cwd=tmp_path, check=False)
    one_line_error(result, "card field 'recipe'")
    assert not (tmp_path.parent.parent / "outside").exists()


# --- 3. data a shared run names does not become everyone's ---------------------------------------


def test_data_a_shared_run_names_serves_only_that_run(
    runs, tmp_path, server, zoo_home, monkeypatch
):
    (x, y), valid, test = make_mnist_arrays()
    shifted = write_pickle_gz(tmp_path / "srv" / "evil.pkl.gz", ((x, (y + 1) % 10), valid, test))
    server.root = shifted.parent
    url = server.url("evil.pkl.gz")
    monkeypatch.setenv("ZOO_HOME", str(zoo_home))
    good = runs / "good"
    text = (good / "config.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.strip().startswith("path:")]
    planted = f"name: mnist\n  url: {url}\n  cache_dir: {tmp_path / 'planted'}"
    (good / "config.yaml").write_text("\n".join(lines).replace("name: mnist", planted))
    evaluated = zoo_cmd("eval", good, cwd=tmp_path, check=True)
    assert "no pin covers" in evaluated.stderr and "serves only runs that name this URL" in (
        evaluated.stderr
    )
    assert not (tmp_path / "planted").exists()  # a shared run's cache_dir is not followed
    offline = run_cli("data", "fetch", "mnist", cwd=tmp_path, env={"ZOO_OFFLINE": "1"}, check=False)
    assert offline.returncode == 1 and "is not cached" in offline.stderr  # not everyone's mnist
    run_cli("data", "fetch", "mnist", "--set", f"url={url}", cwd=tmp_path)  # the user says so
    assert run_cli("data", "fetch", "mnist", cwd=tmp_path, env={"ZOO_OFFLINE": "1"}).returncode == 0


# --- 4. bounded before built ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_classes": 1_000_000, "classes": None}, "do not fit the model"),
        ({"input_shape": [1, 4096, 4096]}, "but dataset 'mnist' gives (1, 28, 28)"),
    ],
)
def test_a_run_describing_a_huge_model_is_refused_before_it_is_built(
    runs, tmp_path, change, message
):
    good = runs / "good"
    info = json.loads((good / "model.json").read_text())
    (good / "model.json").write_text(json.dumps(info | change))
    code, stderr, peak = peak_memory("eval", good, cwd=tmp_path)
    assert code == 1 and message in stderr and "Traceback" not in stderr, stderr
    assert peak < 1000, f"{peak} MB"


def test_a_picture_just_under_pillows_limit_is_refused_before_it_is_decoded(runs, tmp_path):
    from PIL import Image

    Image.new("L", (9000, 9000)).save(tmp_path / "big.png")  # 81 Mpixels: Pillow would decode it
    code, stderr, peak = peak_memory("predict", runs / "good", "big.png", cwd=tmp_path)
    assert code == 1 and "too large (9,000 x 9,000 pixels" in stderr, stderr
    assert peak < 1000, f"{peak} MB"


def test_a_fifo_given_as_a_picture_is_one_line_not_a_hang(runs, tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    result = zoo_cmd("predict", runs / "good", "pipe.png", cwd=tmp_path, timeout=120)
    one_line_error(result, "not a regular file")


def test_a_fifo_as_a_run_file_is_one_line_not_a_hang(runs, tmp_path):
    good = runs / "good"
    (good / "model.json").unlink()
    os.mkfifo(good / "model.json")
    result = zoo_cmd("eval", good, cwd=tmp_path, timeout=120)
    one_line_error(result, "not a regular file")


def weights_card(url, size=None):
    from pathlib import Path

    root = Path(__file__).parents[1] / "plugins/logistic/zoo_logistic/weights"
    card = json.loads((root / "logistic.mnist.json").read_text())
    card.pop("file")
    card["urls"] = [url]
    if size is not None:
        card["size"] = size
    return card


def test_url_weights_have_a_deadline(site, server, tmp_path, monkeypatch):
    import time

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "31000")
        handler.end_headers()
        for _ in range(400):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/w.safetensors"] = trickle
    card = weights_card(server.url("w.safetensors"))
    site.install(
        "trickle",
        "trickle",
        f"""
import zoo
@zoo.hookimpl
def register_weights(register):
    register("logistic.slow", {card!r})
""",
    )
    monkeypatch.setattr("zoo.runs.weights.DEADLINE", 1.0)
    started = time.monotonic()
    result = run_cli("eval", "logistic.slow", cwd=tmp_path, check=False)
    one_line_error(result, "did not finish downloading within 1 s", "not cached")
    assert time.monotonic() - started < 15


def test_a_card_claiming_more_bytes_than_its_model_holds_downloads_nothing(site, server, tmp_path):
    card = weights_card(server.url("endless.safetensors"), size=4 << 30)
    site.install(
        "endless",
        "endless",
        f"""
import zoo
@zoo.hookimpl
def register_weights(register):
    register("logistic.endless", {card!r})
""",
    )
    result = run_cli("predict", "logistic.endless", __file__, cwd=tmp_path, check=False)
    one_line_error(result, "its card says the file has 4,294,967,296 bytes", "not downloaded")
    assert server.requests == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=123456789012345678901234567890", "seed: 123456789012345678901234567890 is more"),
        ("epochs=1e400", "epochs: expected a positive integer"),
        ("epochs=10000000000", "epochs: 10000000000 is more than zoo takes"),
        ("scheduler={name: step, step_size: 0}", "out of range: step_size >= 1"),
        ("model.channels=100000", "more than this machine can train"),
        ('description="a\\e[2Jb"', "description: expected one line of printable text"),
    ],
)
def test_config_values_that_overflow_are_one_line_before_anything(
    tmp_path, mnist_file, override, message
):
    result = run_cli(
        "run",
        "cnn",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        override,
        "--out",
        "out",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, message)
    assert not (tmp_path / "out").exists()


# --- 5. one line, never a traceback: a shared run's saved state ----------------------------------


def tamper_state(run_dir, change):
    import torch

    path = run_dir / "checkpoints" / "epoch-0002" / "state.pt"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def _momentum(state):
    import torch

    state["optimizer"]["state"] = {0: {"momentum_buffer": torch.zeros(3, 3)}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_momentum, "its optimizer state"),
        (lambda s: s["optimizer"]["param_groups"][0].update(lr="fast"), "its optimizer state"),
        (lambda s: s["optimizer"].update(state="x"), "its optimizer state"),
        (lambda s: s["rng"].update(torch="x"), "its random state"),
        (lambda s: s["rng"].update(python=[1, 2]), "its random state"),
        (lambda s: s["history"][0].update(val_loss="low"), "history row 1"),
        (lambda s: s["history"][1].update(val_loss=1e300), "history row 2"),
        (lambda s: s.update(stopped=["x"]), "'stopped'"),
        (lambda s: s.update(scheduler=[1]), "'scheduler' is not a dict"),
    ],
)
def test_every_field_of_a_saved_state_is_checked_before_anything_trains(
    runs, tmp_path, change, message
):
    good = runs / "good"
    tamper_state(good, change)
    before = {p.name: p.read_bytes() for p in good.iterdir() if p.is_file()}
    result = run_cli("resume", good, "--epochs", "3", cwd=tmp_path, check=False)
    one_line_error(result, message)
    after = {p.name: p.read_bytes() for p in good.iterdir() if p.is_file()}
    assert after.keys() == before.keys()
    for name in ("config.yaml", "metrics.jsonl", "checkpoint.json", "best.safetensors"):
        assert after[name] == before[name], name  # nothing rewritten, nothing trained


def test_a_callback_or_scheduler_state_of_another_shape_is_one_line(tmp_path, mnist_file):
    common = ["--set", f"dataset.path={mnist_file}", "--no-progress", "--epochs", "2"]
    run_cli(
        "run",
        "logistic",
        *common,
        "--set",
        "callbacks=[early_stopping]",
        "--set",
        "scheduler=step",
        "--out",
        "run",
        cwd=tmp_path,
    )
    run = tmp_path / "run"
    tamper_state(run, lambda s: s["callbacks"][0].update(best="never"))
    one_line_error(
        run_cli("resume", run, "--epochs", "3", cwd=tmp_path, check=False), "callbacks[0] state"
    )
    tamper_state(run, lambda s: s["callbacks"][0].update(best=0.5))
    tamper_state(run, lambda s: s["scheduler"].update(extra=1))
    one_line_error(
        run_cli("resume", run, "--epochs", "3", cwd=tmp_path, check=False),
        "its scheduler",
        "other keys",
    )


def test_one_broken_card_breaks_only_its_own_line(site, tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    huge = weights_card("http://127.0.0.1:9/x.safetensors")
    huge["metrics"]["test_acc"] = 10**400
    versions = weights_card("http://127.0.0.1:9/y.safetensors")
    versions["recipe"]["versions"] = ["torch", "2.13"]
    site.install(
        "cards",
        "cards",
        f"""
from pathlib import Path
import zoo
DEEP = Path(__file__).parent / "deep.json"
@zoo.hookimpl
def register_weights(register):
    register("logistic.deep", DEEP)
    register("logistic.huge", {huge!r})
    register("logistic.versions", {versions!r})
""",
    )
    (site.path / "zoo_cards" / "deep.json").write_text(deep)
    listed = run_cli("list", "weights", cwd=tmp_path)
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "unusable" in lines["logistic.deep"] and "nested too deeply" in lines["logistic.deep"]
    assert "unusable" in lines["logistic.huge"] and "unusable" in lines["logistic.versions"]
    assert "unusable" not in lines["logistic.mnist"] and "91.33%" in lines["logistic.mnist"]
    for name, message in [("logistic.deep", "not valid JSON"), ("logistic.versions", "recipe")]:
        one_line_error(run_cli("show", name, cwd=tmp_path, check=False), message)


@pytest.mark.parametrize("content", ["[]", '{"grid": [1]}', "[" * 100_000])
def test_a_sweep_json_of_another_shape_is_one_line(tmp_path, content):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.json").write_text(content)
    result = run_cli(
        "sweep",
        "logistic",
        "--set",
        "optimizer.lr=0.1,0.2",
        "--out",
        folder,
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "sweep.json")


def test_metrics_with_huge_numbers_are_left_out_of_plots(runs, tmp_path):
    good = runs / "good"
    rows = (good / "metrics.jsonl").read_text().splitlines()
    huge = json.loads(rows[1]) | {"val_loss": 1e308, "train_loss": -1e308}
    (good / "metrics.jsonl").write_text(rows[0] + "\n" + json.dumps(huge) + "\n" + "[" * 10**5)
    plotted = run_cli("plot", good, "--out", "p.png", cwd=tmp_path)
    assert "wrote p.png" in plotted.stdout
    assert run_cli("runs", runs, cwd=tmp_path).returncode == 0


# --- 6. runs that stay usable after a kill -------------------------------------------------------


def killed_at_start(folder):
    """What a SIGKILL between taking a run directory and writing its config leaves."""
    folder.mkdir(parents=True)
    (folder / ".zoo.lock").write_bytes(b"")
    (folder / ".zoo.lock.owner").write_text("zoo (pid 1 on host, since then)")
    (folder / ".config.yaml.abc123.part").write_text("name: cnn\n")


def test_a_run_killed_before_its_config_starts_again(tmp_path, mnist_file):
    killed_at_start(tmp_path / "out")
    resumed = run_cli("resume", "out", cwd=tmp_path, check=False)
    one_line_error(resumed, "holds no run", "zoo run NAME --out out")
    run_cli(
        "run",
        "logistic",
        "--epochs",
        "1",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "out",
        "--no-progress",
        cwd=tmp_path,
    )
    assert len((tmp_path / "out" / "metrics.jsonl").read_text().splitlines()) == 1
    assert not list((tmp_path / "out").glob("*.part"))


def test_a_sweep_killed_there_finishes_on_its_next_run(tmp_path, mnist_file):
    args = [
        "sweep",
        "logistic",
        "--set",
        "optimizer.lr=0.1,0.2",
        "--set",
        f"dataset.path={mnist_file}",
        "--epochs",
        "1",
        "--out",
        "sw",
        "--no-progress",
    ]
    folder = tmp_path / "sw"
    folder.mkdir()
    grid = {
        "name": "logistic",
        "grid": {"optimizer.lr": [0.1, 0.2]},
        "fixed": [f"dataset.path={mnist_file}"],
        "metric": "val_loss",
    }
    (folder / "sweep.json").write_text(json.dumps(grid))
    killed_at_start(folder / "lr=0.1")
    done = run_cli(*args, cwd=tmp_path)
    assert "2 runs" in done.stdout
    assert (folder / "lr=0.1" / "config.yaml").is_file()


# --- 7. no silent wrong answers ------------------------------------------------------------------


def digit_ink():
    """A digit-like stroke (a 7) as ink intensities in [0, 1], 56 x 56."""
    ink = np.zeros((56, 56), np.float32)
    ink[10:16, 10:46] = 1.0
    for row in range(16, 50):
        col = 46 - (row - 16) * 20 // 34
        ink[row, col - 3 : col + 3] = 1.0
    return ink


def test_transparent_and_float_pictures_read_as_their_ink(tmp_path):
    from PIL import Image

    ink = digit_ink()
    grey = (ink * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "plain.png")  # white ink on black, as MNIST
    rgba = np.zeros((56, 56, 4), np.uint8)
    rgba[..., 3] = grey  # black ink on a transparent background: an HTML canvas
    Image.fromarray(rgba).save(tmp_path / "canvas.png")
    rgba[..., :3] = 255  # white ink on transparent
    Image.fromarray(rgba).save(tmp_path / "white.png")
    Image.fromarray(ink).save(tmp_path / "float.tiff")  # float pixels in [0, 1]
    Image.fromarray(np.zeros((56, 56, 4), np.uint8)).save(tmp_path / "empty.png")
    import zoo

    shown = zoo.predict(
        "cnn.mnist",
        [tmp_path / n for n in ("plain.png", "canvas.png", "white.png", "float.tiff")],
        top=3,
    )
    answers = [guesses for _, guesses in shown]
    assert answers[0][0][1] > 0.5  # a confident answer for the plain picture...
    for other in answers[1:]:  # ...and the same for each way of storing it
        assert [n for n, _ in other] == [n for n, _ in answers[0]]
        assert other[0][1] == pytest.approx(answers[0][0][1], abs=0.02)
    one_line_error(
        run_cli("predict", "cnn.mnist", "empty.png", cwd=tmp_path, check=False),
        "holds nothing to read",
    )


def test_weights_that_are_not_numbers_answer_nothing(runs, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    good = runs / "good"
    path = good / "checkpoints" / "epoch-0002" / "model.safetensors"
    tensors = load_file(path)
    tensors["linear.weight"][0, 0] = float("nan")
    save_file(tensors, path)
    from PIL import Image

    Image.fromarray((digit_ink() * 255).astype(np.uint8)).save(tmp_path / "d.png")
    result = run_cli("predict", good, "d.png", cwd=tmp_path, check=False)
    one_line_error(result, "not numbers (NaN or infinite)")
    assert "nan%" not in result.stdout
    assert torch.isnan(load_file(path)["linear.weight"]).any()


def test_class_names_with_escape_sequences_are_refused(runs, tmp_path):
    good = runs / "good"
    info = json.loads((good / "model.json").read_text())
    info["classes"] = ["\x1b[2J\x1b[31mzero"] + [str(i) for i in range(1, 10)]
    (good / "model.json").write_text(json.dumps(info))
    from PIL import Image

    Image.fromarray((digit_ink() * 255).astype(np.uint8)).save(tmp_path / "d.png")
    result = run_cli("predict", good, "d.png", cwd=tmp_path, check=False)
    one_line_error(result, "'classes' must be a list of num_classes printable names")
    assert "\x1b" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "scheduler",
    [
        "{name: step, gamma: -0.5}",
        "{name: cosine, min_lr: -1}",
        "{name: onecycle, max_lr: -0.1}",
        "{name: reduce_on_plateau, factor: -2}",
    ],
)
def test_a_schedule_that_would_make_the_learning_rate_negative_is_refused(
    tmp_path, mnist_file, scheduler
):
    result = run_cli(
        "run",
        "logistic",
        "--set",
        f"dataset.path={mnist_file}",
        "--set",
        f"scheduler={scheduler}",
        "--out",
        "out",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "out of range")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", ["int64", "bool", "complex64"])
def test_init_never_casts_weights_of_another_kind(runs, tmp_path, mnist_file, dtype):
    import torch
    from safetensors.torch import load_file, save_file

    good = runs / "good"
    tensors = load_file(good / "best.safetensors")
    save_file(
        {k: v.to(getattr(torch, dtype)) for k, v in tensors.items()}, good / "best.safetensors"
    )
    result = run_cli(
        "run",
        "logistic",
        "--init",
        good,
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "out",
        cwd=tmp_path,
        check=False,
    )
    one_line_error(result, "in the weights, float32 in the model (not cast)")
    assert not (tmp_path / "out").exists()
