"""The public Python API, the one the ``zoo`` command itself is built on (the CLI calls nothing
else): ``catalog`` (what zoo knows: list, get and create for every kind), ``training`` (resolve,
train, resume, reproduce), ``tuning`` (tune and sweep: searches on Optuna), ``trained``
(evaluate, predict, export; the runs on disk) and ``cache`` (the download cache).

The catalog (the installed plugins and the models of the config file in use) is loaded on the
first call, not at ``import zoo``; torch is imported when a model is built or a run trains, never
to list or to check a config. Lower layers are handed what they need from here; none imports it.
"""

from __future__ import annotations

from ..plugins.cards import register_cards
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
    create_transform,
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
    list_transforms,
    list_weights,
    listing,
)
from .catalog import (
    current as current,
)
from .catalog import (
    reset as reset,
)
from .catalog import (
    using as using,
)
from .results import FORMATS as FORMATS
from .results import Result, format_results, results
from .trained import (
    Published,
    RunSummary,
    confusion_matrices,
    evaluate,
    export,
    list_runs,
    load_run,
    open_run,
    plot,
    predict,
    publish,
    run_summary,
    show_samples,
)
from .training import LRFind, Reproduction, lr_find, reproduce, resolve, resume, train
from .tuning import join_study, list_studies, sweep, tune, tune_status

#: The public names, the ones ``zoo`` itself offers (its facade takes them from here, so they are
#: written once). ``current``, ``using`` and ``reset`` (the process's catalog, for tools and
#: tests) and ``FORMATS`` (the results table's) stay here as ``zoo.api.current`` and so on.
__all__ = [
    "Cached",
    "cached_files",
    "confusion_matrices",
    "create_callback",
    "create_dataset",
    "create_layer",
    "create_loss",
    "create_metric",
    "create_model",
    "create_optimizer",
    "create_scheduler",
    "create_transform",
    "evaluate",
    "export",
    "format_results",
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
    "list_runs",
    "list_schedulers",
    "list_transforms",
    "list_weights",
    "Listed",
    "listing",
    "load_run",
    "lr_find",
    "LRFind",
    "open_run",
    "plot",
    "predict",
    "publish",
    "Published",
    "register_cards",
    "remove_cached",
    "reproduce",
    "Reproduction",
    "resolve",
    "Result",
    "results",
    "resume",
    "run_summary",
    "RunSummary",
    "show_samples",
    "sweep",
    "tune",
    "tune_status",
    "join_study",
    "list_studies",
    "train",
]
