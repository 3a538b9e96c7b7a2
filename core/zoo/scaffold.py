"""``zoo new-plugin NAME``: a ready-to-install plugin distribution, ``zoo-NAME``."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ConfigError
from .hookspecs import HOOKSPEC_VERSION

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


def new_plugin(name: str, folder: Path | None = None) -> Path:
    """Write the distribution ``zoo-NAME`` into ``folder`` (default ``./zoo-NAME``)."""
    if not NAME.match(name):
        raise ConfigError(
            f"plugin name '{name}': use lowercase letters, digits and _, "
            "starting with a letter (it becomes the module zoo_NAME)"
        )
    dashed = name.replace("_", "-")
    folder = Path(folder) if folder is not None else Path(f"zoo-{dashed}")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another --dir")
    values = {"name": name, "dashed": dashed, "version": HOOKSPEC_VERSION}
    files = {
        "pyproject.toml": PYPROJECT,
        f"zoo_{name}/__init__.py": MODULE,
        f"tests/test_{name}.py": TEST,
        "README.md": README,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return folder
