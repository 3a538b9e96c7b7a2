"""Read the tutorial's ``mnist.pkl.gz`` without letting it run code."""

from __future__ import annotations

import gzip
import pickle
import zlib
from pathlib import Path

import numpy as np

import zoo

PIXELS = 28 * 28

# Everything a pickled numpy array needs, under numpy 1's and numpy 2's module names; nothing else.
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how protocol 2 stores bytes from Python 3; wrapped below
}


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` limited to what pickle uses it for: turning latin-1 text into bytes."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise Refused(f"refused to load _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class Refused(pickle.UnpicklingError):
    """The pickle asked for something other than a numpy array."""


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else: a pickle that asks for any
    other global (``os.system``, ``builtins.eval``...) is refused before anything runs."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise Refused(
                f"refused to load {module}.{name}: only numpy arrays are allowed in this file"
            )
        if module == "_codecs":
            return _latin1_encode
        module = module.replace("numpy.core.", "numpy._core.") if _NUMPY2 else module
        return getattr(__import__(module, fromlist=[name]), name)


_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def read_pickle(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``[(x, y), ...]`` splits of an MNIST-layout ``.pkl.gz``, checked for shape and dtype."""
    try:
        # Unpickle straight from the gzip stream, as the tutorial does: no second copy in memory.
        with gzip.open(path, "rb") as f:
            splits = ArrayUnpickler(f, encoding="latin-1").load()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise zoo.DataError(
            f"{path} is not a complete gzip file ({exc}); delete it or fetch it again"
        ) from exc
    except Refused as exc:
        raise zoo.DataError(f"{path}: {exc}") from exc
    except Exception as exc:  # a malformed stream: any error the pickle machine raises
        raise zoo.DataError(
            f"{path} is not a valid MNIST pickle ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(splits, (tuple, list)) or len(splits) < 2:
        raise zoo.DataError(
            f"{path}: expected (train, valid, test) splits, got {type(splits).__name__}"
        )
    names = ("train", "valid", "test")
    return [_check_split(split, names[i], path) for i, split in enumerate(splits[:3])]


def _check_split(split, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise zoo.DataError(f"{path}: the {name} split is not an (images, labels) pair")
    x, y = split
    if not (
        isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == PIXELS and x.dtype.kind == "f"
    ):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise zoo.DataError(
            f"{path}: {name} images should be float [N, {PIXELS}], got {dtype} {shape}"
        )
    low, high = (x.min(), x.max()) if x.size else (0.0, 0.0)
    if not (0 <= low and high <= 1):  # NaN compares false too
        raise zoo.DataError(
            f"{path}: {name} images hold values outside [0, 1] (from {low} to {high}): not "
            "MNIST's pixels"
        )
    if not (isinstance(y, np.ndarray) and y.shape == (len(x),) and y.dtype.kind in "iu"):
        shape = getattr(y, "shape", None)
        dtype = getattr(y, "dtype", type(y).__name__)
        raise zoo.DataError(
            f"{path}: {name} labels should be integers [{len(x)}], got {dtype} {shape}"
        )
    return x, y
