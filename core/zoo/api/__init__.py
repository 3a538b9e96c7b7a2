"""The public Python API, the one the ``zoo`` command itself is built on (the CLI calls nothing
else): ``catalog`` (what zoo knows: list, get and create for every kind), ``training`` (resolve,
train, resume, reproduce, sweep), ``trained`` (evaluate, predict, export; the runs on disk) and
``cache`` (the download cache).

The catalog (the installed plugins and the models of the config file in use) is loaded on the
first call, not at ``import zoo``; torch is imported when a model is built or a run trains, never
to list or to check a config. Lower layers are handed what they need from here; none imports it.
"""

from __future__ import annotations

from .cache import Cached, cached_files, remove_cached
from .catalog import (
    Listed,
    create_callback,
    create_dataset,
    create_layer,
    create_loss,
    create_metric,
    create_model,
    create_optimizer,
    create_scheduler,
    current,
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
    list_schedulers,
    list_weights,
    listing,
    reset,
    using,
)
from .trained import (
    RunSummary,
    evaluate,
    export,
    list_runs,
    load_run,
    open_run,
    plot,
    predict,
)
from .training import Reproduction, reproduce, resolve, resume, sweep, train

__all__ = [
    "Cached",
    "cached_files",
    "remove_cached",
    "Listed",
    "Reproduction",
    "RunSummary",
    "create_callback",
    "create_dataset",
    "create_layer",
    "create_loss",
    "create_metric",
    "create_model",
    "create_optimizer",
    "create_scheduler",
    "current",
    "evaluate",
    "export",
    "get",
    "get_dataset",
    "get_layer",
    "get_model",
    "get_optimizer",
    "get_weights",
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
    "reproduce",
    "reset",
    "resolve",
    "resume",
    "list_runs",
    "sweep",
    "train",
    "using",
]
