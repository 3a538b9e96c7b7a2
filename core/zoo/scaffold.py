"""``zoo new-plugin NAME``: a ready-to-install plugin distribution, ``zoo-NAME``: a model,
dataset, optimizer, scheduler or callback to start from (``--kind``), or (``--from-run``) a run's
best weights and their card, to publish."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, ZooError
from .files import check_name
from .hookspecs import HOOKSPEC_VERSION
from .plugins.cards import TAG
from .plugins.registry import plural
from .text import printable, shown

#: A plugin's name becomes a distribution ``zoo-NAME``, a module ``zoo_NAME`` and an entry point:
#: lowercase letters, digits and ``_`` (matched whole: a trailing newline is not a name).
NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
#: A distribution a generated plugin may depend on (PEP 508's name).
DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")

# The templates below are filled with values only as quoted literals: ``{name!r}`` in Python (a
# ``repr``), ``{..._toml}`` in TOML (a JSON string, which TOML reads alike), never as code or as
# an identifier. The functions they define have fixed names, so no plugin name can shadow zoo,
# ``register`` or a keyword.

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = {distribution_toml}
version = "0.1.0"
description = {description_toml}
readme = "README.md"
requires-python = ">=3.10"
dependencies = {dependencies_toml}

[project.optional-dependencies]
test = ["pytest"]

# This line is the whole link to zoo: the entry point `{name}` in the group `zoo`.
[project.entry-points.zoo]
{name} = {module_toml}

[tool.setuptools]
packages = [{module_toml}]
{package_data}"""

MODULE = '''\
"""A zoo plugin: registers one model (its name is NAME below)."""

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


def model(num_classes: int = 10, input_shape: tuple = (1, 28, 28), hidden: int = 128):
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
    register(NAME, model)
'''

TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"models": [NAME]}}


def test_the_model_on_its_own():
    with only_plugins(NAME):
        assert zoo.list_models() == [NAME]
        model = zoo.create_model(NAME, hidden=8)
        assert sum(p.numel() for p in model.parameters()) == 784 * 8 + 8 + 8 * 10 + 10
"""

README = """\
# {distribution}

A plugin for zoo (the distribution `torch-zoo`) that adds the {kind} `{name}`.

```bash
pip install -e .            # then: zoo list {kinds}  shows {name}
{use}
pip install -e .[test] && python -m pytest
```

The plugin is `{module}/__init__.py`; `pyproject.toml` links it to zoo with the entry point
`{name} = "{module}"` in the group `zoo`.
"""


#: ``zoo new-plugin NAME --kind KIND``: the module and the test of each kind (the model's above).
PLUGIN_KINDS = (
    "model",
    "dataset",
    "optimizer",
    "scheduler",
    "callback",
    "metric",
    "loss",
    "transform",
)

DATASET_MODULE = """\
\"\"\"A zoo plugin: registers one dataset (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}
CLASSES = ("left", "right")


def dataset(samples: int = 1024, seed: int = 0, side: int = 28):
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
    register(NAME, dataset, num_classes=2, input_shape=(1, 28, 28), classes=CLASSES)
"""

DATASET_TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"datasets": [NAME]}}


def test_the_splits():
    with only_plugins(NAME):
        splits = zoo.create_dataset(NAME, samples=64)
        assert len(splits.train) == 64 and splits.num_classes == 2
        x, y = splits.train[0]
        assert x.shape == (784,) and int(y) in (0, 1)
"""

OPTIMIZER_MODULE = """\
\"\"\"A zoo plugin: registers one optimizer (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


def optimizer(params, lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0):
    \"\"\"SGD with Nesterov momentum.\"\"\"
    import torch  # import torch when the optimizer is built, not when zoo lists plugins

    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )


@zoo.hookimpl
def register_optimizers(register):
    register(NAME, optimizer)
"""

OPTIMIZER_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"optimizers": [NAME]}}


def test_its_options():
    with only_plugins(NAME):
        optimizer = zoo.create_optimizer(NAME, [torch.nn.Parameter(torch.ones(2))], lr=0.1)
        assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["lr"] == 0.1
"""

SCHEDULER_MODULE = """\
\"\"\"A zoo plugin: registers one learning-rate scheduler (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


def scheduler(optimizer, epochs: int, gamma: float = 0.8, floor: float = 0.0):
    \"\"\"Multiply the learning rate by gamma after every epoch, never below floor.\"\"\"
    import torch  # import torch when the scheduler is built, not when zoo lists plugins

    if not 0 < gamma <= 1 or floor < 0:  # a wrong option is one line, not a wrong run
        raise ValueError(f"gamma must be in (0, 1] and floor at least 0, not {{gamma}}, {{floor}}")
    bases = [group["lr"] for group in optimizer.param_groups]
    factors = [lambda epoch, base=base: max(gamma**epoch, floor / base) for base in bases]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


@zoo.hookimpl
def register_schedulers(register):
    # "epoch": zoo steps it after every epoch; "step" would be after every optimizer step
    register(NAME, scheduler, interval="epoch")
"""

SCHEDULER_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"schedulers": [NAME]}}


def test_the_schedule():
    with only_plugins(NAME):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=1.0)
        scheduler = zoo.create_scheduler(NAME, optimizer, epochs=5, gamma=0.5)
        for _ in range(2):
            optimizer.step()
            scheduler.step()
        assert optimizer.param_groups[0]["lr"] == 0.25
"""

CALLBACK_MODULE = """\
\"\"\"A zoo plugin: registers one callback (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


class Target(zoo.Callback):
    \"\"\"Stops the run once monitor reaches target.\"\"\"

    def __init__(self, monitor, target):
        self.monitor, self.target = monitor, target
        self.reached = None  # the epoch that reached it: saved with every checkpoint

    def on_epoch_end(self, trainer, row):
        if row[self.monitor] >= self.target:
            self.reached = row["epoch"]
            reason = f"{{self.monitor}} reached {{self.target}} in epoch {{self.reached}}"
            trainer.stop(f"{{NAME}}: {{reason}}")

    def state_dict(self):
        return {{"reached": self.reached}}

    def load_state_dict(self, state):
        self.reached = state["reached"]


def callback(monitor: str = "val_acc", target: float = 0.99):
    \"\"\"Stop the run once monitor (a number of the metrics rows) reaches target.\"\"\"
    return Target(monitor, target)


@zoo.hookimpl
def register_callbacks(register):
    register(NAME, callback)
"""

CALLBACK_TEST = """\
import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


class Trainer:
    stopped = None

    def stop(self, reason):
        self.stopped = reason


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"callbacks": [NAME]}}


def test_it_stops_the_run_at_the_target():
    with only_plugins(NAME):
        callback = zoo.create_callback(NAME, target=0.9)
        trainer = Trainer()
        callback.on_epoch_end(trainer, {{"epoch": 1, "val_acc": 0.5}})
        assert trainer.stopped is None
        callback.on_epoch_end(trainer, {{"epoch": 2, "val_acc": 0.95}})
        assert "reached 0.9 in epoch 2" in trainer.stopped
        assert callback.state_dict() == {{"reached": 2}}
"""

TRANSFORM_MODULE = """\
\"\"\"A zoo plugin: registers one batch transform, an augmentation (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


def transform(sigma: float = 0.1, p: float = 0.5):
    \"\"\"Gaussian noise of standard deviation sigma on each image, with probability p.\"\"\"
    if not 0.0 <= sigma <= 10.0 or not 0.0 <= p <= 1.0:
        raise ValueError("sigma must be in [0, 10] and p in [0, 1]")

    def noisy(images, generator):
        # images: a training batch [N, C, H, W] on its device; every random number comes from
        # generator (the run's own, saved in each checkpoint: resume stays exact)
        import torch

        n = len(images)
        noise = torch.randn(images.shape, generator=generator, device=images.device)
        chosen = torch.rand(n, generator=generator, device=images.device) < p
        return images + sigma * noise * chosen.view(n, 1, 1, 1)

    return noisy


@zoo.hookimpl
def register_transforms(register):
    register(NAME, transform)
"""

TRANSFORM_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"transforms": [NAME]}}


def test_it_keeps_the_shape_and_draws_only_from_the_generator():
    with only_plugins(NAME):
        transform = zoo.create_transform(NAME, p=1.0)
        images = torch.rand(4, 1, 28, 28)
        first = transform(images, torch.Generator().manual_seed(0))
        again = transform(images, torch.Generator().manual_seed(0))
        assert first.shape == images.shape and torch.equal(first, again)
        assert not torch.equal(first, images)
"""

METRIC_MODULE = """\
\"\"\"A zoo plugin: registers one metric (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


class Error(zoo.Metric):
    \"\"\"The share of samples whose highest score is not the true class.\"\"\"

    key = "error"  # the metrics rows get val_error (default: the registered name)

    def reset(self):
        self.counts = None

    def update(self, outputs, targets):
        import torch

        wrong = (outputs.argmax(dim=1) != targets).sum()
        seen = torch.stack([wrong, wrong.new_tensor(len(targets))])
        self.counts = seen if self.counts is None else self.counts + seen

    def states(self):  # summed over the processes of a distributed run
        return [self.counts] if self.counts is not None else []

    def compute(self):
        wrong, seen = self.counts.tolist()
        return round(wrong / seen, 6) if seen else float("nan")


def metric():
    \"\"\"The share of samples the model gets wrong (1 - accuracy).\"\"\"
    return Error()


@zoo.hookimpl
def register_metrics(register):
    register(NAME, metric)
"""

METRIC_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"metrics": [NAME]}}


def test_it_counts_the_mistakes():
    with only_plugins(NAME):
        metric = zoo.create_metric(NAME, num_classes=3)
        metric.reset()
        scores = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
        metric.update(scores, torch.tensor([0, 1, 0]))
        assert metric.compute() == round(1 / 3, 6)
"""

LOSS_MODULE = """\
\"\"\"A zoo plugin: registers one loss (its name is NAME below).\"\"\"

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
NAME = {name!r}


def loss(num_classes: int = 10, gamma: float = 2.0):
    \"\"\"Focal loss: cross-entropy that weighs the examples the model gets wrong more.\"\"\"
    import torch
    import torch.nn.functional as F

    if gamma < 0:  # a wrong option is one line, not a wrong run
        raise ValueError(f"gamma must be at least 0, not {{gamma}}")

    class Focal(torch.nn.Module):
        def forward(self, scores, targets):
            log_p = F.log_softmax(scores.float(), dim=1).gather(1, targets[:, None])[:, 0]
            return (-((1 - log_p.exp()) ** gamma) * log_p).mean()

    return Focal()


@zoo.hookimpl
def register_losses(register):
    register(NAME, loss)
"""

LOSS_TEST = """\
import torch

import zoo
from zoo.testing import check_plugin, only_plugins

NAME = {name!r}


def test_everything_the_plugin_registers_works():
    assert check_plugin(NAME) == {{"losses": [NAME]}}


def test_gamma_0_is_cross_entropy():
    with only_plugins(NAME):
        loss = zoo.create_loss(NAME, num_classes=3, gamma=0.0)
        scores, targets = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
        expected = torch.nn.functional.cross_entropy(scores, targets)
        assert torch.allclose(loss(scores, targets), expected)
"""

KIND_FILES = {
    "dataset": (DATASET_MODULE, DATASET_TEST),
    "metric": (METRIC_MODULE, METRIC_TEST),
    "loss": (LOSS_MODULE, LOSS_TEST),
    "optimizer": (OPTIMIZER_MODULE, OPTIMIZER_TEST),
    "scheduler": (SCHEDULER_MODULE, SCHEDULER_TEST),
    "callback": (CALLBACK_MODULE, CALLBACK_TEST),
    "transform": (TRANSFORM_MODULE, TRANSFORM_TEST),
}
KIND_USE = {
    "model": "zoo run {name}              # train it on MNIST with zoo's defaults\n"
    "zoo run {name} --set model.hidden=32",
    "dataset": "zoo run logistic --set dataset.name={name}",
    "optimizer": "zoo run cnn --set optimizer.name={name} --set optimizer.lr=0.1",
    "scheduler": "zoo run cnn --set scheduler.name={name} --set scheduler.gamma=0.7",
    "callback": "zoo run cnn --set 'callbacks=[{{name: {name}, target: 0.95}}]'",
    "metric": "zoo run cnn --set 'metrics=[{name}]'",
    "loss": "zoo run cnn --set loss.name={name} --set loss.gamma=1.0",
    "transform": "zoo run cnn --set 'augment=[{{name: {name}, sigma: 0.2}}]'",
}


#: What a weights plugin's pyproject.toml adds: the files beside its module.
WEIGHTS_PACKAGE_DATA = """
[tool.setuptools.package-data]
{module} = ["weights/*.json", "weights/*.safetensors"]
"""

# A weights plugin holds no value of the run in its code: the module registers every card it
# finds beside it and the test reads the names from the cards (data read at run time, checked as
# any card is).
WEIGHTS_MODULE = '''\
"""A zoo plugin: registers the trained weights whose cards are in weights/ (MODEL.TAG.json)."""

from pathlib import Path

import zoo

ZOO_HOOKSPEC_VERSION = {version!r}  # the zoo hook specs this plugin was written for
WEIGHTS = Path(__file__).parent / "weights"


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)  # each card: file, sha256, metrics, recipe
'''

WEIGHTS_TEST = """\
import importlib
import json
from pathlib import Path

import zoo
from zoo.testing import only_plugins

NAME = {name!r}


def test_the_weights_load_and_match_their_card():
    folder = Path(importlib.import_module("zoo_" + NAME).__file__).parent / "weights"
    cards = sorted(folder.glob("*.json"))
    assert cards, f"no card in {{folder}}"
    for path in cards:
        card = json.loads(path.read_text(encoding="utf-8"))
        with only_plugins(NAME, zoo.get_model(card["model"]).plugin):
            assert path.stem in zoo.list_weights()
            assert zoo.get_weights(path.stem).model == card["model"]
            assert not zoo.create_model(path.stem).training
"""

WEIGHTS_README = """\
# {distribution}

A plugin for zoo (the distribution `torch-zoo`) that ships the trained weights `{weights}`:
the model `{model}` trained on `{dataset}` ({metrics}).

```bash
pip install .               # then: zoo list weights  shows {weights}
zoo show {weights}          # the card: metrics, recipe, sha256
zoo predict {weights} digit.png
zoo reproduce {weights}     # train the recorded recipe again and compare
```

The weights and their card are in `{module}/weights/`; the model itself comes from the
plugin that registers `{model}`.
"""


def target(name: str, folder: Path | None = None) -> Path:
    """The folder ``zoo-NAME`` will be written to, once ``name`` and the folder are checked."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(
            f"plugin name {shown(name)}: use lowercase letters, digits and _, starting with a "
            "letter, at most 50 (it becomes the module zoo_NAME)"
        )
    folder = Path(folder) if folder is not None else Path(f"zoo-{name.replace('_', '-')}")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another --dir")
    return folder


def _toml(value: Any) -> str:
    """A TOML value written as JSON: strings and lists of strings read the same in both."""
    return json.dumps(value)


def new_plugin(
    name: str,
    folder: Path | None = None,
    *,
    kind: str = "model",
    card: Callable[[Path], Path] | None = None,
    weights: str | None = None,
    model: str | None = None,
    model_distribution: str | None = None,
    metrics: str = "",
    dataset: str = "",
) -> Path:
    """Write the distribution ``zoo-NAME`` into ``folder`` (default ``./zoo-NAME``): a working,
    tested template of one ``kind`` (model, dataset, optimizer, scheduler, callback), or with
    ``card`` (a function writing the weights and their card into the folder it
    is given) a plugin that registers the trained ``weights`` of ``model``."""
    folder = target(name, folder)
    if kind not in PLUGIN_KINDS:
        raise ConfigError(f"--kind {kind}: expected one of {', '.join(PLUGIN_KINDS)}")
    distribution, module = f"zoo-{name.replace('_', '-')}", f"zoo_{name}"
    needs = ["torch-zoo"]
    if card is not None and model_distribution and model_distribution not in needs:
        if not DISTRIBUTION.fullmatch(model_distribution):
            raise ConfigError(
                f"the model's distribution {shown(model_distribution)} is not a name pip "
                "installs: a weights plugin cannot depend on it"
            )
        needs.append(model_distribution)
    description = (
        f"A zoo plugin: the {kind} {name}."
        if card is None
        else (f"A zoo plugin: the trained weights {weights}.")
    )
    values = {
        "name": name,
        "module": module,
        "distribution": distribution,
        "version": HOOKSPEC_VERSION,
        "kind": kind,
        "kinds": plural(kind),
        "use": KIND_USE[kind].format(name=name),
        "module_toml": _toml(module),
        "distribution_toml": _toml(distribution),
        "description_toml": _toml(description),
        "dependencies_toml": _toml(needs),
        "package_data": "",
    }
    module_text, test = KIND_FILES.get(kind, (MODULE, TEST))
    if card is not None:
        values |= {  # README text only (Markdown, printed safely): the code holds none of these
            "weights": printable(weights),
            "model": printable(model),
            "dataset": printable(dataset),
            "metrics": printable(metrics),
            "package_data": WEIGHTS_PACKAGE_DATA.format(module=module),
        }
        module_text, test = WEIGHTS_MODULE, WEIGHTS_TEST
    readme = WEIGHTS_README if card is not None else README
    written = {
        "pyproject.toml": PYPROJECT.format(**values),
        f"{module}/__init__.py": module_text.format(**values),
        f"tests/test_{name}.py": test.format(**values),
        "README.md": readme.format(**values),
    }
    for relative in ("pyproject.toml", f"{module}/__init__.py", f"tests/test_{name}.py"):
        _check_generated(relative, written[relative], values)
    created = not folder.exists()
    try:
        if card is not None:
            card(folder / module / "weights")
        for relative, text in written.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except BaseException:  # the folder was new or empty: everything in it is ours to take back
        for entry in [folder] if created else list(folder.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        raise
    return folder


def _check_generated(relative: str, text: str, values: dict[str, Any]) -> None:
    """What was generated parses, and holds the values it was given as values: a last guard that
    no input became code (failing it would be zoo's bug, never the user's)."""
    import ast

    if relative.endswith(".py"):
        tree = ast.parse(text)
        names = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "NAME" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        if names not in ([], [values["name"]]):
            raise ZooError(f"zoo generated a broken {relative}: please report this bug")
        return
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library
        return
    project = tomllib.loads(text)["project"]
    read = [
        project["name"],
        json.dumps(project["dependencies"]),
        json.dumps(project["description"]),
    ]
    given = [values["distribution"], values["dependencies_toml"], values["description_toml"]]
    if read != given:
        raise ZooError(f"zoo generated a broken {relative}: please report this bug")


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
    from .plugins.declarative import PLUGIN_NAME
    from .runs.rundir import RunDir
    from .runs.weights import write_card

    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    info = run.model_info
    if model_entry.plugin == PLUGIN_NAME:
        raise ConfigError(
            f"model '{model_entry.name}' is written in {model_entry.distribution}, not in an "
            "installed plugin: a weights plugin needs a model pip can install (make it a plugin "
            "first: zoo new-plugin NAME --kind model)"
        )
    tag = tag if tag is not None else str(info.get("dataset") or "trained")
    if not isinstance(tag, str) or not TAG.fullmatch(tag):
        raise ConfigError(f"--tag {shown(tag)}: use letters, digits, _ and - (e.g. mnist)")
    weights = check_name(f"{model_entry.name}.{tag}", "the weights name")  # bare, never PLUGIN:
    best = run.config.best(run.history())  # by the run's monitor
    metrics = f"best val accuracy {best['val_acc']:.2%}" if best else "no finished epoch"
    if test is not None:
        if not all(math.isfinite(test[k]) for k in ("loss", "acc")):
            raise ZooError(
                f"the test split gives loss {test['loss']} and accuracy {test['acc']}: these "
                "weights are broken (not numbers); nothing was written"
            )
        metrics += f", test accuracy {test['acc']:.2%}"
    written = new_plugin(
        name,
        folder,
        card=lambda into: write_card(run_dir, weights, into, test, model=model_entry.name),
        weights=weights,
        model=model_entry.name,
        model_distribution=model_entry.distribution,
        metrics=metrics,
        dataset=str(info.get("dataset")),
    )
    return written, weights
