"""``zoo new-plugin NAME``: a ready-to-install plugin distribution, ``zoo-NAME``: a model to
start from, or (``--from-run``) a run's best weights and their card, to publish."""

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
description = "A zoo plugin: the model {name}."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["torch-zoo"]

[project.optional-dependencies]
test = ["pytest"]

# This line is the whole link to zoo: the entry point `{name}` in the group `zoo`.
[project.entry-points.zoo]
{name} = "zoo_{name}"

[tool.setuptools]
packages = ["zoo_{name}"]
"""

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

A plugin for zoo (the distribution `torch-zoo`) that adds the model `{name}`, a small MLP.

```bash
pip install -e .            # then: zoo list models  shows {name}
zoo run {name}              # train it on MNIST with zoo's defaults
zoo run {name} --set model.hidden=32
pip install -e .[test] && python -m pytest
```

The plugin is `zoo_{name}/__init__.py`; `pyproject.toml` links it to zoo with the entry point
`{name} = "zoo_{name}"` in the group `zoo`.
"""


WEIGHTS_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "zoo-{dashed}"
version = "0.1.0"
description = "A zoo plugin: the trained weights {weights}."
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
    card: Callable[[Path], Path] | None = None,
    weights: str | None = None,
    model: str | None = None,
    model_plugin: str = "",
    model_distribution: str | None = None,
    metrics: str = "",
    dataset: str = "",
) -> Path:
    """Write the distribution ``zoo-NAME`` into ``folder`` (default ``./zoo-NAME``): a model
    template, or with ``card`` (a function writing the weights and their card into the folder it
    is given) a plugin that registers the trained ``weights`` of ``model``."""
    folder = target(name, folder)
    dashed = name.replace("_", "-")
    values = {"name": name, "dashed": dashed, "version": HOOKSPEC_VERSION}
    files = {
        "pyproject.toml": PYPROJECT,
        f"zoo_{name}/__init__.py": MODULE,
        f"tests/test_{name}.py": TEST,
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
            "dependencies": ", ".join(f'"{n}"' for n in needs),
        }
        files = {
            "pyproject.toml": WEIGHTS_PYPROJECT,
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
