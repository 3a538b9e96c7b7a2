"""zoo: a plugin-based model zoo for PyTorch.

    >>> import zoo
    >>> zoo.list_models("*cnn*")
    ['cnn', 'sequential_cnn']
    >>> model = zoo.create_model("cnn")
    >>> run = zoo.train("logistic", epochs=1)   # run.dir, run.history, run.model

This package is the public facade; its modules import nothing from here (see the layers in
pyproject.toml). Importing zoo imports neither the plugins nor torch.
"""

from __future__ import annotations

from .api import (
    create_dataset,
    create_layer,
    create_model,
    create_optimizer,
    evaluate,
    export,
    get_dataset,
    get_layer,
    get_model,
    get_optimizer,
    get_weights,
    list_datasets,
    list_layers,
    list_models,
    list_optimizers,
    list_plugins,
    list_weights,
    load_run,
    open_run,
    predict,
    reproduce,
    resolve,
    resume,
    sweep,
    train,
)
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
    "HOOKSPEC_VERSION",
    "AmbiguousNameError",
    "Callback",
    "ConfigError",
    "DataError",
    "DataWarning",
    "Entry",
    "Interrupted",
    "Metric",
    "PluginError",
    "Run",
    "Splits",
    "UnknownNameError",
    "ZooError",
    "create_dataset",
    "create_layer",
    "create_model",
    "create_optimizer",
    "evaluate",
    "export",
    "get_dataset",
    "get_layer",
    "get_model",
    "get_optimizer",
    "get_weights",
    "hookimpl",
    "hookspec",
    "list_datasets",
    "list_layers",
    "list_models",
    "list_optimizers",
    "list_plugins",
    "list_weights",
    "load_run",
    "open_run",
    "predict",
    "reproduce",
    "resolve",
    "resume",
    "sweep",
    "train",
    "zoo_home",
]
