"""MNIST and Fashion-MNIST: 50,000 train / 10,000 valid / 10,000 test images of 28x28, flattened
to 784 floats in [0, 1], as the tutorial uses them.

``mnist`` reads the tutorial's ``mnist.pkl.gz`` (``format: pickle``) or the official IDX files
(``format: idx``): the format is what ``path`` is (a folder of IDX files, or a file), else the
pickle; ``fashion_mnist`` reads IDX files, from a system copy when there is one. Each factory's
signature is the one place its options are written: it hands them on as they are. Downloads
are verified and cached; the pickle is read with an unpickler that only rebuilds numpy arrays.
Registering the datasets imports neither torch nor numpy.
"""

from __future__ import annotations

from collections.abc import Mapping

import zoo

#: The tutorial's copy of the pickle (the tutorial's URL).
MNIST_URLS = {
    "pickle": ["https://github.com/pytorch/tutorials/raw/main/_static/mnist.pkl.gz"],
    "idx": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
}
FASHION_URLS = {
    "idx": [
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ]
}
#: The sha256 of each official MNIST IDX file's content (uncompressed: its mirrors compress it
#: differently). The files these came from have the MD5 sums published for the official files
#: (train images 6bbc9ace898e44ae57da46a324031adb...); benchmarks/mnist_idx.py checks them. Files
#: from the default mirrors must match, so a mirror cannot hand out other digits.
MNIST_IDX_SHA256 = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: The largest file these datasets have is Fashion-MNIST's training images, 26 MB gzipped: a
#: download larger than this is not one of them (dataset.max_bytes changes it).
MAX_BYTES = 100_000_000
#: Debian's dataset-fashion-mnist package puts the official files here.
FASHION_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def mnist(
    url: str | list[str] | None = None,
    format: str | None = None,
    path: str | None = None,
    sha256: str | Mapping[str, str] | None = None,
    cache_dir: str | None = None,
    offline: bool | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
    deadline: float = 600.0,
) -> zoo.Splits:
    """MNIST digits, from the tutorial's mnist.pkl.gz or the official IDX files."""
    options = dict(
        locals()
    )  # every option, as given: the signature above is where they are written
    from . import loader

    return loader.load_dataset("mnist", MNIST_URLS, DIGITS, official=MNIST_IDX_SHA256, **options)


def fashion_mnist(
    url: str | list[str] | None = None,
    path: str | None = None,
    sha256: Mapping[str, str] | None = None,
    cache_dir: str | None = None,
    offline: bool | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 30.0,
    max_bytes: int = MAX_BYTES,
    deadline: float = 600.0,
    system_dir: str | None = FASHION_SYSTEM_DIR,
) -> zoo.Splits:
    """Zalando's Fashion-MNIST: 10 kinds of clothing, MNIST's format and sizes."""
    options = dict(locals())  # every option, as given: the signature above is where they are
    from . import loader

    return loader.load_dataset(
        "fashion_mnist", FASHION_URLS, FASHION_CLASSES, format="idx", **options
    )


@zoo.hookimpl
def register_datasets(register):
    register("mnist", mnist, num_classes=10, input_shape=(1, 28, 28), classes=DIGITS)
    register(
        "fashion_mnist",
        fashion_mnist,
        num_classes=10,
        input_shape=(1, 28, 28),
        classes=FASHION_CLASSES,
    )
