"""zoo: a plugin-based model zoo for PyTorch.

    >>> import zoo
    >>> zoo.list_models("*cnn*")
    ['bn_cnn', 'cnn', 'sequential_cnn']
    >>> model = zoo.create_model("cnn")
    >>> run = zoo.train("logistic", epochs=1)   # run.dir, run.history, run.model

This package is the public facade; its modules import nothing from here (see the layers in
pyproject.toml). Importing zoo imports neither the plugins nor torch.
"""

from __future__ import annotations

from .api import *  # noqa: F403 - the public API, every name in zoo.api.__all__
from .api import __all__ as _api_names
from .config import Part, RunConfig
from .errors import (
    AmbiguousNameError,
    ConfigError,
    DataError,
    DataWarning,
    Interrupted,
    PluginError,
    UnknownNameError,
    ZooError,
)
from .files import zoo_home
from .hookspecs import HOOKSPEC_VERSION, Callback, Metric, Splits, hookimpl, hookspec
from .plugins.registry import Entry
from .runs.run import Run

__version__ = "0.1.0"

__all__ = [
    *_api_names,
    "HOOKSPEC_VERSION",
    "AmbiguousNameError",
    "Callback",
    "ConfigError",
    "DataError",
    "DataWarning",
    "Entry",
    "Interrupted",
    "Metric",
    "Part",
    "PluginError",
    "Run",
    "RunConfig",
    "Splits",
    "UnknownNameError",
    "ZooError",
    "hookimpl",
    "hookspec",
    "zoo_home",
]
