"""Trained weights as Python objects: a :class:`Trained` (the weights of a run directory, or of
a registered weights card: ``zoo.runs.weights``) rebuilt into its model, its predictions (the
pictures read by ``zoo.runs.images``),
and the :class:`Run` read back from its directory.

The model registry is passed in by the caller (``zoo.api``); nothing here loads plugins.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import ConfigError, DataError, ZooError
from ..plugins.registry import Registry
from . import checkpoints, fitting
from .images import pictures_in, read_image
from .run import Run
from .rundir import RunDir

WHICH = ("last", "best")  # a run's weights: its last complete checkpoint's, or its best epoch's


@dataclass
class Trained:
    """Trained weights and what rebuilds their model: ``model`` with ``options``, given
    ``num_classes`` and ``input_shape``; ``classes`` name the outputs; ``config`` is the run config
    that trained them (data for ``zoo eval``); ``label`` says which weights in messages."""

    label: str
    path: Path  # the safetensors file, verified
    model: str
    options: dict[str, Any]
    num_classes: int | None
    input_shape: tuple[int, ...] | None
    classes: list[str] | None
    config: RunConfig | None  # None: a card whose recipe zoo cannot read
    dataset: str | None = None  # the dataset they were trained on, by name
    pictures: str | None = None  # "photo": pictures are read as the dataset's were (Splits)

    @classmethod
    def from_run(cls, run_dir: str | Path, which: str = "last") -> Trained:
        """The ``last`` or ``best`` weights of a run directory."""
        folder = RunDir(run_dir)
        info, config = folder.model_info, folder.config
        shape = info.get("input_shape")
        return cls(
            label=f"{run_dir} ({which} weights)",
            path=folder.weights(which),
            model=info["model"],
            options=dict(info.get("options", {})),
            num_classes=info.get("num_classes"),
            input_shape=tuple(shape) if shape else None,
            classes=info.get("classes"),
            config=config,
            dataset=info.get("dataset") or config.dataset.name,
            pictures=info.get("pictures"),
        )

    def check_input(self, datasets: Registry) -> None:
        """The input shape recorded for these weights, against what their dataset can honestly
        give (its registered ``input_shape``, or ``max_input_shape``): a shared run's model.json
        cannot make zoo resize every picture to 4096 x 4096 and run the model on it."""
        if not self.input_shape or not self.dataset or self.dataset not in datasets:
            return
        try:
            meta = datasets.get(self.dataset).meta
        except ZooError:  # registered by several plugins: nothing to compare with
            return
        exact, most = meta.get("input_shape"), meta.get("max_input_shape")
        shape = tuple(self.input_shape)
        if exact is not None and shape != tuple(exact):
            problem = f"gives {tuple(exact)}"
        elif most is not None and (
            len(shape) != len(most) or any(s > m for s, m in zip(shape, most, strict=False))
        ):
            problem = f"gives at most {tuple(most)}"
        else:
            return
        raise ZooError(
            f"{self.label} record the input {shape}, but dataset '{self.dataset}' {problem}: "
            "not weights zoo trained on it (nothing was resized or run)"
        )

    def build(self, models: Registry, device: str = "cpu") -> Any:
        """The model with these weights, in eval mode, ready for inference. The options are
        checked and the model is first built without memory (torch's meta device), so that
        options saying it is larger than its weights file (a shared run's model.json, a card)
        are refused before a byte is allocated."""
        entry = models.get(self.model)
        entry.check(self.options, where=f"{self.label}: model.")
        context = model_context(self.num_classes, self.input_shape)
        shapes = checkpoints.file_shapes(self.path, self.label)
        meta = skeleton(entry, context, self.options)
        if meta is not None:
            wanted = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
            problems = fitting.fit_problems(shapes, {k: wanted[k] for k in shapes if k in wanted})
            held = size_of(meta)
            size = self.path.stat().st_size
            if problems:
                raise ZooError(f"{self.label} do not fit the model: {problems}")
            if held > 2 * size + (1 << 20):
                raise ZooError(
                    f"{self.label}: model '{self.model}' with these options holds {held:,} bytes, "
                    f"its weights file {size:,}: the options do not describe these weights"
                )
            needs = forward_bytes(meta, self.input_shape)
            if needs is not None and needs > MAX_FORWARD_BYTES:
                raise ZooError(
                    f"{self.label}: one input of {tuple(self.input_shape)} would take "
                    f"{needs / 1e9:,.1f} GB through model '{self.model}' (zoo runs at most "
                    f"{MAX_FORWARD_BYTES / 1e9:.1f} GB a sample): not an input it was trained on"
                )
        net = build_model(entry, context, self.options, what=self.label)
        checkpoints.load_weights(net, self.path, device, what=self.label)
        return net.to(device).eval()


def skeleton(entry: Any, context: dict[str, Any], options: dict[str, Any]) -> Any | None:
    """The model built on torch's meta device: its tensors' shapes and sizes, no memory spent.
    ``None`` where its factory cannot build there (it reads values, calls numpy...)."""
    import torch

    try:  # the random streams are put back: building the real model draws the same numbers
        with torch.random.fork_rng(devices=[]), torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return entry.create(context=context, **options)
    except Exception:  # not every factory can build without memory: then it is built for real
        return None


#: The most bytes one sample's forward pass may produce (every intermediate tensor counted, as
#: on torch's meta device): the catalog's models need under 2 MB at 28 x 28.
MAX_FORWARD_BYTES = 1 << 30


def forward_bytes(meta: Any, input_shape: Sequence[int] | None) -> int | None:
    """The bytes of every tensor one forward pass of one sample of ``input_shape`` makes in
    ``meta``, a model built on torch's meta device (nothing is allocated: shapes only);
    ``None`` when that cannot be measured (no shape, or a model the meta device cannot run)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            out = func(*args, **(kwargs or {}))
            for leaf in tree_leaves(out):
                if isinstance(leaf, torch.Tensor):
                    self.total += leaf.numel() * leaf.element_size()
            return out

    if not input_shape or meta is None:
        return None
    meta.eval()  # as predictions run it (a batch norm of one sample needs its running stats)
    try:
        with torch.no_grad(), warnings.catch_warnings(), Count() as count:
            warnings.simplefilter("ignore")
            meta(torch.empty(1, *input_shape, device="meta"))
    except Exception:  # a model that reads values (or calls numpy) cannot run on meta
        return None
    return count.total


def size_of(net: Any) -> int:
    """The bytes a model's parameters and buffers take."""
    return sum(t.numel() * t.element_size() for t in net.state_dict().values())


def measure(net: Any, input_shape: Sequence[int] | None) -> dict[str, int | None]:
    """``parameters`` (the count) and ``flops`` (of one forward pass of one sample, as
    ``torch.utils.flop_counter`` counts them: a multiply-accumulate is 2) of a model; ``flops``
    is ``None`` when the model cannot be counted so. In eval mode and without gradients: no
    statistic or random stream moves."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    parameters = sum(p.numel() for p in net.parameters())
    flops = None
    if input_shape:
        first = next(iter(net.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
        training = net.training
        net.eval()
        try:
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                net(torch.zeros(1, *input_shape, device=device))
            flops = int(counter.get_total_flops())
        except Exception:  # a model the counter cannot follow still trains
            flops = None
        finally:
            net.train(training)
    return {"parameters": parameters, "flops": flops}


def build_model(
    entry: Any, context: dict[str, Any], options: dict[str, Any], *, what: str, budget: int = 0
) -> Any:
    """Build a model: sized first without memory (``budget`` bytes at most, when given: options
    that make it larger are one line, not a machine out of memory), then for real, a failure of
    torch's (a size it cannot allocate) one line too."""
    if budget:
        meta = skeleton(entry, context, options)
        if meta is not None and size_of(meta) > budget:
            count = sum(t.numel() for t in meta.parameters())
            raise ConfigError(
                f"{what}: model '{entry.name}' with {_options_text(options)} has {count:,} "
                f"parameters ({size_of(meta) / 1e9:,.1f} GB): more than this machine can train "
                f"({budget / 1e9:,.1f} GB for the weights); choose smaller options"
            )
    try:
        return entry.create(context=context, **options)
    except (RuntimeError, OverflowError, MemoryError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"{what}: model '{entry.name}' could not be built with {_options_text(options)}: "
            f"{type(exc).__name__}: {reason}"
        ) from exc


def _options_text(options: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "its default options"
    return text if len(text) <= 200 else text[:197] + "..."


def open_run(run_dir: str | Path, models: Registry, which: str = "last") -> Run:
    """The run in ``run_dir``; its model (``last`` or ``best`` weights, in eval mode) is built
    when first asked for, so its status and history need no torch."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ZooError(f"{run_dir} is not a folder: name a run directory (zoo runs lists them)")
    if which not in WHICH:
        raise ConfigError(f"which weights: expected last or best, got {which!r}")
    return Run(path, build=lambda folder: load_model(folder, models, which))


def model_context(num_classes: int | None, input_shape: Any) -> dict[str, Any]:
    """What a model factory may take from the dataset: ``num_classes``, ``input_shape``."""
    context = {
        "num_classes": num_classes,
        "input_shape": tuple(input_shape) if input_shape else None,
    }
    return {k: v for k, v in context.items() if v is not None}


def load_model(
    run_dir: str | Path,
    models: Registry,
    which: str = "last",
    device: str = "cpu",
    expect: str | None = None,
) -> Any:
    """The run's model with its ``last`` (or ``best``) weights, in eval mode, ready for
    inference. ``expect``, when given, must name the model the run trained."""
    trained = Trained.from_run(run_dir, which)
    if expect is not None and models.get(expect) is not models.get(trained.model):
        raise ConfigError(f"{run_dir} trained model '{trained.model}', not '{expect}'")
    return trained.build(models, device)


def predict(
    trained: Trained,
    models: Registry,
    images: Sequence[str | Path | tuple[str, bytes]],
    top: int = 1,
    device: str = "cpu",
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image (a picture file, a folder of them, or a picture's ``(name, bytes)``), the
    ``top`` most likely classes with their probabilities (computed on ``device``, whatever
    device the weights were trained on)."""
    import torch

    if not trained.input_shape:
        raise ZooError(f"{trained.label} record no input shape: zoo cannot size images")
    classes = trained.classes or [str(i) for i in range(trained.num_classes or 0)]
    net = trained.build(models, device)
    if isinstance(images, torch.Tensor):  # samples as the dataset gives them, one per row
        rows = images.reshape(len(images), -1).float()
        size = math.prod(trained.input_shape)
        if rows.shape[1] != size:
            raise DataError(f"samples of {rows.shape[1]} values, this model takes {size}")
        inputs = [(str(i), row[None]) for i, row in enumerate(rows)]
    else:
        inputs = [
            (str(image[0]), image[1]) if isinstance(image, tuple) else (str(image), image)
            for image in pictures_in(images)
        ]
    results = []
    with torch.inference_mode():
        for label, image in inputs:
            x = (
                image
                if isinstance(image, torch.Tensor)
                else read_image(image, trained.input_shape, name=label, style=trained.pictures)
            )
            scores = net(x.to(device)).float()
            if not bool(torch.isfinite(scores).all()):
                raise ZooError(
                    f"{trained.label} answer {label} with values that are not numbers (NaN or "
                    "infinite): no prediction"
                )
            probs = torch.softmax(scores, dim=1)[0]
            values, indices = probs.topk(min(top, len(probs)))
            names = [classes[i] if i < len(classes) else str(i) for i in indices.tolist()]
            results.append((label, list(zip(names, values.tolist(), strict=True))))
    return results
