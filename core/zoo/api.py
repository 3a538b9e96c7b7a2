"""The public Python API, the one the ``zoo`` command itself is built on:

- what zoo knows: ``list_*``, ``get_*`` and ``create_*`` for models, datasets, optimizers,
  layers, and the trained weights plugins ship (``list_weights``, ``get_weights``, and
  ``create_model("cnn.mnist")``);
- training: ``train(name, ...)``, ``resume(run_dir, ...)`` and ``reproduce(weights)``, each
  returning a :class:`zoo.Run`;
- trained weights (a run directory or a weights name): ``load_run``, ``open_run``, ``evaluate``,
  ``predict`` and ``export``.

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
from .errors import ConfigError, ZooError
from .files import check_name
from .hints import did_you_mean
from .plugins.builtin import auto_mode
from .plugins.cards import Card
from .plugins.manager import Catalog, PluginInfo, PluginWarning, load_catalog
from .plugins.registry import Entry
from .runs.run import Run

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


def list_weights(pattern: str | None = None) -> list[str]:
    """Sorted names (``MODEL.TAG``) of the trained weights plugins registered."""
    return current().registries["weights"].names(pattern)


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


def get_weights(name: str) -> Card:
    """The checked card of the weights ``name`` (``MODEL.TAG``): file, sha256, model options,
    dataset, metrics and recipe. Nothing is loaded."""
    from .runs.weights import get_card

    return get_card(name, current().registries["weights"])


def create_model(name: str, weights: str | Path | None = None, **options: Any) -> Any:
    """Build the model ``name`` (an ``nn.Module``) with the factory's options. Trained weights,
    in eval mode: ``create_model("cnn.mnist")`` or ``create_model("cnn", weights="mnist")`` (a
    registered weights name, its sha256 checked first), or ``weights=RUN_DIR`` (that run's last
    weights)."""
    catalog = current()
    models, registered = catalog.registries["models"], catalog.registries["weights"]
    named = weights is None and name not in models and name in registered  # "cnn.mnist"
    if weights is None and not named:
        return get_model(name).create(**options)
    if options:
        raise ConfigError(
            f"create_model('{name}') with weights takes the options they were trained with, "
            f"not {sorted(options)}"
        )
    from .runs import weights as trained_weights
    from .runs.trained import load_model

    if named:
        return trained_weights.from_card(get_weights(name), models=models).build(models)

    text = str(weights)
    for candidate in (f"{name}.{text}", text):
        if candidate in registered and (candidate != text or not Path(text).is_dir()):
            card = get_weights(candidate)
            if models.get(card.model) is not models.get(name):
                raise ConfigError(
                    f"weights '{candidate}' are for model '{card.model}', not '{name}'"
                )
            return trained_weights.from_card(card, models=models).build(models)
    if not Path(text).is_dir():
        models.get(name)  # an unknown model says so first
        tags = [w[len(name) + 1 :] for w in registered.names(f"{name}.*")]
        hint = did_you_mean(text, tags)
        known = f"its weights: {', '.join(tags)}" if tags else "zoo list weights shows all"
        raise ZooError(
            f"model '{name}' has no weights '{text}'{hint} and there is no run directory {text} "
            f"({known})"
        )
    return load_model(weights, models, expect=name)


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
    from .training import distributed  # imported to train, never to list or predict

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
    from .training import distributed  # imported to train, never to list or predict
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


def reproduce(
    name: str,
    *,
    out: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    device: str | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> tuple[Run, dict[str, Any]]:
    """Train the recipe recorded in the card of the weights ``name`` again; return the new
    :class:`zoo.Run` and its metrics, keyed as the card's (``epoch``, ``val_loss``, ``val_acc``
    of the best epoch; ``test_loss`` and ``test_acc`` of its best weights; ``sha256`` of them).
    ``overrides`` may say where the data is here (``dataset.*`` but its name), nothing else: the
    rest is the recipe. On the recipe's device and versions the numbers are the card's."""
    import copy

    from .data.cache import sha256_of
    from .runs.trained import Trained
    from .training import distributed  # imported to train, never to list or predict
    from .training.evaluation import evaluate_run
    from .training.trainer import Trainer

    card = get_weights(name)
    config = copy.deepcopy(dict(card.recipe.get("config") or {}))
    if not config:
        raise ZooError(f"weights '{name}' record no recipe: zoo cannot train them again")
    configs.check_data_overrides(overrides, "zoo reproduce", "here", "the rest is the recipe")
    config.setdefault("name", card.model)
    if device is not None:
        config["device"] = device
    configs.revise(config, overrides, current().registries)
    if out is not None:
        from .runs import directory

        directory.check_out(out)
    how = {"progress": progress, "verbose": verbose}
    try:
        with Trainer.start(config, current(), out=out, **how) as trainer:
            run = trainer.fit()
    finally:
        distributed.cleanup()
    best = run.best or {}
    metrics: dict[str, Any] = {k: best.get(k) for k in ("epoch", "val_loss", "val_acc")}
    if card.metrics.get("test_acc") is not None:
        trained = Trained.from_run(run.dir, "best")
        test = evaluate_run(trained, current(), "test", overrides, device)
        metrics |= {"test_loss": test["loss"], "test_acc": test["acc"]}
    from .runs import checkpoints

    metrics["sha256"] = sha256_of(run.dir / checkpoints.BEST)
    return run, metrics


def sweep(
    name: str,
    overrides: Sequence[str],
    *,
    config: str | Path | None = None,
    out: str | Path | None = None,
    metric: str = "val_loss",
    mode: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> tuple[Path, list[dict[str, Any]]]:
    """Train ``name`` at every point of a grid: ``overrides`` are ``--set`` texts, and one
    whose value has top-level commas (``"optimizer.lr=0.1,0.05"``) is swept. Each run gets a
    directory under one sweep folder (``out``, or runs/sweeps/NAME-YYYYmmdd-HHMMSS); given the
    same folder again, finished runs are skipped and an interrupted one resumes. Returns the
    folder and a row per run, best first by ``metric`` (``mode`` min or max; default: min for a
    loss, max otherwise): ``{"dir", "point", "status", "best", "epochs"}``."""
    from .runs import directory, pictures, sweeps

    grid, fixed = sweeps.parse_grid(overrides)
    if not grid:
        raise ConfigError("nothing to sweep: give a --set with values separated by commas")
    if mode not in (None, "min", "max"):
        raise ConfigError(f"--mode {mode}: expected min or max")
    mode = auto_mode(metric, mode or "auto")
    points = sweeps.points(grid)
    options = {"epochs": epochs, "seed": seed, "device": device}
    for point in points:  # every point checked before the first run trains
        resolve(name, config=config, overrides=[*fixed, *_texts(point)], **options)
    folder = sweeps.open_folder(name, grid, fixed, metric, out)
    say = print if verbose else (lambda text: None)
    results = []
    for i, point in enumerate(points, 1):
        run_dir = folder / sweeps.label(point)
        status = sweeps.state_of(run_dir)
        say(f"sweep {name}: run {i} of {len(points)}, {sweeps.label(point)} ({status})")
        how = {"progress": progress, "verbose": verbose}
        if status == "unfinished":
            run = resume(run_dir, **how)
        elif status == "new":
            texts = [*fixed, *_texts(point)]
            run = train(name, config=config, overrides=texts, out=run_dir, **options, **how)
        else:
            run = Run(run_dir, directory.read_config(run_dir), directory.read_metrics(run_dir))
        results.append(
            {
                "dir": run.dir,
                "point": point,
                "status": status,
                "best": sweeps.best_row(run.history, metric, mode),
                "epochs": len(run.history),
            }
        )
    results.sort(key=lambda r: r["best"][metric], reverse=mode == "max")
    histories = {sweeps.label(r["point"]): directory.read_metrics(r["dir"]) for r in results}
    with contextlib.suppress(Exception):  # a failed picture is never worth a failed sweep
        pictures.compare(histories, folder / "sweep.png")
    return folder, results


def _texts(point: dict[str, Any]) -> list[str]:
    """A grid point as ``--set`` texts (values written back as YAML)."""
    return [f"{key}={json.dumps(value)}" for key, value in point.items()]


def _launch(
    nproc: int, call: str, kwargs: dict[str, Any], run_dir: Path, remove_if_empty: bool = False
) -> Run:
    """Make the same call in ``nproc`` processes (``python -m zoo.worker``, through torchrun);
    the run they trained, read back from its directory."""
    from .training import distributed  # imported to train, never to list or predict

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
    source: str | Path,
    split: str = "valid",
    weights: str = "last",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Loss and accuracy of trained weights on the ``valid`` or ``test`` split of the dataset they
    were trained on: ``source`` is a run directory (its ``last`` or ``best`` ``weights``) or a
    registered weights name such as ``"cnn.mnist"``. ``overrides`` say where the data is
    (``{"dataset.path": ...}``) or which metrics to compute (``{"metrics": ["top_k"]}``).
    Returns ``{"split", "weights", "loss", "acc", "samples", "source"}`` (``source`` names the
    weights in words), with ``metrics`` (by key) and ``classes`` when the run chose metrics."""
    from .training.evaluation import evaluate_run

    trained = _trained(source, weights)
    result = evaluate_run(trained, current(), split, overrides, device)
    which = weights if Path(source).is_dir() else str(source)
    classes = result.pop("classes")
    if not result["metrics"]:  # the metrics the run chose (--set metrics=[...] to choose)
        del result["metrics"]
    else:
        result["classes"] = classes
    return {"split": split, "weights": which, **result, "source": trained.label}


def predict(
    source: str | Path,
    images: Sequence[str | Path],
    top: int = 1,
    weights: str = "last",
    device: str | None = None,
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image file, the ``top`` most likely classes and their probabilities, by a run
    directory's ``weights`` or by registered weights (``"cnn.mnist"``), on ``device`` (default
    ``auto``: whatever this machine has, wherever the weights were trained)."""
    from .runs.trained import predict as predict_images

    models = current().registries["models"]
    trained = _trained(source, weights)
    return predict_images(trained, models, images, top, _device(device))


def _device(device: str | None) -> str:
    """A device this machine has: ``device``, or ``auto``'s choice."""
    from .training.device import select_device  # imports torch: only where a model runs

    return str(select_device(device or "auto"))


def export(
    source: str | Path,
    format: str = "onnx",
    out: str | Path | None = None,
    weights: str = "last",
    device: str | None = None,
) -> Path:
    """Write trained weights (a run directory's ``last`` or ``best``, or registered weights such
    as ``"cnn.mnist"``) as an ONNX or PT2 file that loads without zoo; returns its path (default:
    ``NAME.onnx`` / ``NAME.pt2`` in the current folder). It is traced on ``device`` (default the
    CPU, which every machine has; the file runs anywhere)."""
    from .runs.export import FORMATS
    from .runs.export import export as export_model

    if format not in FORMATS:
        hint = did_you_mean(format, FORMATS)
        raise ConfigError(f"export format '{format}'{hint}: expected one of {', '.join(FORMATS)}")
    trained = _trained(source, weights)
    if not trained.input_shape:
        raise ZooError(f"{trained.label} record no input shape: zoo cannot make an example input")
    if out is None:  # a name of its own, here: never a path a run or a card could choose
        stem = str(source) if not Path(source).is_dir() else f"{trained.model}-{Path(source).name}"
        stem = check_name(stem.replace(":", "-"), "the export's file name (give --out FILE)")
        out = Path(f"{stem}{FORMATS[format]}")
    where = _device(device or "cpu")
    net = trained.build(current().registries["models"], where)
    return export_model(net, trained.input_shape, format, Path(out), where)


def _trained(source: str | Path, which: str = "last") -> Any:
    """A run directory or a registered weights name, as verified ``Trained`` weights."""
    from .runs.weights import resolve as resolve_weights

    registries = current().registries
    return resolve_weights(source, registries["weights"], which, registries["models"])
