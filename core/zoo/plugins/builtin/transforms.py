"""Batch transforms (augmentation), registered through ``register_transforms`` like any plugin's:
random affine maps (translation, rotation, scale, shear), horizontal flips and random erasing.

Each factory returns ``transform(images, generator) -> images``: a whole batch ``[N, C, H, W]``
on the batch's device, every random number drawn from ``generator`` (the run's own, on the same
device, saved in each checkpoint: a resumed run augments exactly as an uninterrupted one). They
run inside zoo's training loop, on training batches only, without gradients; a run names them
in its ``augment: [...]`` list. Importing this module imports no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ...hookspecs import hookimpl

Transform = Callable[[Any, Any], Any]


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")


def _uniform(n: int, low: float, high: float, generator: Any, device: Any) -> Any:
    import torch

    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def random_affine(
    degrees: float = 0.0,
    translate: float = 0.0,
    scale: float = 0.0,
    shear: float = 0.0,
    p: float = 1.0,
) -> Transform:
    """Random rotation, translation, scale and shear per image (bilinear, zeros outside).

    Rotation up to ±degrees, translation up to ±translate of the image's size, scaling by
    1±scale, shear up to ±shear degrees; each image transformed with probability p."""
    _check("degrees", degrees, 0, 180)
    _check("translate", translate, 0, 1)
    _check("scale", scale, 0, 0.9)
    _check("shear", shear, 0, 60)
    _check("p", p, 0, 1)

    def transform(images: Any, generator: Any) -> Any:
        import torch
        import torch.nn.functional as F

        n, device = len(images), images.device
        angle = torch.deg2rad(_uniform(n, -degrees, degrees, generator, device))
        skew = torch.deg2rad(_uniform(n, -shear, shear, generator, device))
        factor = _uniform(n, 1 - scale, 1 + scale, generator, device)
        shift = _uniform(2 * n, -translate, translate, generator, device).view(n, 2) * 2
        chosen = torch.rand(n, generator=generator, device=device) < p
        # the map from output to input coordinates (grid_sample's): R(-angle) S(1/scale)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = cos / factor
        theta[:, 0, 1] = (sin + torch.tan(skew) * cos) / factor
        theta[:, 1, 0] = -sin / factor
        theta[:, 1, 1] = (cos - torch.tan(skew) * sin) / factor
        theta[:, :, 2] = -shift
        identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device)
        theta = torch.where(chosen.view(n, 1, 1), theta, identity)
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        return F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )

    return transform


def random_translate(pixels: int = 2, p: float = 1.0) -> Transform:
    """Each image shifted by up to ±pixels whole pixels each way (zeros come in)."""
    if not isinstance(pixels, int) or isinstance(pixels, bool) or not 0 <= pixels <= 64:
        raise ValueError(f"pixels must be a whole number from 0 to 64, not {pixels!r}")
    _check("p", p, 0, 1)

    def transform(images: Any, generator: Any) -> Any:
        import torch
        import torch.nn.functional as F

        n, _, h, w = images.shape
        device = images.device
        shifts = torch.randint(-pixels, pixels + 1, (n, 2), generator=generator, device=device)
        chosen = torch.rand(n, generator=generator, device=device) < p
        shifts = shifts * chosen.view(n, 1)
        padded = F.pad(images, (pixels, pixels, pixels, pixels))
        rows = torch.arange(h, device=device).view(1, h) + pixels - shifts[:, :1]  # [n, h]
        cols = torch.arange(w, device=device).view(1, w) + pixels - shifts[:, 1:]  # [n, w]
        index = torch.arange(n, device=device).view(n, 1, 1)
        # [n, h, w, c] gathered by advanced indexing, back to [n, c, h, w]
        moved = padded.permute(0, 2, 3, 1)[index, rows.view(n, h, 1), cols.view(n, 1, w)]
        return moved.permute(0, 3, 1, 2).contiguous()

    return transform


def random_rotation(degrees: float = 10.0, p: float = 1.0) -> Transform:
    """Each image rotated about its centre by up to ±degrees (bilinear, zeros outside)."""
    return random_affine(degrees=degrees, p=p)


def random_flip(p: float = 0.5) -> Transform:
    """Each image mirrored left to right with probability p (clothes, not digits)."""
    _check("p", p, 0, 1)

    def transform(images: Any, generator: Any) -> Any:
        import torch

        chosen = torch.rand(len(images), generator=generator, device=images.device) < p
        return torch.where(chosen.view(-1, 1, 1, 1), images.flip(-1), images)

    return transform


def random_erasing(
    p: float = 0.5,
    scale: float = 0.2,
    ratio: float = 3.0,
    value: float = 0.0,
) -> Transform:
    """A random rectangle of each image set to value, with probability p (cutout).

    Its area is 2% to ``scale`` of the image, its aspect ratio 1/ratio to ratio."""
    _check("p", p, 0, 1)
    _check("scale", scale, 0.02, 1)
    _check("ratio", ratio, 1, 10)
    _check("value", value, -1e6, 1e6)

    def transform(images: Any, generator: Any) -> Any:
        import torch

        n, _, h, w = images.shape
        device = images.device
        area = _uniform(n, 0.02, scale, generator, device) * h * w
        aspect = torch.exp(_uniform(n, -math.log(ratio), math.log(ratio), generator, device))
        eh = torch.sqrt(area * aspect).round().clamp(1, h)
        ew = torch.sqrt(area / aspect).round().clamp(1, w)
        top = (torch.rand(n, generator=generator, device=device) * (h - eh + 1)).floor()
        left = (torch.rand(n, generator=generator, device=device) * (w - ew + 1)).floor()
        chosen = torch.rand(n, generator=generator, device=device) < p
        rows = torch.arange(h, device=device).view(1, h)
        cols = torch.arange(w, device=device).view(1, w)
        inside_rows = (rows >= top.view(n, 1)) & (rows < (top + eh).view(n, 1))
        inside_cols = (cols >= left.view(n, 1)) & (cols < (left + ew).view(n, 1))
        mask = inside_rows.view(n, 1, h, 1) & inside_cols.view(n, 1, 1, w) & chosen.view(n, 1, 1, 1)
        return images.masked_fill(mask, value)

    return transform


@hookimpl
def register_transforms(register):
    register("random_affine", random_affine)
    register("random_translate", random_translate)
    register("random_rotation", random_rotation)
    register("random_flip", random_flip)
    register("random_erasing", random_erasing)
