"""The common torch.nn layers, registered through ``register_layers`` like any plugin's, so that
a model can be written as a list of layers in zoo.yaml. torch is imported when a layer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...hookspecs import hookimpl

#: zoo name -> (torch.nn class, one-line description)
LAYERS = {
    "linear": ("Linear", "Fully connected: linear(in_features, out_features)."),
    "conv2d": ("Conv2d", "2-D convolution: conv2d(in_channels, out_channels, kernel_size, ...)."),
    "relu": ("ReLU", "max(x, 0)."),
    "gelu": ("GELU", "Gaussian error linear unit."),
    "tanh": ("Tanh", "Hyperbolic tangent."),
    "sigmoid": ("Sigmoid", "Logistic sigmoid."),
    "avg_pool2d": ("AvgPool2d", "2-D average pooling: avg_pool2d(kernel_size, stride=None)."),
    "max_pool2d": ("MaxPool2d", "2-D max pooling: max_pool2d(kernel_size, stride=None)."),
    "adaptive_avg_pool2d": ("AdaptiveAvgPool2d", "Average pooling to a fixed output_size."),
    "flatten": ("Flatten", "Flatten all but the batch dimension."),
    "dropout": ("Dropout", "Zero elements with probability p while training."),
    "batch_norm1d": ("BatchNorm1d", "Batch norm over features: batch_norm1d(num_features)."),
    "batch_norm2d": ("BatchNorm2d", "Batch norm over channels: batch_norm2d(num_features)."),
    "layer_norm": ("LayerNorm", "Layer normalisation: layer_norm(normalized_shape)."),
    "identity": ("Identity", "Returns its input."),
}


def _factory(class_name: str, description: str) -> Callable[..., Any]:
    def build(*args: Any, **options: Any) -> Any:
        from torch import nn

        return getattr(nn, class_name)(*args, **options)

    build.__doc__ = f"{description} (torch.nn.{class_name})"
    build.__name__ = build.__qualname__ = class_name
    return build


@hookimpl
def register_layers(register):
    for name, (class_name, description) in LAYERS.items():
        register(name, _factory(class_name, description))
