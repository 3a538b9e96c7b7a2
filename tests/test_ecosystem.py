"""Plugins people build on: real distributions installed into a temp site dir, and the zoo
command run as a user runs it. Broken, colliding, disabled and command-adding plugins,
declarative models, hook-spec versions, the scaffold, and the README's hook documentation."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from conftest import run_cli
from conftest import run_process as zoo_cmd
from zoo import hookspecs
from zoo.plugins.manager import PluginWarning

BROKEN = "raise ImportError('needs the missing package frobnicate')\n"

ACME = '''
import zoo

def logistic(num_classes=10):
    """Acme's own logistic regression."""
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))

@zoo.hookimpl
def register_models(register):
    register("logistic", logistic)
'''

COMMANDS = '''
import click
import zoo

@click.command()
@click.argument("who", default="world")
def hello(who):
    """Say hello."""
    click.echo(f"hello {who} from a plugin")

@zoo.hookimpl
def register_commands(cli):
    cli.add_command(hello)
'''

BAD_COMMANDS = '''
import click
import zoo

@zoo.hookimpl
def register_commands(cli):
    @cli.command()
    def run():
        """A plugin's run: must not replace zoo's."""
'''

FUTURE = """
import zoo
ZOO_HOOKSPEC_VERSION = 2

@zoo.hookimpl
def register_models(register):
    register("future", object)
"""


@pytest.mark.hostile
def test_a_broken_plugin_never_breaks_the_other_commands(site, tmp_path):
    site.install("broken", "broken", BROKEN)
    listed = zoo_cmd("list", "models", cwd=tmp_path)
    assert listed.returncode == 0 and "cnn" in listed.stdout
    warning = (
        "zoo: warning: plugin 'broken' (zoo-broken 1.0) failed to load and was skipped: "
        "ImportError: needs the missing package frobnicate"
    )
    assert warning in listed.stderr and len(listed.stderr.strip().splitlines()) == 1
    plugins = zoo_cmd("plugins", cwd=tmp_path).stdout
    assert any(
        line.startswith("broken") and "failed" in line and "frobnicate" in line
        for line in plugins.splitlines()
    )
    unknown = zoo_cmd("show", "resnet", cwd=tmp_path)
    assert unknown.returncode == 1
    strict = zoo_cmd("list", cwd=tmp_path, env={"ZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "frobnicate" in strict.stderr
    assert "Traceback" not in strict.stderr
    with pytest.warns(PluginWarning):
        with pytest.raises(zoo.UnknownNameError, match="plugin 'broken' .* failed to load"):
            zoo.get_model("resnet")


def test_colliding_names_are_never_won_silently(site, tmp_path):
    site.install("acme", "acme", ACME)
    models = zoo_cmd("list", "models", cwd=tmp_path).stdout
    assert "acme:logistic" in models and "logistic:logistic" in models
    with pytest.raises(zoo.AmbiguousNameError, match="acme:logistic, logistic:logistic"):
        zoo.create_model("logistic")
    assert zoo.get_model("acme:logistic").distribution == "zoo-acme"
    assert zoo.get_model("logistic:logistic").distribution == "zoo-logistic"
    ran = zoo_cmd("show", "logistic", cwd=tmp_path)
    assert ran.returncode == 1 and "use one of acme:logistic, logistic:logistic" in ran.stderr
    chosen = zoo_cmd("show", "logistic", "--set", "model.name=acme:logistic", cwd=tmp_path)
    assert chosen.returncode == 0 and "name: acme:logistic" in chosen.stdout


def test_allow_deny_and_persisted_disable(tmp_path, zoo_home):
    def loaded(env=None):
        out = zoo_cmd("plugins", cwd=tmp_path, env=env).stdout.splitlines()
        return {
            line.split()[0]: line.split()[-1] if "disabled" in line else "loaded"
            for line in out
            if "disabled" in line or "loaded" in line
        }

    only = zoo_cmd("list", "models", cwd=tmp_path, env={"ZOO_PLUGINS": "logistic"}).stdout
    assert "logistic" in only and "cnn" not in only
    none = zoo_cmd("plugins", cwd=tmp_path, env={"ZOO_PLUGINS": ""}).stdout
    assert "mnist_data" in none and "loaded" in next(
        line for line in none.splitlines() if line.startswith("optimizers")
    )
    assert all(
        "disabled" in line
        for line in none.splitlines()
        if line.split()[0] in ("cnn", "logistic", "mnist_data")
    )
    denied = zoo_cmd("list", "models", cwd=tmp_path, env={"ZOO_DISABLE_PLUGINS": "cnn"}).stdout
    assert "logistic" in denied and " cnn " not in denied
    assert zoo_cmd("plugins", "disable", "cnn", cwd=tmp_path).returncode == 0
    assert "disabled_plugins:\n- cnn" in (zoo_home / "config.yaml").read_text()
    assert loaded()["cnn"] == "disabled"
    gone = zoo_cmd("show", "cnn", cwd=tmp_path)
    assert "plugin 'cnn' is disabled (zoo plugins enable cnn)" in gone.stderr
    assert zoo_cmd("plugins", "enable", "cnn", cwd=tmp_path).returncode == 0
    assert loaded()["cnn"] == "loaded"
    assert zoo_cmd("plugins", "disable", "nope", cwd=tmp_path).returncode == 1


def test_a_plugin_adds_a_command_and_a_failing_one_breaks_nothing(site, tmp_path):
    site.install("greeter", "greeter", COMMANDS)
    site.install("grabby", "grabby", BAD_COMMANDS)
    hello = zoo_cmd("hello", "zoo", cwd=tmp_path)
    assert hello.returncode == 0 and hello.stdout == "hello zoo from a plugin\n"
    assert (
        "could not add its commands" in hello.stderr
        and "replace the command(s) run" in hello.stderr
    )
    helped = zoo_cmd("--help", cwd=tmp_path).stdout
    assert "hello" in helped and "Say hello." in helped
    assert zoo_cmd("run", "--help", cwd=tmp_path).stdout.startswith("Usage: zoo run [OPTIONS] NAME")


def test_an_incompatible_hook_spec_version_is_reported_at_load(site):
    site.install("future", "future", FUTURE)
    with pytest.warns(PluginWarning, match="written for zoo hook specs v2"):
        infos = {p.name: p for p in zoo.list_plugins()}
    assert infos["future"].status == "failed"
    assert zoo.HOOKSPEC_VERSION == 1


DECLARATIVE = """
models:
  tiny_cnn:
    sequential:
      - {layer: view, shape: [-1, 1, 28, 28]}
      - {layer: conv2d, in_channels: 1, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
      - {layer: relu}
      - {layer: flatten}
      - {layer: linear, in_features: 3136, out_features: 10}
  typo:
    sequential:
      - {layer: relu}
      - {layer: conv2, in_channels: 1}
  wrong_argument:
    sequential:
      - {layer: linear, in_features: 784, out_feature: 10}
"""


def test_a_declarative_model_trains_like_any_model(tmp_path, mnist_file):
    (tmp_path / "zoo.yaml").write_text(DECLARATIVE)
    result = run_cli(
        "run",
        "tiny_cnn",
        "--epochs",
        "1",
        "--set",
        f"dataset.path={mnist_file}",
        "--out",
        "out",
        "--no-progress",
        cwd=tmp_path,
    )
    assert "model tiny_cnn" in result.stdout and "best val_loss" in result.stdout
    listed = run_cli("list", "models", cwd=tmp_path).stdout
    line = next(x for x in listed.splitlines() if x.strip().startswith("tiny_cnn"))
    assert line.split()[1] == "config" and "5 layers from zoo.yaml" in line
    os.chdir(tmp_path)
    try:
        zoo.api.reset()
        model = zoo.create_model("tiny_cnn")
        assert [type(m).__name__ for m in model] == ["View", "Conv2d", "ReLU", "Flatten", "Linear"]
        with pytest.raises(
            zoo.ConfigError,
            match=r"model 'typo', layer 1 \(conv2\): unknown "
            r"layer 'conv2' — did you mean 'conv2d'\?",
        ):
            zoo.create_model("typo")
        with pytest.raises(
            zoo.ConfigError,
            match=r"model 'wrong_argument', layer 0 \(linear\)"
            r".*out_feature",
        ):
            zoo.create_model("wrong_argument")
    finally:
        os.chdir(Path(__file__).parent)
        zoo.api.reset()


def test_the_scaffold_installs_and_its_own_tests_pass(tmp_path):
    made = run_cli("new-plugin", "tinymlp", "--dir", "zoo-tinymlp", cwd=tmp_path)
    assert "wrote zoo-tinymlp/" in made.stdout
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(tmp_path / "zoo-tinymlp"),
        ],
        check=True,
        capture_output=True,
    )
    env = {"PYTHONPATH": str(site)}
    listed = zoo_cmd("list", "models", cwd=tmp_path, env=env).stdout
    assert "tinymlp" in listed and "A small MLP" in listed
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "zoo-tinymlp",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    again = run_cli("new-plugin", "tinymlp", "--dir", "zoo-tinymlp", cwd=tmp_path, check=False)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_every_hook_is_documented_with_its_full_signature():
    """Like datasette's: a hook spec added or changed without its docs fails here."""
    docs = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    hooks = {
        name: f"{name}{inspect.signature(fn)}".replace("'", "")
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "zoo_spec")
    }
    assert set(hooks) == {
        "register_datasets",
        "register_models",
        "register_optimizers",
        "register_layers",
        "register_schedulers",
        "register_losses",
        "register_metrics",
        "register_callbacks",
        "register_transforms",
        "register_weights",
        "register_commands",
    }
    for signature in hooks.values():
        assert f"### `{signature}`" in docs, f"docs/plugins.md does not document {signature}"


def test_zoo_testing_checks_a_plugin(mnist_file, idx_dir):
    from zoo.testing import check_plugin, only_plugins

    assert check_plugin("cnn") == {"models": ["cnn"], "weights": ["cnn.fashion_mnist", "cnn.mnist"]}
    checked = check_plugin(
        "mnist_data",
        dataset_options={
            "mnist": {"path": str(mnist_file), "progress": False},
            "fashion_mnist": {"path": str(idx_dir), "progress": False},
        },
    )
    assert checked == {"datasets": ["mnist", "fashion_mnist"]}
    with only_plugins("logistic"):
        assert zoo.list_models() == ["logistic", "logistic_scratch"]
        assert "sgd" in zoo.list_optimizers()

    class Broken:
        @zoo.hookimpl
        def register_models(self, register):
            register("flat", lambda num_classes=10: __import__("torch").nn.Flatten())

    with pytest.raises(AssertionError, match="flat"):
        check_plugin(Broken())


BAD_SIGNATURE = """
import zoo

@zoo.hookimpl
def register_models(registr):  # pluggy refuses an argument the hook spec does not have
    registr("typo", object)
"""


@pytest.mark.hostile
def test_hooks_pluggy_refuses_skip_that_plugin_alone(site, tmp_path):
    site.install("badsig", "badsig", BAD_SIGNATURE)
    site.install("broken", "broken", BROKEN)
    site.install("acme", "acme", ACME)
    with pytest.warns(PluginWarning) as caught:
        infos = {p.name: p for p in zoo.list_plugins()}
    assert infos["badsig"].status == "failed" and "registr" in infos["badsig"].error
    assert infos["broken"].status == "failed" and "frobnicate" in infos["broken"].error
    assert infos["acme"].status == "loaded" and infos["cnn"].status == "loaded"
    assert infos["badsig"].source == "zoo-badsig 1.0"
    assert len(caught) == 2 and "acme:logistic" in zoo.list_models()
    listed = zoo_cmd("list", "models", cwd=tmp_path)
    assert listed.returncode == 0 and "acme:logistic" in listed.stdout
    assert listed.stderr.count("zoo: warning: plugin") == 2


EXITS_AT_IMPORT = "import sys\nsys.exit(0)\n"
EXITS_IN_HOOK = """
import sys
import zoo

@zoo.hookimpl
def register_models(register):
    sys.exit(0)
"""
# notes each import where $HANGS_MARK says, then hangs far longer than any command may take
HANGS = (
    "import os, time\n"
    "open(os.environ.get('HANGS_MARK', os.devnull), 'a').write('imported\\n')\n"
    "time.sleep(600)\n"
)
SLOW = "import time\nimport zoo\ntime.sleep(2.5)\n"
WRONG = '''
import zoo

def text(num_classes=10):
    """Returns a string, not a model."""
    return "a model, honest"

def narrow(num_classes=10):
    """Ignores num_classes."""
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 3))

@zoo.hookimpl
def register_models(register):
    register("text", text)
    register("narrow", narrow)
'''


@pytest.mark.hostile
def test_a_plugin_that_exits_is_skipped_like_any_failing_plugin(site, tmp_path):
    site.install("leaver", "leaver", EXITS_AT_IMPORT)
    site.install("quitter", "quitter", EXITS_IN_HOOK)
    listed = zoo_cmd("list", "models", cwd=tmp_path)
    assert listed.returncode == 0 and "cnn" in listed.stdout
    assert "plugin 'leaver' (zoo-leaver 1.0) failed to load and was skipped: SystemExit" in (
        listed.stderr
    )
    assert "plugin 'quitter' (zoo-quitter 1.0) failed" in listed.stderr


@pytest.mark.hostile
def test_a_plugin_that_hangs_at_import_is_left_behind(site, tmp_path):
    site.install("hangs", "hangs", HANGS)
    site.install("slow", "slow", SLOW)
    mark = tmp_path / "imported"
    env = {"ZOO_PLUGIN_TIMEOUT": "1", "HANGS_MARK": str(mark)}
    # the plugin hangs for 600 s: a zoo that waited for it would hit zoo_cmd's timeout
    helped = zoo_cmd("--help", cwd=tmp_path, env=env, timeout=60)
    assert helped.returncode == 0 and "Commands:" in helped.stdout
    assert mark.read_text() == "imported\n"  # it was imported, and left behind
    assert "plugin 'hangs' (zoo-hangs 1.0) failed to load" in helped.stderr
    assert "did not finish in 1 s" in helped.stderr and "zoo plugins disable hangs" in helped.stderr
    plugins = zoo_cmd("plugins", cwd=tmp_path, env={"ZOO_PLUGIN_TIMEOUT": "5"}, timeout=60)
    assert (
        "plugin 'slow' took 2." in plugins.stderr and "zoo plugins disable slow" in plugins.stderr
    )
    mark.unlink()
    disabled = zoo_cmd(
        "plugins", "disable", "hangs", cwd=tmp_path, env={"HANGS_MARK": str(mark)}, timeout=60
    )
    assert disabled.returncode == 0 and not mark.exists()  # it imports no plugin
    assert "hangs" not in zoo_cmd("list", cwd=tmp_path, timeout=60).stderr


@pytest.mark.hostile
def test_a_factory_that_returns_the_wrong_thing_is_one_line(site, tmp_path, mnist_file):
    site.install("wrong", "wrong", WRONG)
    data = ["--set", f"dataset.path={mnist_file}", "--epochs", "1"]
    text = zoo_cmd("run", "text", *data, cwd=tmp_path)
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert text.stderr.strip().splitlines()[-1] == (
        "Error: model 'text' of plugin 'wrong' (zoo-wrong) returned str, not an nn.Module: "
        "the plugin's factory is wrong"
    )
    narrow = zoo_cmd("run", "narrow", *data, cwd=tmp_path)
    assert narrow.returncode == 1 and "Traceback" not in narrow.stderr
    assert "model 'narrow' of plugin 'wrong' (zoo-wrong) on dataset 'mnist': the model " in (
        narrow.stderr
    )
    assert "gives 3 scores per sample but the dataset has 10 classes" in narrow.stderr
    with pytest.raises(zoo.PluginError, match="returned str"):
        zoo.create_model("text")


TYPO = """
import zoo

@zoo.hookimpl
def register_model(register):  # the docs' own example of a misspelling: models, not model
    register("typo_model", object)
"""


@pytest.mark.hostile
def test_a_misspelled_hook_skips_only_its_own_plugin(site, tmp_path):
    """Through real entry points (not plugins added one by one): pluggy's check_pending spans
    every plugin, so one misspelling once took them all down, each blamed for it."""
    site.install("typo", "typo", TYPO)
    site.install("acme", "acme", ACME)
    listed = zoo_cmd("list", "models", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "acme:logistic" in listed.stdout and "cnn" in listed.stdout
    warned = [line for line in listed.stderr.splitlines() if "failed to load" in line]
    assert len(warned) == 1 and "plugin 'typo'" in warned[0], listed.stderr
    assert "unknown hook 'register_model' — did you mean 'register_models'?" in warned[0]
    strict = zoo_cmd("list", "models", cwd=tmp_path, env={"ZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "plugin 'typo'" in strict.stderr
    assert "plugin 'acme'" not in strict.stderr
    shown = zoo_cmd("show", "cnn.mnist", cwd=tmp_path)
    assert shown.returncode == 0 and "test accuracy 94.34%" in shown.stdout
