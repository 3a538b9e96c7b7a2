"""The public Python API, the one the ``zoo`` command itself is built on:

- what zoo knows: ``list_*``, ``get_*`` and ``create_*`` for models, datasets, optimizers, layers;
- training: ``train(name, ...)`` and ``resume(run_dir, ...)``, each returning a :class:`zoo.Run`;
- trained runs: ``load_run``, ``open_run``, ``evaluate`` and ``predict``.

The catalog (the installed plugins and the models of the config file in use) is loaded on the
first call, not at ``import zoo``; torch is imported when a model is built or a run trains, never
to list or to check a config. Lower layers are handed what they need from here; none imports it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import config as configs
from .errors import ConfigError
from .plugins.manager import Catalog, PluginInfo, PluginWarning, load_catalog
from .plugins.registry import Entry
from .runs.run import Run
from .training import distributed

_lock = threading.Lock()
_current: Catalog | None = None


# --- the catalog ------------------------------------------------------------------------------


def current() -> Catalog:
    """The process-wide catalog: the installed plugins, then the ``models:`` of the config file
    zoo would use from the current folder (built on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = load_catalog()
            try:
                path = configs.find_config()
                _current.use_config(path, configs.load(path)["models"])
            except ConfigError as exc:  # `zoo run` reports a broken file itself; here it warns
                warnings.warn(
                    f"the models of the config file were not loaded: {exc}", PluginWarning, 3
                )
        return _current


@contextlib.contextmanager
def using(catalog: Catalog) -> Iterator[Catalog]:
    """Make ``catalog`` the current one inside the block (tests, tools with their own plugins)."""
    global _current
    with _lock:
        previous, _current = _current, catalog
    try:
        yield catalog
    finally:
        with _lock:
            _current = previous


def reset() -> None:
    """Forget the current catalog; the next lookup loads the plugins again."""
    global _current
    with _lock:
        _current = None


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted model names, optionally filtered by an fnmatch pattern such as ``"*cnn*"``."""
    return current().registries["models"].names(pattern)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Sorted dataset names, optionally filtered by an fnmatch pattern."""
    return current().registries["datasets"].names(pattern)


def list_optimizers(pattern: str | None = None) -> list[str]:
    """Sorted optimizer names, optionally filtered by an fnmatch pattern."""
    return current().registries["optimizers"].names(pattern)


def list_layers(pattern: str | None = None) -> list[str]:
    """Sorted layer names, optionally filtered by an fnmatch pattern."""
    return current().registries["layers"].names(pattern)


def list_plugins() -> list[PluginInfo]:
    """Every plugin zoo tried to load: loaded, failed or disabled, in load order."""
    return list(current().plugins.values())


def get_model(name: str) -> Entry:
    """The registry entry for a model: factory, description, plugin and distribution."""
    return current().registries["models"].get(name)


def get_dataset(name: str) -> Entry:
    """The registry entry for a dataset."""
    return current().registries["datasets"].get(name)


def get_optimizer(name: str) -> Entry:
    """The registry entry for an optimizer."""
    return current().registries["optimizers"].get(name)


def get_layer(name: str) -> Entry:
    """The registry entry for a layer."""
    return current().registries["layers"].get(name)


def create_model(name: str, weights: str | Path | None = None, **options: Any) -> Any:
    """Build the model ``name`` (an ``nn.Module``) with the factory's options; with
    ``weights=RUN_DIR``, the model that run trained, with its last weights, in eval mode."""
    if weights is not None:
        if options:
            raise ConfigError(
                f"create_model('{name}', weights=...) takes the run's options, "
                f"not {sorted(options)}"
            )
        from .runs.trained import load_model

        return load_model(weights, current().registries["models"], expect=name)
    return get_model(name).create(**options)


def create_dataset(name: str, **options: Any) -> Any:
    """Build the dataset ``name``: a :class:`zoo.Splits`."""
    return get_dataset(name).create(**options)


def create_optimizer(name: str, params: Any, **options: Any) -> Any:
    """Build the optimizer ``name`` over ``params``."""
    return get_optimizer(name).create(params, **options)


def create_layer(name: str, *args: Any, **options: Any) -> Any:
    """Build the layer ``name`` (an ``nn.Module`` building block)."""
    return get_layer(name).create(*args, **options)


# --- training ---------------------------------------------------------------------------------


def resolve(
    name: str,
    *,
    config: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The run config ``zoo run NAME`` would use: run ``name`` of the config file (``config``,
    else ``$ZOO_CONFIG``, ``./zoo.yaml`` or a parent's, else zoo's own), or any registered model
    with the defaults; then ``overrides`` (``{"optimizer.lr": 0.1}``, like ``--set``) and
    ``options`` (``epochs``, ``seed``, ``device``, ``amp``: ``None`` leaves them). Every option is
    checked against its factory's signature; nothing is downloaded, torch is not imported."""
    doc = configs.load(configs.find_config(config))
    catalog = current()
    catalog.use_config(doc["path"], doc["models"])  # the models of the file in use
    models = catalog.registries["models"]
    resolved = configs.resolve(
        doc,
        name,
        is_model=models.__contains__,
        models=models.names(),
        overrides=overrides,
        options=options,
    )
    configs.check_options(resolved, catalog.registries)
    return resolved


def train(
    name: str,
    *,
    config: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    amp: bool | str | None = None,
    progress: bool = False,
    verbose: bool = False,
    keep_last: int = 1,
    nproc_per_node: int = 1,
) -> Run:
    """Train ``name`` (a run of the config file, or any registered model) and return the
    :class:`zoo.Run`: ``.dir``, ``.history`` (metrics.jsonl's rows) and ``.model``.

    ``overrides`` maps dotted keys to values like ``--set`` (``{"dataset.path": "mnist.pkl.gz"}``);
    ``out`` is the run directory (new or empty; default ``runs/NAME/YYYYmmdd-HHMMSS``);
    ``verbose`` prints what ``zoo run`` prints, ``progress`` adds a live bar per epoch;
    ``nproc_per_node`` > 1 trains in that many processes through torchrun. Mistakes raise
    :class:`zoo.ZooError` before any data is loaded.
    """
    run_config = resolve(
        name, config=config, overrides=overrides, epochs=epochs, seed=seed, device=device, amp=amp
    )
    from .runs import directory

    if out is not None:
        directory.check_out(out)  # a taken --out fails before any download
    how = {"keep_last": keep_last, "progress": progress, "verbose": verbose}
    if nproc_per_node > 1 and not distributed.active():
        fresh = out is None or not Path(out).exists()
        run_dir = directory.make_run_dir(name, out)  # reserved here, written by rank 0
        call = {"name": name, "config": config, "overrides": _plain(overrides), "out": run_dir}
        call |= {"epochs": epochs, "seed": seed, "device": device, "amp": amp, **how}
        return _launch(nproc_per_node, "train", call, run_dir, remove_if_empty=fresh)
    from .training.trainer import Trainer

    try:
        with Trainer.start(run_config, current(), out=out, **how) as trainer:
            return trainer.fit()
    finally:
        distributed.cleanup()


def resume(
    run_dir: str | Path,
    epochs: int | None = None,
    *,
    device: str | None = None,
    progress: bool = False,
    verbose: bool = False,
    keep_last: int = 1,
    nproc_per_node: int | None = None,
    overrides: configs.Overrides | None = None,
) -> Run:
    """Continue the run in ``run_dir`` from its last complete checkpoint to its configured epochs
    (or ``epochs``): on the same device it ends exactly as an uninterrupted run would. It runs in
    as many processes as trained it, unless ``nproc_per_node`` says otherwise; ``overrides`` may
    say where the data is now (``{"dataset.path": ...}``)."""
    from .runs import checkpoints, directory
    from .training.trainer import Trainer

    run_dir = Path(run_dir)
    point = checkpoints.last(run_dir)
    nproc = nproc_per_node or (point.world_size if point is not None else 1)
    if point is not None and point.epoch >= (epochs or directory.read_config(run_dir)["epochs"]):
        nproc = 1  # complete: nothing to train, no processes to start
    how = {"keep_last": keep_last, "progress": progress, "verbose": verbose}
    if nproc > 1 and not distributed.active():
        call = {"run_dir": run_dir, "epochs": epochs, "device": device, **how}
        call["overrides"] = _plain(overrides)
        return _launch(nproc, "resume", call, run_dir)
    try:
        with Trainer.resume(
            run_dir, current(), epochs=epochs, device=device, overrides=overrides, **how
        ) as trainer:
            return trainer.fit()
    finally:
        distributed.cleanup()


def _launch(
    nproc: int, call: str, kwargs: dict[str, Any], run_dir: Path, remove_if_empty: bool = False
) -> Run:
    """Make the same call in ``nproc`` processes (``python -m zoo.worker``, through torchrun);
    the run they trained, read back from its directory."""
    spec = json.dumps({"call": call, "kwargs": kwargs}, default=str)
    try:
        distributed.launch(nproc, "zoo.worker", [spec])
    except BaseException:
        if remove_if_empty and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # reserved for this run and never written: ours to remove
        raise
    return open_run(run_dir)


def _plain(overrides: configs.Overrides | None) -> Any:
    """Overrides as JSON can carry them to the other processes."""
    if overrides is None or isinstance(overrides, dict):
        return overrides
    return list(overrides) if not isinstance(overrides, str) else [overrides]


# --- trained runs -----------------------------------------------------------------------------


def load_run(run_dir: str | Path, weights: str = "last", device: str = "cpu") -> Any:
    """The model a run directory trained, with its ``last`` or ``best`` weights, in eval mode."""
    from .runs.trained import load_model

    return load_model(run_dir, current().registries["models"], weights, device)


def open_run(run_dir: str | Path, weights: str = "last") -> Run:
    """The :class:`zoo.Run` in ``run_dir``: its config, history and model (``weights``)."""
    from .runs.trained import open_run as open_

    return open_(run_dir, current().registries["models"], weights)


def evaluate(
    run_dir: str | Path,
    split: str = "valid",
    weights: str = "last",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Loss and accuracy of a run's ``last`` or ``best`` weights on the ``valid`` or ``test``
    split of its dataset: ``{"split", "weights", "loss", "acc", "samples"}``."""
    from .training.evaluation import evaluate_run

    return evaluate_run(run_dir, current(), split, weights, overrides, device)


def predict(
    run_dir: str | Path, images: Sequence[str | Path], top: int = 1, weights: str = "last"
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image file, the ``top`` most likely classes and their probabilities."""
    from .runs.trained import predict as predict_images

    return predict_images(run_dir, current().registries["models"], images, top, weights)
