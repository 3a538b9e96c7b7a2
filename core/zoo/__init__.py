"""zoo: a plugin-based model zoo for PyTorch.

    >>> import zoo
    >>> zoo.list_models("*cnn*")
    ['cnn', 'sequential_cnn']
    >>> model = zoo.create_model("cnn")

Importing zoo does not import torch; plugins load on the first lookup.
"""

from __future__ import annotations

from .api import (
    create_dataset,
    create_layer,
    create_model,
    create_optimizer,
    get_dataset,
    get_layer,
    get_model,
    get_optimizer,
    list_datasets,
    list_layers,
    list_models,
    list_optimizers,
    list_plugins,
    load_run,
)
from .data import Splits, zoo_home
from .errors import (
    AmbiguousNameError,
    ConfigError,
    DataError,
    PluginError,
    UnknownNameError,
    ZooError,
)
from .hookspecs import HOOKSPEC_VERSION, hookimpl, hookspec
from .registry import Entry

__version__ = "0.1.0"

__all__ = [
    "HOOKSPEC_VERSION",
    "AmbiguousNameError",
    "ConfigError",
    "DataError",
    "Entry",
    "PluginError",
    "Splits",
    "UnknownNameError",
    "ZooError",
    "create_dataset",
    "create_layer",
    "create_model",
    "create_optimizer",
    "get_dataset",
    "get_layer",
    "get_model",
    "get_optimizer",
    "hookimpl",
    "hookspec",
    "list_datasets",
    "list_layers",
    "list_models",
    "list_optimizers",
    "list_plugins",
    "load_run",
    "zoo_home",
]
