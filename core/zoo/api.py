"""The registry API: ``list_*``, ``get_*`` and ``create_*`` over the current set of plugins.

Plugins are loaded on the first lookup, not at ``import zoo``, and nothing here imports torch:
factories import it when they are called.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from .errors import ConfigError
from .plugins import PluginInfo, PluginWarning, Zoo, build_zoo
from .registry import Entry

_lock = threading.Lock()
_current: Zoo | None = None


def current() -> Zoo:
    """The process-wide :class:`Zoo`, built from the installed plugins on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = build_zoo()
            _use_found_config(_current)
        return _current


def _use_found_config(zoo: Zoo) -> None:
    """Register the declarative models of the config file zoo would use from here."""
    from . import config

    try:
        path = config.find_config()
        zoo.use_config(path, config.load(path)["models"])
    except ConfigError as exc:  # `zoo run` reports a broken file itself; here it only warns
        warnings.warn(
            f"the models of the config file were not loaded: {exc}", PluginWarning, stacklevel=3
        )


@contextlib.contextmanager
def using(zoo: Zoo) -> Iterator[Zoo]:
    """Make ``zoo`` the current one inside the block (tests, tools with their own plugin set)."""
    global _current
    with _lock:
        previous, _current = _current, zoo
    try:
        yield zoo
    finally:
        with _lock:
            _current = previous


def reset() -> None:
    """Forget the current zoo; the next lookup loads the plugins again."""
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
    """Every plugin zoo tried to load, loaded or failed, in load order."""
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


def create_model(name: str, weights: str | None = None, **options: Any) -> Any:
    """Build the model ``name`` (an ``nn.Module``) with the factory's options; with
    ``weights=RUN_DIR``, the model that run trained, with its last weights, in eval mode."""
    if weights is not None:
        if options:
            raise ConfigError(
                f"create_model('{name}', weights=...) takes the run's options, "
                f"not {sorted(options)}"
            )
        from .inference import load_run

        return load_run(weights, model=name)
    return get_model(name).create(**options)


def load_run(run_dir: Any, weights: str = "last", device: str = "cpu") -> Any:
    """The model a run directory trained, with its ``last`` or ``best`` weights, in eval mode."""
    from .inference import load_run as load

    return load(run_dir, weights=weights, device=device)


def create_dataset(name: str, **options: Any) -> Any:
    """Build the dataset ``name``: a :class:`zoo.Splits`."""
    return get_dataset(name).create(**options)


def create_optimizer(name: str, params: Any, **options: Any) -> Any:
    """Build the optimizer ``name`` over ``params``."""
    return get_optimizer(name).create(params, **options)


def create_layer(name: str, *args: Any, **options: Any) -> Any:
    """Build the layer ``name`` (an ``nn.Module`` building block)."""
    return get_layer(name).create(*args, **options)
