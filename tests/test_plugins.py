"""Plugin discovery and the four hooks: objects registered in a fresh plugin manager, and a real
distribution with an entry point, installed into a temp dir on sys.path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import zoo
from zoo import api
from zoo.plugins.manager import PluginWarning, load_catalog


class Everything:
    """A plugin that implements every hook."""

    @zoo.hookimpl
    def register_datasets(self, register):
        register("tiny_data", lambda size=4: zoo.Splits([0] * size, [0]), description="Tiny.")

    @zoo.hookimpl
    def register_models(self, register):
        def mlp(num_classes=10, hidden=4):
            """A small MLP."""
            from torch import nn

            return nn.Sequential(
                nn.Flatten(), nn.Linear(784, hidden), nn.Linear(hidden, num_classes)
            )

        register("mlp", mlp)

    @zoo.hookimpl
    def register_optimizers(self, register):
        def plain(params, lr=0.1):
            """Plain SGD."""
            import torch

            return torch.optim.SGD(params, lr=lr)

        register("plain", plain)

    @zoo.hookimpl
    def register_layers(self, register):
        def double():
            """x * 2."""
            from torch import nn

            class Double(nn.Module):
                def forward(self, x):
                    return x * 2

            return Double()

        register("double", double)


@pytest.fixture
def fresh():
    with api.using(load_catalog([("everything", Everything())], entry_points=False)) as z:
        yield z


def test_each_hook_registers_through_a_fresh_manager(fresh):
    assert zoo.list_models() == ["mlp"]
    assert zoo.list_datasets() == ["tiny_data"]
    assert zoo.list_optimizers() == ["adam", "adamw", "plain", "sgd"]
    assert "double" in zoo.list_layers() and "conv2d" in zoo.list_layers()
    assert zoo.get_model("mlp").description == "A small MLP."
    assert zoo.get_dataset("tiny_data").description == "Tiny."
    assert zoo.get_model("mlp").plugin == "everything"
    assert fresh.plugins["everything"].registered["models"] == ["mlp"]


def test_create_functions_build_real_objects(fresh):
    import torch

    model = zoo.create_model("mlp", num_classes=3)
    assert model(torch.zeros(2, 784)).shape == (2, 3)
    opt = zoo.create_optimizer("plain", model.parameters(), lr=0.5)
    assert opt.param_groups[0]["lr"] == 0.5
    assert zoo.create_layer("double")(torch.ones(1)).item() == 2
    assert len(zoo.create_dataset("tiny_data", size=3).train) == 3


def test_builtin_optimizers(fresh):
    import torch

    params = [torch.nn.Parameter(torch.ones(2))]
    sgd = zoo.create_optimizer("sgd", params, lr=0.05, momentum=0.9, nesterov=True)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"]
    assert isinstance(zoo.create_optimizer("adamw", params), torch.optim.AdamW)
    assert zoo.get_optimizer("sgd").plugin == "optimizers"
    assert zoo.get_optimizer("sgd").distribution == "torch-zoo"


class Misspelled:
    @zoo.hookimpl
    def register_model(self, register):  # not a hook: must fail loudly, not be ignored
        register("x", object)


class Raises:
    @zoo.hookimpl
    def register_models(self, register):
        raise RuntimeError("boom")


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("plugin", "reason"), [(Misspelled(), "register_model"), (Raises(), "boom")]
)
def test_a_broken_plugin_is_skipped_with_a_warning(plugin, reason):
    with pytest.warns(PluginWarning, match=f"plugin 'broken' failed to load.*{reason}"):
        z = load_catalog([("broken", plugin), ("everything", Everything())], entry_points=False)
    assert z.plugins["broken"].status == "failed"
    assert reason in z.plugins["broken"].error
    assert z.registries["models"].names() == ["mlp"]


def test_strict_plugins_turns_a_failure_into_an_error(monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(zoo.PluginError, match="boom"):
        load_catalog([("broken", Raises())], entry_points=False)


def test_importing_zoo_does_not_load_plugins_or_torch():
    code = (
        "import sys, zoo\n"
        "from zoo.api import catalog\n"
        "assert catalog._current is None, 'plugins loaded at import'\n"
        "zoo.list_models()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- a real distribution with an entry point --------------------------------------------------

PLUGIN_SOURCE = '''
import zoo

def tinynet(num_classes=10):
    """A third-party model from an installed distribution."""
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))

@zoo.hookimpl
def register_models(register):
    register("tinynet", tinynet)
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """``zoo-acme`` 1.2.3 installed into a temp site dir: a package plus its dist-info, the
    same files ``pip install --target`` writes."""
    site = tmp_path / "site"
    (site / "zoo_acme").mkdir(parents=True)
    (site / "zoo_acme" / "__init__.py").write_text(PLUGIN_SOURCE)
    info = site / "zoo_acme-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-acme\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[zoo]\nacme = zoo_acme\n")
    (info / "RECORD").write_text("")
    monkeypatch.syspath_prepend(str(site))
    api.reset()
    yield site
    api.reset()
    sys.modules.pop("zoo_acme", None)


def test_an_installed_distribution_is_discovered_through_its_entry_point(installed_plugin):
    entry = zoo.get_model("tinynet")
    assert (entry.plugin, entry.distribution) == ("acme", "zoo-acme")
    assert "tinynet" in zoo.list_models()
    info = next(p for p in zoo.list_plugins() if p.name == "acme")
    assert (info.version, info.status) == ("1.2.3", "loaded")


def test_the_cli_lists_an_installed_plugin_and_forgets_an_uninstalled_one(installed_plugin):
    env_code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1]) if len(sys.argv) > 1 else None
        from zoo.cli import cli
        cli(["list", "models"], prog_name="zoo", standalone_mode=False)
        cli(["plugins"], prog_name="zoo", standalone_mode=False)
        assert "torch" not in sys.modules
    """)
    with_it = subprocess.run(
        [sys.executable, "-c", env_code, str(installed_plugin)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tinynet" in with_it and "zoo-acme 1.2.3" in with_it
    without = subprocess.run(
        [sys.executable, "-c", env_code], capture_output=True, text=True, check=True
    ).stdout
    assert "tinynet" not in without and "acme" not in without
    assert "cnn" in without  # everything else keeps working


class Wrapping:
    """Uses pluggy's own features: an implementation under another name (specname) and a
    wrapper around it; both only work when the hook is called through pluggy."""

    @zoo.hookimpl(specname="register_models")
    def models(self, register):
        register("inner", lambda num_classes=10: None, description="Registered inside.")

    @zoo.hookimpl(specname="register_models", wrapper=True)
    def around(self, register):
        register("before", lambda num_classes=10: None, description="Registered by a wrapper.")
        return (yield)


def test_hooks_are_called_through_pluggy_and_switched_off_plugins_are_blocked(monkeypatch):
    from zoo.plugins.manager import Catalog

    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "cnn")
    calls = []
    catalog = Catalog()
    catalog.pm.add_hookcall_monitoring(
        lambda hook, impls, kwargs: calls.append((hook, [i.plugin_name for i in impls])),
        lambda outcome, hook, impls, kwargs: None,
    )
    catalog.load_entry_points()
    catalog.add_plugin(Wrapping(), "wrapping")
    assert ("register_models", ["logistic"]) in calls  # one plugin's implementation per call
    assert ("register_datasets", ["mnist_data"]) in calls
    assert catalog.registries["models"].names("*") == [
        "before",
        "bn_cnn",
        "inner",
        "lenet5",
        "logistic",
        "logistic_scratch",
        "mlp",
        "sequential_cnn",
    ]
    assert catalog.pm.is_blocked("cnn") and catalog.plugins["cnn"].status == "disabled"
    assert not catalog.pm.has_plugin("cnn") and "zoo_cnn" not in {
        type(p).__module__ for p in catalog.pm.get_plugins()
    }
    distributions = {
        dist.project_name: dist.version for _, dist in catalog.pm.list_plugin_distinfo()
    }
    assert distributions["zoo-logistic"] == "0.1.0" and "zoo-cnn" not in distributions
    assert catalog.plugins["logistic"].source == "zoo-logistic 0.1.0"


def test_a_plugin_may_register_thousands_of_names():
    """A plugin wrapping a large library registers thousands of models: every name is checked
    for duplicates against a set, so this takes milliseconds (benchmarks/registry.py times it)."""

    class Many:
        @zoo.hookimpl
        def register_models(self, register):
            for i in range(20_000):
                register(f"model_{i:05d}", factory)

        @zoo.hookimpl
        def register_layers(self, register):
            register("twice", factory)
            register("twice", factory)

    def factory(num_classes=10):
        """One of many."""

    with pytest.warns(PluginWarning, match="layer 'twice' registered twice"):
        catalog = load_catalog([("many", Many())], entry_points=False, builtins=False)
    assert catalog.plugins["many"].status == "failed"  # all or nothing: no half a plugin
    assert len(catalog.registries["models"]) == 0

    class Fine(Many):
        register_layers = None

    catalog = load_catalog([("many", Fine())], entry_points=False, builtins=False)
    names = catalog.registries["models"].names()
    assert len(names) == 20_000 and names[:2] == ["model_00000", "model_00001"]
    assert catalog.registries["models"].names("model_1999*")[-1] == "model_19999"
