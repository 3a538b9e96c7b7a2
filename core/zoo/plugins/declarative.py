"""Models written in zoo.yaml as a list of registered layers, no Python needed:

    models:
      tiny_cnn:
        sequential:
          - {layer: view, shape: [-1, 1, 28, 28]}
          - {layer: conv2d, in_channels: 1, out_channels: 16, kernel_size: 3, stride: 2}
          - {layer: relu}

They are registered as models by the plugin ``config``, like any plugin's models, and built from
the layer registry they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZooError
from ..hookspecs import hookimpl
from .registry import Registry

PLUGIN_NAME = "config"


def sequential_factory(
    name: str, layers: Sequence[Mapping[str, Any]], description: str, registry: Registry
) -> Callable[[], Any]:
    def factory() -> Any:
        from torch import nn

        built = []
        for index, item in enumerate(layers):
            options = {k: v for k, v in item.items() if k not in ("layer", "args")}
            try:
                layer = registry.get(item["layer"])
                built.append(layer.create(*item.get("args", []), **options))
            except ZooError as exc:
                raise ConfigError(
                    f"model '{name}', layer {index} ({item['layer']}): {exc}"
                ) from exc
        return nn.Sequential(*built)

    factory.__doc__ = description
    factory.__name__ = factory.__qualname__ = name
    return factory


class ConfigModels:
    """The plugin that registers a config file's ``models:``."""

    def __init__(self, path: Path, models: Mapping[str, Any], layers: Registry) -> None:
        self.path = path
        self.models = models
        self.layers = layers

    @hookimpl
    def register_models(self, register):
        for name, model in self.models.items():
            layers = model["sequential"]
            description = model.get("description") or (
                f"{len(layers)} layer{'s' * (len(layers) != 1)} from {self.path.name}: "
                + ", ".join(item["layer"] for item in layers)
            )
            register(name, sequential_factory(name, layers, description, self.layers))
