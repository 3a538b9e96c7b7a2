"""Helpers for testing zoo plugins, for their authors.

from zoo.testing import check_plugin, only_plugins

def test_my_plugin():
    check_plugin("my_plugin")           # every model, dataset and optimizer it registers

def test_alone():
    with only_plugins("my_plugin"):     # a fresh plugin manager with just this plugin
        assert zoo.list_models() == ["mlp"]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from importlib import metadata
from types import ModuleType
from typing import Any

from . import api
from .plugins.manager import ENTRY_POINT_GROUP, Catalog, load_catalog

TINY_BATCH = 3


@contextlib.contextmanager
def only_plugins(*plugins: str | ModuleType | Any, builtins: bool = True) -> Iterator[Catalog]:
    """A fresh plugin manager holding only ``plugins`` (installed entry-point names, or modules
    and objects with hook implementations) and, unless ``builtins=False``, zoo's own optimizers
    and layers; it is the current one (``zoo.list_models()`` etc.) inside the block."""
    pairs = []
    installed = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for plugin in plugins:
        if isinstance(plugin, str):
            if plugin not in installed:
                raise LookupError(
                    f"no installed zoo plugin '{plugin}' "
                    f"(installed: {', '.join(sorted(installed))})"
                )
            pairs.append((plugin, installed[plugin].load()))
        else:
            pairs.append((getattr(plugin, "__name__", type(plugin).__name__), plugin))
    fresh = load_catalog(pairs, entry_points=False, builtins=builtins)
    with api.using(fresh):
        yield fresh


def check_plugin(
    plugin: str | ModuleType | Any,
    dataset_options: Mapping[str, Mapping[str, Any]] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> dict[str, list[str]]:
    """Assert that everything ``plugin`` registers works, with the other installed plugins
    around it (a model may use another plugin's layers):

    - every model does forward and backward on a tiny batch, giving finite gradients (inputs of
      ``input_shape``, else the model's own default ``input_shape``, else that of a registered
      dataset);
    - every dataset returns ``zoo.Splits`` whose samples are ``(x, y)`` pairs (datasets are built
      with ``dataset_options[name]``, e.g. a local ``path``, so the check needs no network);
    - every optimizer takes a step that changes the parameters;
    - every scheduler changes the learning rate over a short run and restores its state;
    - every transform keeps a batch's shape, gives the same images for the same generator state
      and draws its randomness only from that generator;
    - every callback and metric is built with its defaults and keeps its state through a
      ``state_dict`` round trip (a metric computes a value from two batches);
    - every set of weights has a valid card, a file matching its sha256, and builds its model
      in eval mode, giving finite scores for a batch of its input shape.

    Returns what was checked, by kind.
    """
    name = plugin if isinstance(plugin, str) else getattr(plugin, "__name__", "plugin")
    current = api.current()
    if not isinstance(plugin, str) and name not in current.plugins:
        current = load_catalog([(name, plugin)])
    info = current.plugins.get(name)
    assert info is not None, f"plugin '{name}' is not loaded"
    assert info.status == "loaded", f"plugin '{name}' did not load: {info.error}"
    with api.using(current):
        for model in info.registered.get("models", []):
            _check_model(f"{name}:{model}", input_shape)
        for dataset in info.registered.get("datasets", []):
            _check_dataset(f"{name}:{dataset}", (dataset_options or {}).get(dataset, {}))
        for optimizer in info.registered.get("optimizers", []):
            _check_optimizer(f"{name}:{optimizer}")
        for scheduler in info.registered.get("schedulers", []):
            _check_scheduler(f"{name}:{scheduler}")
        for callback in info.registered.get("callbacks", []):
            _check_callback(f"{name}:{callback}")
        for metric in info.registered.get("metrics", []):
            _check_metric(f"{name}:{metric}")
        for transform in info.registered.get("transforms", []):
            _check_transform(f"{name}:{transform}", input_shape)
        for weights in info.registered.get("weights", []):
            _check_weights(f"{name}:{weights}")
    return {kind: list(names) for kind, names in info.registered.items()}


def _check_transform(name: str, input_shape: tuple[int, ...] | None) -> None:
    import torch

    shape = tuple(input_shape or (1, 28, 28))
    transform = api.create_transform(name, input_shape=shape)
    images = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
    before = torch.get_rng_state()
    first = transform(images.clone(), torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before), (
        f"transform {name} drew from torch's global random stream, not from its generator: a "
        "resumed run would not augment as an uninterrupted one"
    )
    again = transform(images.clone(), torch.Generator().manual_seed(1))
    assert isinstance(first, torch.Tensor) and first.shape == images.shape, (
        f"transform {name} gave {getattr(first, 'shape', type(first))} for {tuple(images.shape)}"
    )
    assert torch.equal(first, again), f"transform {name}: the same generator state, other images"


def _check_weights(name: str) -> None:
    import math

    import torch

    card = api.get_weights(name)
    model = api.create_model(name)
    assert not model.training, f"weights '{name}': the model is not in eval mode"
    with torch.inference_mode():
        scores = model(torch.rand(2, math.prod(card.input_shape)))
    assert scores.shape == (2, card.dataset["num_classes"]), f"weights '{name}': {scores.shape}"
    assert torch.isfinite(scores).all(), f"weights '{name}' give non-finite scores"


def _check_model(name: str, input_shape: tuple[int, ...] | None) -> None:
    import torch

    entry = api.get_model(name)
    options = entry.options()
    shape = input_shape or _shape(options.get("input_shape")) or _dataset_shape()
    assert shape is not None, (
        f"model {name}: no input shape to test it with; pass check_plugin(..., input_shape=...)"
    )
    classes = options.get("num_classes") if isinstance(options.get("num_classes"), int) else 10
    model = entry.create(context={"num_classes": classes, "input_shape": shape})
    assert isinstance(model, torch.nn.Module), f"model {name} is not an nn.Module"
    x = torch.rand(TINY_BATCH, math.prod(shape))  # zoo's datasets give flat rows
    out = model(x)
    assert out.shape[0] == TINY_BATCH, f"model {name}: output {tuple(out.shape)} per batch of 3"
    params = [p for p in model.parameters() if p.requires_grad]
    assert params, f"model {name} has no trainable parameters"
    target = torch.randint(0, out.shape[1], (TINY_BATCH,))
    torch.nn.functional.cross_entropy(out, target).backward()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all(), (
            f"model {name}: a parameter got no finite gradient"
        )


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, (tuple, list)) and value and all(isinstance(d, int) for d in value):
        return tuple(value)
    return None


def _dataset_shape() -> tuple[int, ...] | None:
    """The input shape a registered dataset declares (``register(..., input_shape=...)``)."""
    for entry in api.current().registries["datasets"].entries():
        if shape := _shape(entry.meta.get("input_shape")):
            return shape
    return None


def _check_dataset(name: str, options: Mapping[str, Any]) -> None:
    from .hookspecs import Splits

    splits = api.create_dataset(name, **options)
    assert isinstance(splits, Splits), f"dataset {name} returned {type(splits).__name__}"
    for split in ("train", "valid"):
        data = getattr(splits, split)
        assert len(data) > 0, f"dataset {name}: the {split} split is empty"
        sample = data[0]
        assert len(sample) == 2, f"dataset {name}: a {split} sample is not an (x, y) pair"


def _check_optimizer(name: str) -> None:
    import torch

    param = torch.nn.Parameter(torch.ones(4))
    optimizer = api.create_optimizer(name, [param])
    (param**2).sum().backward()
    optimizer.step()
    assert not torch.equal(param.detach(), torch.ones(4)), f"optimizer {name} did not step"


def _check_scheduler(name: str) -> None:
    import torch

    current = api.current()
    entry = current.registries["schedulers"].get(name)
    context = {"epochs": 4, "steps_per_epoch": 3}

    def build() -> tuple[Any, Any]:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1, momentum=0.9)
        return optimizer, entry.create(optimizer, context=context)

    optimizer, scheduler = build()
    steps = 12  # past the usual first milestones of per-epoch schedules too
    seen = set()
    for _ in range(steps - 1):
        optimizer.step()
        if getattr(scheduler, "monitor", None) is not None:
            scheduler.step(1.0)  # a metric that never improves
        else:
            scheduler.step()
        seen.add(round(optimizer.param_groups[0]["lr"], 12))
    assert len(seen) > 1, f"scheduler {name} never changed the learning rate"
    again_optimizer, again = build()
    again.load_state_dict(scheduler.state_dict())
    assert again.state_dict().keys() == scheduler.state_dict().keys(), f"scheduler {name} state"


def _check_callback(name: str) -> None:
    from .hookspecs import Callback

    entry = api.current().registries["callbacks"].get(name)
    callback = entry.create()
    assert isinstance(callback, Callback), f"callback {name} is not a zoo.Callback"
    state = callback.state_dict()
    entry.create().load_state_dict(state)


def _check_metric(name: str) -> None:
    import torch

    entry = api.current().registries["metrics"].get(name)
    metric = entry.create(context={"num_classes": 10, "classes": [str(i) for i in range(10)]})
    metric.reset()
    for _ in range(2):
        metric.update(torch.randn(TINY_BATCH, 10), torch.randint(0, 10, (TINY_BATCH,)))
    assert metric.compute() is not None, f"metric {name} computed nothing"
