"""A run's augmentation: the batch transforms its ``augment`` list names, applied in order to each
training batch on the batch's device, drawing from one generator of the run's own (on that
device) whose state every checkpoint saves. Validation and evaluation batches are never
augmented."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import PluginError


class Augmenter:
    """``augmenter(x)``: the batch ``x`` (flat rows or images) seen as images of ``input_shape``,
    each transform applied in turn without gradients, handed back in ``x``'s shape."""

    def __init__(
        self,
        transforms: Sequence[tuple[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]]],
        input_shape: tuple[int, ...],
        device: torch.device,
        seed: int,
    ) -> None:
        self.transforms = list(transforms)
        self.input_shape = tuple(input_shape)
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed((seed + 1) % 2**64)  # a stream apart from the shuffler's

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        generator = generator if generator is not None else self.generator
        with torch.no_grad():
            images = x.reshape(len(x), *self.input_shape)
            for name, transform in self.transforms:
                out = transform(images, generator)
                if not isinstance(out, torch.Tensor) or out.shape != images.shape:
                    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out)
                    raise PluginError(
                        f"transform '{name}' gave {shape} for images of {tuple(images.shape)}: "
                        "a batch transform gives back images of the same shape"
                    )
                images = out
            return images.reshape(x.shape).to(x.dtype)

    def check(self, x: torch.Tensor) -> None:
        """Transform two samples with a generator of their own (the run's stream does not move):
        a transform that fails, or gives back another shape, is one line before any training."""
        try:
            self(x, torch.Generator(device=self.device).manual_seed(0))
        except PluginError:
            raise
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200]
            names = ", ".join(name for name, _ in self.transforms)
            raise PluginError(
                f"augment ({names}) fails on two training samples: {type(exc).__name__}: {reason}"
            ) from exc

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the generator's state and its device's type."""
        return {"device": self.device.type, "state": self.generator.get_state()}

    def restore(self, saved: Any) -> bool:
        """The generator as ``saved`` left it; ``False`` when it was on another kind of device
        (a run continued elsewhere: its numbers differ anyway, and the stream starts from the
        seed)."""
        if not isinstance(saved, dict) or set(saved) != {"device", "state"}:
            raise ValueError("the augmentation state is not {device, state}")
        if saved["device"] != self.device.type:
            return False
        state = saved["state"]
        fresh = self.generator.get_state()
        if (
            not isinstance(state, torch.Tensor)
            or state.dtype != fresh.dtype
            or (state.shape != fresh.shape)
        ):
            raise ValueError("the augmentation generator's state is not one torch wrote")
        self.generator.set_state(state)
        return True
