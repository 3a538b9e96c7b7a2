"""Trained weights as Python objects: a :class:`Trained` (the weights of a run directory, or of
a registered weights card: ``zoo.runs.weights``) rebuilt into its model, predictions on images,
and the :class:`Run` read back from its directory.

The model registry is passed in by the caller (``zoo.api``); nothing here loads plugins.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, ZooError
from ..plugins.registry import Registry
from . import checkpoints, directory
from .run import Run

WEIGHTS = ("last", "best")


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
    config: dict[str, Any]

    @classmethod
    def from_run(cls, run_dir: str | Path, weights: str = "last") -> Trained:
        """The ``last`` or ``best`` weights of a run directory."""
        run_dir = Path(run_dir)
        info = directory.read_model_info(run_dir)
        shape = info.get("input_shape")
        return cls(
            label=f"{run_dir} ({weights} weights)",
            path=weights_file(run_dir, weights),
            model=info["model"],
            options=dict(info.get("options", {})),
            num_classes=info.get("num_classes"),
            input_shape=tuple(shape) if shape else None,
            classes=info.get("classes"),
            config=directory.read_config(run_dir),
        )

    def build(self, models: Registry, device: str = "cpu") -> Any:
        """The model with these weights, in eval mode, ready for inference."""
        net = models.get(self.model).create(
            context=model_context(self.num_classes, self.input_shape), **self.options
        )
        checkpoints.load_weights(net, self.path, device, what=self.label)
        return net.to(device).eval()


def open_run(run_dir: str | Path, models: Registry, weights: str = "last") -> Run:
    """The run in ``run_dir`` with its model loaded (``last`` or ``best`` weights, in eval mode)."""
    run_dir = Path(run_dir)
    return Run(
        run_dir,
        directory.read_config(run_dir),
        directory.read_metrics(run_dir),
        load_model(run_dir, models, weights),
    )


def model_context(num_classes: int | None, input_shape: Any) -> dict[str, Any]:
    """What a model factory may take from the dataset: ``num_classes``, ``input_shape``."""
    context = {
        "num_classes": num_classes,
        "input_shape": tuple(input_shape) if input_shape else None,
    }
    return {k: v for k, v in context.items() if v is not None}


def weights_file(run_dir: Path, weights: str = "last") -> Path:
    """The safetensors file of a run's ``last`` complete checkpoint or its ``best`` epoch."""
    if weights not in WEIGHTS:
        raise ConfigError(f"weights: expected last or best, got {weights!r}")
    if weights == "best":
        path = Path(run_dir) / checkpoints.BEST
    else:
        point = checkpoints.last(Path(run_dir))
        path = point.weights if point is not None else Path(run_dir) / "checkpoints"
    if not path.is_file():
        raise ZooError(f"{run_dir} has no {weights} weights yet (no epoch finished)")
    return path


def load_model(
    run_dir: str | Path,
    models: Registry,
    weights: str = "last",
    device: str = "cpu",
    expect: str | None = None,
) -> Any:
    """The run's model with its ``last`` (or ``best``) weights, in eval mode, ready for
    inference. ``expect``, when given, must name the model the run trained."""
    trained = Trained.from_run(run_dir, weights)
    if expect is not None and models.get(expect) is not models.get(trained.model):
        raise ConfigError(f"{run_dir} trained model '{trained.model}', not '{expect}'")
    return trained.build(models, device)


def read_image(path: str | Path, shape: Sequence[int]) -> Any:
    """A picture file (PNG, JPEG..., any size, colour or grey) as the model's input of ``shape``
    (channels, height, width): grey, resized, light on black (inverted if its background is
    light, as a scan's or a drawing's is), in [0, 1], flattened like the dataset's rows."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 3 or shape[0] != 1:
        raise DataError(f"zoo predict reads grey images; this model takes input {tuple(shape)}")
    try:
        with warnings.catch_warnings():  # Pillow's "possible decompression bomb" is an error here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                grey = image.convert("L").resize((shape[-1], shape[-2]), Image.Resampling.LANCZOS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"cannot read image {path}: it is too large ({exc})") from exc
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    pixels = np.asarray(grey, dtype=np.float32) / 255
    # The border is the background: light means dark ink on paper (a scan, a drawing), while
    # MNIST-style data is light on black. (The mean would misjudge a large light object.)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        pixels = 1 - pixels
    return torch.from_numpy(pixels.reshape(1, -1))


def predict(
    trained: Trained,
    models: Registry,
    images: Sequence[str | Path],
    top: int = 1,
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image, the ``top`` most likely classes with their probabilities."""
    import torch

    if not trained.input_shape:
        raise ZooError(f"{trained.label} record no input shape: zoo cannot size images")
    classes = trained.classes or [str(i) for i in range(trained.num_classes or 0)]
    net = trained.build(models)
    results = []
    with torch.inference_mode():
        for image in images:
            probs = torch.softmax(net(read_image(image, trained.input_shape)), dim=1)[0]
            values, indices = probs.topk(min(top, len(probs)))
            names = [classes[i] if i < len(classes) else str(i) for i in indices.tolist()]
            results.append((str(image), list(zip(names, values.tolist(), strict=True))))
    return results
