"""MNIST as the seed downloads it: ``mnist.pkl.gz``, 50,000 train / 10,000 valid / 10,000 test
images of 28x28 handwritten digits, flattened to 784 floats in [0, 1].

The file is a pickle, and a pickle can run code: it is read with an unpickler that only rebuilds
numpy arrays (see ``.loader``). Registration does not import torch or numpy.
"""

from __future__ import annotations

import zoo

#: The seed's URL (the PyTorch tutorial's copy of the file).
URL = "https://github.com/pytorch/tutorials/raw/main/_static/mnist.pkl.gz"


def mnist(
    url: str | list[str] = URL,
    path: str | None = None,
    sha256: str | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
) -> zoo.Splits:
    """MNIST digits from the seed's mnist.pkl.gz: 50k train, 10k valid, 10k test."""
    from .loader import load_mnist

    return load_mnist(url=url, path=path, sha256=sha256, cache_dir=cache_dir, progress=progress)


@zoo.hookimpl
def register_datasets(register):
    register("mnist", mnist, num_classes=10, input_shape=(1, 28, 28))
