"""A trained run as Python objects: the :class:`Run` read back from its directory, the model
rebuilt from model.json with its ``last`` or ``best`` weights, and predictions on images.

The model registry is passed in by the caller (``zoo.api``); nothing here loads plugins.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, ZooError
from ..plugins.registry import Registry
from . import checkpoints, directory
from .run import Run

WEIGHTS = ("last", "best")


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
    run_dir = Path(run_dir)
    info = directory.read_model_info(run_dir)
    if expect is not None and models.get(expect) is not models.get(info["model"]):
        raise ConfigError(f"{run_dir} trained model '{info['model']}', not '{expect}'")
    net = models.get(info["model"]).create(
        context=model_context(info.get("num_classes"), info.get("input_shape")),
        **info.get("options", {}),
    )
    checkpoints.load_weights(net, weights_file(run_dir, weights), device)
    return net.to(device).eval()


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
    run_dir: str | Path,
    models: Registry,
    images: Sequence[str | Path],
    top: int = 1,
    weights: str = "last",
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image, the ``top`` most likely classes with their probabilities."""
    import torch

    info = directory.read_model_info(Path(run_dir))
    shape = info.get("input_shape")
    if not shape:
        raise ZooError(f"{run_dir}/model.json records no input shape: zoo cannot size images")
    classes = info.get("classes") or [str(i) for i in range(info.get("num_classes") or 0)]
    net = load_model(run_dir, models, weights)
    results = []
    with torch.inference_mode():
        for image in images:
            probs = torch.softmax(net(read_image(image, shape)), dim=1)[0]
            values, indices = probs.topk(min(top, len(probs)))
            names = [classes[i] if i < len(classes) else str(i) for i in indices.tolist()]
            results.append((str(image), list(zip(names, values.tolist(), strict=True))))
    return results
