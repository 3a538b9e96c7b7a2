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
    Cached,
    Listed,
    Reproduction,
    RunSummary,
    cached_files,
    create_callback,
    create_dataset,
    create_layer,
    create_loss,
    create_metric,
    create_model,
    create_optimizer,
    create_scheduler,
    evaluate,
    export,
    get,
    get_dataset,
    get_layer,
    get_model,
    get_optimizer,
    get_weights,
    list_callbacks,
    list_datasets,
    list_layers,
    list_losses,
    list_metrics,
    list_models,
    list_optimizers,
    list_plugins,
    list_runs,
    list_schedulers,
    list_weights,
    listing,
    load_run,
    open_run,
    plot,
    predict,
    remove_cached,
    reproduce,
    resolve,
    resume,
    sweep,
    train,
)
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
    "HOOKSPEC_VERSION",
    "AmbiguousNameError",
    "Cached",
    "Callback",
    "ConfigError",
    "DataError",
    "DataWarning",
    "Entry",
    "Interrupted",
    "Listed",
    "Metric",
    "Part",
    "PluginError",
    "Reproduction",
    "Run",
    "RunConfig",
    "RunSummary",
    "Splits",
    "UnknownNameError",
    "ZooError",
    "cached_files",
    "create_callback",
    "create_dataset",
    "create_layer",
    "create_loss",
    "create_metric",
    "create_model",
    "create_optimizer",
    "create_scheduler",
    "evaluate",
    "export",
    "get",
    "get_dataset",
    "get_layer",
    "get_model",
    "get_optimizer",
    "get_weights",
    "hookimpl",
    "hookspec",
    "list_callbacks",
    "list_datasets",
    "list_layers",
    "list_losses",
    "list_metrics",
    "list_models",
    "list_optimizers",
    "list_plugins",
    "list_schedulers",
    "list_weights",
    "listing",
    "load_run",
    "open_run",
    "plot",
    "predict",
    "remove_cached",
    "reproduce",
    "resolve",
    "resume",
    "list_runs",
    "sweep",
    "train",
    "zoo_home",
]
