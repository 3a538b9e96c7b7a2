"""``zoo new-plugin NAME``: a ready-to-install plugin distribution, ``zoo-NAME``: a model,
dataset, optimizer, scheduler or callback to start from (``--kind``), or (``--from-run``) a run's
best weights and their card, to publish."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .hookspecs import HOOKSPEC_VERSION
from .plugins.cards import TAG

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "zoo-{dashed}"
version = "0.1.0"
description = "A zoo plugin: {description}."
readme = "README.md"
requires-python = ">=3.10"
dependencies = [{dependencies}]

[project.optional-dependencies]
test = ["pytest"]

# This line is the whole link to zoo: the entry point `{name}` in the group `zoo`.
[project.entry-points.zoo]
{name} = "zoo_{name}"

[tool.setuptools]
packages = ["zoo_{name}"]
{package_data}"""

MODULE = '''\
"""zoo plugin zoo-{dashed}: registers the model `{name}`."""

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for


def {name}(num_classes: int = 10, input_shape: tuple = (1, 28, 28), hidden: int = 128):
    """A small MLP: flatten, one hidden ReLU layer, a score per class."""
    import math

    from torch import nn  # import torch when the model is built, not when zoo lists plugins

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


@zoo.hookimpl
def register_models(register):
    register("{name}", {name})
'''

TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins


def test_everything_the_plugin_registers_works():
    assert check_plugin("{name}") == {{"models": ["{name}"]}}


def test_the_model_on_its_own():
    with only_plugins("{name}"):
        assert zoo.list_models() == ["{name}"]
        model = zoo.create_model("{name}", hidden=8)
        assert sum(p.numel() for p in model.parameters()) == 784 * 8 + 8 + 8 * 10 + 10
"""

README = """\
# zoo-{dashed}

A plugin for zoo (the distribution `torch-zoo`) that adds the {kind} `{name}`.

```bash
pip install -e .            # then: zoo list {kinds}  shows {name}
{use}
pip install -e .[test] && python -m pytest
```

The plugin is `zoo_{name}/__init__.py`; `pyproject.toml` links it to zoo with the entry point
`{name} = "zoo_{name}"` in the group `zoo`.
"""


#: ``zoo new-plugin NAME --kind KIND``: the module and the test of each kind (the model's above).
KINDS = ("model", "dataset", "optimizer", "scheduler", "callback")

DATASET_MODULE = """\
\"\"\"zoo plugin zoo-{dashed}: registers the dataset `{name}`.\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for
CLASSES = ("left", "right")


def {name}(samples: int = 1024, seed: int = 0, side: int = 28):
    \"\"\"Two classes of generated pictures: a bar on the left or on the right.\"\"\"
    import torch  # import torch when the data is built, not when zoo lists plugins
    from torch.utils.data import TensorDataset

    generator = torch.Generator().manual_seed(seed)

    def split(n):
        y = torch.randint(0, 2, (n,), generator=generator)
        x = torch.rand(n, side, side, generator=generator) * 0.3
        for i, label in enumerate(y.tolist()):
            column = side // 4 if label == 0 else 3 * side // 4
            x[i, :, column - 1 : column + 1] = 1.0
        return TensorDataset(x.reshape(n, -1), y)  # flat rows, as zoo's models take them

    return zoo.Splits(
        train=split(samples),
        valid=split(samples // 4),
        test=split(samples // 4),
        num_classes=2,
        input_shape=(1, side, side),
        classes=CLASSES,
    )


@zoo.hookimpl
def register_datasets(register):
    register("{name}", {name}, num_classes=2, input_shape=(1, 28, 28), classes=CLASSES)
"""

DATASET_TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins


def test_everything_the_plugin_registers_works():
    assert check_plugin("{name}") == {{"datasets": ["{name}"]}}


def test_the_splits():
    with only_plugins("{name}"):
        splits = zoo.create_dataset("{name}", samples=64)
        assert len(splits.train) == 64 and splits.num_classes == 2
        x, y = splits.train[0]
        assert x.shape == (784,) and int(y) in (0, 1)
"""

OPTIMIZER_MODULE = """\
\"\"\"zoo plugin zoo-{dashed}: registers the optimizer `{name}`.\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for


def {name}(params, lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0):
    \"\"\"SGD with Nesterov momentum.\"\"\"
    import torch  # import torch when the optimizer is built, not when zoo lists plugins

    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )


@zoo.hookimpl
def register_optimizers(register):
    register("{name}", {name})
"""

OPTIMIZER_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins


def test_everything_the_plugin_registers_works():
    assert check_plugin("{name}") == {{"optimizers": ["{name}"]}}


def test_its_options():
    with only_plugins("{name}"):
        optimizer = zoo.create_optimizer("{name}", [torch.nn.Parameter(torch.ones(2))], lr=0.1)
        assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["lr"] == 0.1
"""

SCHEDULER_MODULE = """\
\"\"\"zoo plugin zoo-{dashed}: registers the learning-rate scheduler `{name}`.\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for


def {name}(optimizer, epochs: int, gamma: float = 0.8, floor: float = 0.0):
    \"\"\"Multiply the learning rate by gamma after every epoch, never below floor.\"\"\"
    import torch  # import torch when the scheduler is built, not when zoo lists plugins

    bases = [group["lr"] for group in optimizer.param_groups]
    factors = [lambda epoch, base=base: max(gamma**epoch, floor / base) for base in bases]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


@zoo.hookimpl
def register_schedulers(register):
    # "epoch": zoo steps it after every epoch; "step" would be after every optimizer step
    register("{name}", {name}, interval="epoch")
"""

SCHEDULER_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins


def test_everything_the_plugin_registers_works():
    assert check_plugin("{name}") == {{"schedulers": ["{name}"]}}


def test_the_schedule():
    with only_plugins("{name}") as catalog:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=1.0)
        entry = catalog.registries["schedulers"].get("{name}")
        scheduler = entry.create(optimizer, context={{"epochs": 5}}, gamma=0.5)
        for _ in range(2):
            optimizer.step()
            scheduler.step()
        assert optimizer.param_groups[0]["lr"] == 0.25
"""

CALLBACK_MODULE = """\
\"\"\"zoo plugin zoo-{dashed}: registers the callback `{name}`.\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for


class Target(zoo.Callback):
    \"\"\"Stops the run once monitor reaches target.\"\"\"

    def __init__(self, monitor, target):
        self.monitor, self.target = monitor, target
        self.reached = None  # the epoch that reached it: saved with every checkpoint

    def on_epoch_end(self, trainer, row):
        if row[self.monitor] >= self.target:
            self.reached = row["epoch"]
            reason = f"{{self.monitor}} reached {{self.target}} in epoch {{self.reached}}"
            trainer.stop(f"{name}: {{reason}}")

    def state_dict(self):
        return {{"reached": self.reached}}

    def load_state_dict(self, state):
        self.reached = state["reached"]


def {name}(monitor: str = "val_acc", target: float = 0.99):
    \"\"\"Stop the run once monitor (a number of the metrics rows) reaches target.\"\"\"
    return Target(monitor, target)


@zoo.hookimpl
def register_callbacks(register):
    register("{name}", {name})
"""

CALLBACK_TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins


class Trainer:
    stopped = None

    def stop(self, reason):
        self.stopped = reason


def test_everything_the_plugin_registers_works():
    assert check_plugin("{name}") == {{"callbacks": ["{name}"]}}


def test_it_stops_the_run_at_the_target():
    with only_plugins("{name}") as catalog:
        callback = catalog.registries["callbacks"].get("{name}").create(target=0.9)
        trainer = Trainer()
        callback.on_epoch_end(trainer, {{"epoch": 1, "val_acc": 0.5}})
        assert trainer.stopped is None
        callback.on_epoch_end(trainer, {{"epoch": 2, "val_acc": 0.95}})
        assert "reached 0.9 in epoch 2" in trainer.stopped
        assert callback.state_dict() == {{"reached": 2}}
"""

KIND_FILES = {
    "dataset": (DATASET_MODULE, DATASET_TEST),
    "optimizer": (OPTIMIZER_MODULE, OPTIMIZER_TEST),
    "scheduler": (SCHEDULER_MODULE, SCHEDULER_TEST),
    "callback": (CALLBACK_MODULE, CALLBACK_TEST),
}
KIND_USE = {
    "model": "zoo run {name}              # train it on MNIST with zoo's defaults\n"
    "zoo run {name} --set model.hidden=32",
    "dataset": "zoo run logistic --set dataset.name={name}",
    "optimizer": "zoo run cnn --set optimizer.name={name} --set optimizer.lr=0.1",
    "scheduler": "zoo run cnn --set scheduler.name={name} --set scheduler.gamma=0.7",
    "callback": "zoo run cnn --set 'callbacks=[{{name: {name}, target: 0.95}}]'",
}


#: What a weights plugin's pyproject.toml adds: the files beside its module.
WEIGHTS_PACKAGE_DATA = """
[tool.setuptools.package-data]
zoo_{name} = ["weights/*.json", "weights/*.safetensors"]
"""

WEIGHTS_MODULE = '''\
"""zoo plugin zoo-{dashed}: registers the trained weights {weights} (model {model})."""

from pathlib import Path

import zoo

ZOO_HOOKSPEC_VERSION = {version}  # the zoo hook specs this plugin was written for
WEIGHTS = Path(__file__).parent / "weights"


@zoo.hookimpl
def register_weights(register):
    for card in sorted(WEIGHTS.glob("*.json")):  # {weights}.json: file, sha256, metrics, recipe
        register(card.stem, card)
'''

WEIGHTS_TEST = """\
import zoo
from zoo.testing import only_plugins


def test_the_weights_load_and_match_their_card():
    with only_plugins("{name}", "{model_plugin}"):
        assert "{weights}" in zoo.list_weights()
        card = zoo.get_weights("{weights}")
        model = zoo.create_model("{weights}")
        assert not model.training
        assert card.model == "{model}"
"""

WEIGHTS_README = """\
# zoo-{dashed}

A plugin for zoo (the distribution `torch-zoo`) that ships the trained weights `{weights}`:
the model `{model}` trained on `{dataset}` ({metrics}).

```bash
pip install .               # then: zoo list weights  shows {weights}
zoo show {weights}          # the card: metrics, recipe, sha256
zoo predict {weights} digit.png
zoo reproduce {weights}     # train the recorded recipe again and compare
```

The weights and their card are in `zoo_{name}/weights/`; the model itself comes from the
plugin that registers `{model}`.
"""


def target(name: str, folder: Path | None = None) -> Path:
    """The folder ``zoo-NAME`` will be written to, once ``name`` and the folder are checked."""
    if not NAME.match(name):
        raise ConfigError(
            f"plugin name '{name}': use lowercase letters, digits and _, "
            "starting with a letter (it becomes the module zoo_NAME)"
        )
    folder = Path(folder) if folder is not None else Path(f"zoo-{name.replace('_', '-')}")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another --dir")
    return folder


def new_plugin(
    name: str,
    folder: Path | None = None,
    *,
    kind: str = "model",
    card: Callable[[Path], Path] | None = None,
    weights: str | None = None,
    model: str | None = None,
    model_plugin: str = "",
    model_distribution: str | None = None,
    metrics: str = "",
    dataset: str = "",
) -> Path:
    """Write the distribution ``zoo-NAME`` into ``folder`` (default ``./zoo-NAME``): a working,
    tested template of one ``kind`` (model, dataset, optimizer, scheduler, callback), or with
    ``card`` (a function writing the weights and their card into the folder it
    is given) a plugin that registers the trained ``weights`` of ``model``."""
    folder = target(name, folder)
    dashed = name.replace("_", "-")
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind}: expected one of {', '.join(KINDS)}")
    values = {"name": name, "dashed": dashed, "version": HOOKSPEC_VERSION, "kind": kind}
    values |= {"description": f"the {kind} {name}", "dependencies": '"torch-zoo"'}
    values["package_data"] = ""
    values["kinds"] = f"{kind}s"
    values["use"] = KIND_USE[kind].format(name=name)
    module, test = KIND_FILES.get(kind, (MODULE, TEST))
    files = {
        "pyproject.toml": PYPROJECT,
        f"zoo_{name}/__init__.py": module,
        f"tests/test_{name}.py": test,
        "README.md": README,
    }
    if card is not None:
        needs = ["torch-zoo"]
        if model_distribution and model_distribution not in needs:
            needs.append(model_distribution)
        values |= {
            "weights": weights,
            "model": model,
            "model_plugin": model_plugin,
            "dataset": dataset,
            "metrics": metrics,
            "description": f"the trained weights {weights}",
            "dependencies": ", ".join(f'"{n}"' for n in needs),
            "package_data": WEIGHTS_PACKAGE_DATA.format(name=name),
        }
        files = {
            "pyproject.toml": PYPROJECT,
            f"zoo_{name}/__init__.py": WEIGHTS_MODULE,
            f"tests/test_{name}.py": WEIGHTS_TEST,
            "README.md": WEIGHTS_README,
        }
    created = not folder.exists()
    try:
        if card is not None:
            card(folder / f"zoo_{name}" / "weights")
        for relative, template in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(template.format(**values), encoding="utf-8")
    except BaseException:  # the folder was new or empty: everything in it is ours to take back
        for written in [folder] if created else list(folder.iterdir()):
            if written.is_dir():
                shutil.rmtree(written, ignore_errors=True)
            else:
                written.unlink(missing_ok=True)
        raise
    return folder


def weights_plugin(
    name: str,
    run_dir: Path,
    folder: Path | None,
    tag: str | None,
    test: dict[str, Any] | None,
    model_entry: Any,
) -> tuple[Path, str]:
    """``zoo new-plugin NAME --from-run RUN_DIR``: the distribution ``zoo-NAME`` carrying the
    run's best weights as ``MODEL.TAG`` (``tag`` defaults to the run's dataset) and their card,
    with the ``test`` split's loss and accuracy when measured. Returns (folder, weights name)."""
    from .runs import directory
    from .runs.weights import write_card

    run_dir = Path(run_dir)
    info = directory.read_model_info(run_dir)
    tag = tag or str(info.get("dataset") or "trained")
    if not TAG.match(tag):
        raise ConfigError(f"--tag {tag}: use letters, digits, _ and - (e.g. mnist)")
    weights = f"{info['model']}.{tag}"
    rows = directory.read_metrics(run_dir)
    best = min(rows, key=lambda row: row["val_loss"]) if rows else None
    shown = f"best val accuracy {best['val_acc']:.2%}" if best else "no finished epoch"
    if test is not None:
        shown += f", test accuracy {test['acc']:.2%}"
    written = new_plugin(
        name,
        folder,
        card=lambda into: write_card(run_dir, weights, into, test),
        weights=weights,
        model=info["model"],
        model_plugin=model_entry.plugin,
        model_distribution=model_entry.distribution,
        metrics=shown,
        dataset=str(info.get("dataset")),
    )
    return written, weights
