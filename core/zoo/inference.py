"""Using a trained run: load its model, evaluate it, predict the class of images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import api, runs
from .errors import ConfigError, DataError, ZooError

WEIGHTS = ("last", "best")


def weights_file(run_dir: Path, weights: str = "last") -> Path:
    """The safetensors file of a run's ``last`` complete checkpoint or its ``best`` epoch."""
    from . import checkpoint

    if weights not in WEIGHTS:
        raise ConfigError(f"weights: expected last or best, got {weights!r}")
    if weights == "best":
        path = Path(run_dir) / checkpoint.BEST
    else:
        point = checkpoint.last(Path(run_dir))
        path = point.weights if point is not None else Path(run_dir) / "checkpoints"
    if not path.is_file():
        raise ZooError(f"{run_dir} has no {weights} weights yet (no epoch finished)")
    return path


def load_run(
    run_dir: str | Path, weights: str = "last", device: str = "cpu", model: str | None = None
) -> Any:
    """The run's model with its ``last`` (or ``best``) weights, in eval mode, ready for
    inference. ``model``, when given, must be the model the run trained."""
    from . import checkpoint
    from .run import model_context

    run_dir = Path(run_dir)
    info = runs.read_model_info(run_dir)
    if model is not None and api.get_model(model) is not api.get_model(info["model"]):
        raise ConfigError(f"{run_dir} trained model '{info['model']}', not '{model}'")
    net = api.get_model(info["model"]).create(
        context=model_context(info.get("num_classes"), info.get("input_shape")),
        **info.get("options", {}),
    )
    checkpoint.load_weights(net, weights_file(run_dir, weights), device)
    return net.to(device).eval()


def evaluate_run(
    run_dir: str | Path,
    split: str = "valid",
    weights: str = "last",
    overrides: Sequence[str] = (),
    device: str | None = None,
) -> dict[str, Any]:
    """Loss and accuracy of a run's weights on the ``valid`` or ``test`` split of its data."""
    from . import config as config_module
    from . import train
    from .run import section_options

    run_dir = Path(run_dir)
    cfg = runs.read_config(run_dir)
    for override in overrides:
        keys, value = config_module.parse_override(override)
        config_module.set_path(cfg, keys, value)
    config_module.validate({k: v for k, v in cfg.items() if k != "name"})
    device = train.select_device(device or cfg.get("device", "auto"))
    train.set_threads(cfg.get("threads", "auto"), device)  # as in training: the same numbers
    splits = api.get_dataset(cfg["dataset"]["name"]).create(**section_options(cfg, "dataset"))
    data = getattr(splits, split, None)
    if data is None:
        raise DataError(f"dataset '{cfg['dataset']['name']}' has no {split} split")
    net = load_run(run_dir, weights, str(device))
    batches = train.Batches(data, cfg.get("valid_batch_size") or cfg["batch_size"] * 2, device)
    loss, acc = train.evaluate(net, batches, cfg.get("amp", False))
    return {"split": split, "weights": weights, "loss": loss, "acc": acc, "samples": len(data)}


def read_image(path: str | Path, shape: Sequence[int] = (1, 28, 28)) -> Any:
    """A picture file (PNG, JPEG..., any size, colour or grey) as the model's input: grey,
    resized, light on black (inverted if its background is light, as a scan's or a drawing's
    is), in [0, 1], flattened like the dataset's rows."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L").resize((shape[-1], shape[-2]), Image.Resampling.LANCZOS)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    pixels = np.asarray(grey, dtype=np.float32) / 255
    # The border is the background: light means dark ink on paper (a scan, a drawing), while
    # MNIST-style data is light on black. (The mean would misjudge a large light object.)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        pixels = 1 - pixels
    return torch.from_numpy(pixels.reshape(1, -1))


def predict(
    run_dir: str | Path, images: Sequence[str | Path], top: int = 1, weights: str = "last"
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image, the ``top`` most likely classes with their probabilities."""
    import torch

    info = runs.read_model_info(Path(run_dir))
    classes = info.get("classes") or [str(i) for i in range(info.get("num_classes") or 0)]
    net = load_run(run_dir, weights)
    shape = info.get("input_shape") or (1, 28, 28)
    results = []
    with torch.inference_mode():
        for image in images:
            probs = torch.softmax(net(read_image(image, shape)), dim=1)[0]
            values, indices = probs.topk(min(top, len(probs)))
            names = [classes[i] if i < len(classes) else str(i) for i in indices.tolist()]
            results.append((str(image), list(zip(names, values.tolist(), strict=True))))
    return results
