"""What zoo knows, for a program: the catalog (the installed plugins and the models of the config
file in use, loaded on first use), and ``list_*``, ``get_*`` and ``create_*`` for every kind a
plugin registers, models built with trained weights by name (``create_model("cnn.mnist")``)."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config as configs
from ..errors import ConfigError, ZooError
from ..hints import did_you_mean
from ..plugins.cards import Card
from ..plugins.manager import Catalog, PluginInfo, PluginWarning, load_catalog
from ..plugins.registry import Entry, Registry
from ..text import printable

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
    from ..runs.weights import get_card

    return get_card(name, current().registries["weights"])


def create_model(name: str, weights: str | Path | None = None, **options: Any) -> Any:
    """Build the model ``name`` (an ``nn.Module``) with the factory's options. Trained weights,
    in eval mode: ``create_model("cnn.mnist")`` or ``create_model("cnn", weights="mnist")`` (a
    registered weights name, its sha256 checked first), ``weights=RUN_DIR`` (that run's last
    weights), or a folder in the Hugging Face Hub's layout (``zoo export --format hf``) or
    ``hf://OWNER/NAME`` as ``name``."""
    catalog = current()
    models, registered = catalog.registries["models"], catalog.registries["weights"]
    from ..runs import weights as trained_weights

    if weights is None and name not in models and trained_weights.is_hub_source(name):
        if options:  # a Hub folder or hf://OWNER/NAME: the options are in its config.json
            raise ConfigError(f"create_model('{name}') takes the options its config.json records")
        return trained_weights.from_hub(name, models).build(models)
    named = weights is None and name not in models and name in registered  # "cnn.mnist"
    if weights is None and not named:
        return get_model(name).create(**options)
    if options:
        raise ConfigError(
            f"create_model('{name}') with weights takes the options they were trained with, "
            f"not {sorted(options)}"
        )
    from ..runs.trained import load_model

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


def list_schedulers(pattern: str | None = None) -> list[str]:
    """Sorted learning-rate scheduler names, optionally filtered by an fnmatch pattern."""
    return current().registries["schedulers"].names(pattern)


def list_losses(pattern: str | None = None) -> list[str]:
    """Sorted loss names, optionally filtered by an fnmatch pattern."""
    return current().registries["losses"].names(pattern)


def list_metrics(pattern: str | None = None) -> list[str]:
    """Sorted metric names, optionally filtered by an fnmatch pattern."""
    return current().registries["metrics"].names(pattern)


def list_callbacks(pattern: str | None = None) -> list[str]:
    """Sorted callback names, optionally filtered by an fnmatch pattern."""
    return current().registries["callbacks"].names(pattern)


def list_transforms(pattern: str | None = None) -> list[str]:
    """Sorted batch transform (augmentation) names, optionally filtered by an fnmatch pattern."""
    return current().registries["transforms"].names(pattern)


def get(kind: str, name: str) -> Entry:
    """The registry entry ``name`` of ``kind`` (``models``, ``schedulers``... as ``zoo list``
    names them): factory, description, plugin, distribution."""
    return _registry(kind).get(name)


@dataclass(frozen=True)
class Listed:
    """One row of ``zoo list``: the name as shown (``plugin:name`` when two plugins share it),
    its one-line description (for weights: the card's summary, or why it cannot be used) and the
    plugin that registered it."""

    name: str
    description: str
    plugin: str


def listing(kind: str, pattern: str | None = None) -> list[Listed]:
    """What ``zoo list KIND [PATTERN]`` shows, for a program."""
    rows = []
    for shown, entry in _registry(kind).listing(pattern):
        described = _weights_line(shown) if kind == "weights" else entry.description
        rows.append(Listed(shown, described, entry.plugin))
    return rows


def _registry(kind: str) -> Registry:
    registries = current().registries
    if kind not in registries:
        hint = did_you_mean(kind, registries)
        raise ConfigError(f"unknown kind '{kind}'{hint} (expected one of {', '.join(registries)})")
    return registries[kind]


def _weights_line(name: str) -> str:
    """A weights entry's line: its card's summary, or why the card cannot be used (a plugin's
    card may be anything: it breaks its own line only)."""
    try:
        return get_weights(name).summary()
    except ZooError as exc:
        return f"(unusable: {printable(str(exc).removeprefix(f'weights {name!r}: '))})"
    except Exception as exc:
        return f"(unusable: {type(exc).__name__}: {printable(exc)})"


def create_scheduler(name: str, optimizer: Any, **options: Any) -> Any:
    """Build the learning-rate scheduler ``name`` over ``optimizer`` (``epochs`` and
    ``steps_per_epoch``, which a run gives it, may be passed as options here)."""
    entry = get("schedulers", name)
    given = {k: options.pop(k) for k in ("epochs", "steps_per_epoch") if k in options}
    return entry.create(optimizer, context=given, **options)


def create_loss(name: str, num_classes: int | None = None, **options: Any) -> Any:
    """Build the loss ``name`` (a callable of scores and targets)."""
    return get("losses", name).create(context={"num_classes": num_classes}, **options)


def create_metric(
    name: str, num_classes: int | None = None, classes: Any = None, **options: Any
) -> Any:
    """Build the metric ``name`` (a :class:`zoo.Metric`)."""
    context = {"num_classes": num_classes, "classes": classes}
    return get("metrics", name).create(context=context, **options)


def create_callback(name: str, **options: Any) -> Any:
    """Build the callback ``name`` (a :class:`zoo.Callback`)."""
    return get("callbacks", name).create(**options)


def create_transform(name: str, input_shape: tuple[int, ...] | None = None, **options: Any) -> Any:
    """Build the batch transform ``name``: ``transform(images, generator) -> images``."""
    return get("transforms", name).create(context={"input_shape": input_shape}, **options)
