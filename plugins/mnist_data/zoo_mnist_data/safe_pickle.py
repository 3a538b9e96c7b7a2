"""Read the tutorial's ``mnist.pkl.gz`` without letting it run code."""

from __future__ import annotations

import gzip
import pickle
import zlib
from pathlib import Path

import numpy as np

import zoo

PIXELS = 28 * 28
#: The most images an MNIST-layout pickle may hold (the tutorial's holds 70,000), and so the most
#: bytes it may unpickle: float32 pixels, int64 labels and room for pickle's own framing. A small
#: hostile file cannot make more than this of itself, in the stream or in arrays it asks for.
MAX_IMAGES = 100_000
MAX_BYTES = MAX_IMAGES * (PIXELS * 4 + 8) + (1 << 20)

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


def _numeric_dtype(*args) -> np.dtype:
    """``numpy.dtype`` limited to numbers: no object or gigabyte-wide void types."""
    dtype = np.dtype(*args)
    if dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise Refused(f"refused the dtype {dtype}: only numbers are allowed in this file")
    return dtype


class _Bounded:
    """A file that lets at most ``limit`` bytes be read from it: a gzip bomb stops there."""

    def __init__(self, file, limit: int) -> None:
        self.file, self.left = file, limit

    def _take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise Refused(
                f"the file unpacks to more than an MNIST-layout pickle does ({MAX_BYTES:,} bytes)"
            )
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.left + 1
        if n > self.left:  # asks for more than may remain: refused before anything is unpacked
            self.left = -1
            return self._take(b"")
        return self._take(self.file.read(n))

    def readline(self) -> bytes:
        return self._take(self.file.readline(self.left + 1))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` limited to what pickle uses it for: turning latin-1 text into bytes."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise Refused(f"refused to load _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class Refused(pickle.UnpicklingError):
    """The pickle asked for something other than a numpy array."""


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else: a pickle that asks for any
    other global (``os.system``, ``builtins.eval``...) is refused before anything runs, and the
    arrays it asks for may not add up to more than ``MAX_BYTES``."""

    def __init__(self, file, **kwargs) -> None:
        super().__init__(file, **kwargs)
        self.budget = MAX_BYTES

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise Refused(
                f"refused to load {module}.{name}: only numpy arrays are allowed in this file"
            )
        if module == "_codecs":
            return _latin1_encode
        module = module.replace("numpy.core.", "numpy._core.") if _NUMPY2 else module
        found = getattr(__import__(module, fromlist=[name]), name)
        if name == "dtype":
            return _numeric_dtype
        if name == "ndarray":
            return self._array_type()
        if name == "_reconstruct":

            def reconstruct(subtype, shape, dtype):
                self.spend(shape, dtype)
                return found(subtype, shape, dtype)

            return reconstruct
        return found

    def _array_type(self) -> type:
        """``numpy.ndarray`` as this file may call it: each array it makes is paid for first, so
        a hundred bytes of opcodes cannot ask for a 3 GB uninitialised array."""
        unpickler = self

        class Array(np.ndarray):
            def __new__(cls, shape, dtype=float, *args, **kwargs):
                unpickler.spend(shape, dtype)
                return super().__new__(cls, shape, dtype, *args, **kwargs)

        return Array

    def spend(self, shape, dtype) -> None:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise Refused(f"refused an array of shape {shape!r}")
        size = int(np.prod(dims, dtype=object)) * np.dtype(dtype).itemsize
        self.budget -= size
        if self.budget < 0:
            raise Refused(
                f"refused an array of {size:,} bytes: the file asks for more than an "
                f"MNIST-layout pickle holds ({MAX_BYTES:,} bytes)"
            )


_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def read_pickle(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``[(x, y), ...]`` splits of an MNIST-layout ``.pkl.gz``, checked for shape and dtype."""
    try:
        # Unpickle straight from the gzip stream, as the tutorial does: no second copy in memory.
        with gzip.open(path, "rb") as f:
            splits = ArrayUnpickler(_Bounded(f, MAX_BYTES), encoding="latin-1").load()
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
    x, y = (np.asarray(a) if isinstance(a, np.ndarray) else a for a in split)
    if not (
        isinstance(x, np.ndarray)
        and x.ndim == 2
        and x.shape[1] == PIXELS
        and x.dtype.kind == "f"
        and x.dtype.itemsize <= 4
    ):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise zoo.DataError(
            f"{path}: {name} images should be float32 [N, {PIXELS}], got {dtype} {shape}"
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
