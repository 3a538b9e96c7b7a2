"""What dataset plugins that read the user's own data share: a seeded, stratified validation
share, the sha256 of the data as read (a run's card records it, so a reproduction on other data
says so), and how much memory a dataset may take on this machine."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from ..errors import ConfigError, DataError


def stratified(labels: Any, share: float, seed: int) -> tuple[Any, Any]:
    """Indices (sorted numpy arrays) of the training and the validation samples of ``labels``:
    ``share`` of each class held out at random, the same for the same ``seed``; a class of two
    or more samples keeps at least one on each side."""
    import numpy as np

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, held = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rng.shuffle(where)
        cut = int(round(share * len(where)))
        if len(where) > 1:
            cut = min(max(cut, 1), len(where) - 1)
        held.append(where[:cut])
        train.append(where[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def class_count(labels: Any, classes: Any, where: str) -> int:
    """How many classes labels 0..K-1 (a list of arrays, a split's each) make, or ``classes``
    names (at least as many); refused in one line when names are missing or one class is all."""
    count = max((int(y.max()) + 1 for y in labels if len(y)), default=0)
    if classes is not None:
        if len(classes) < count or not all(isinstance(c, str) for c in classes):
            raise ConfigError(
                f"dataset.classes: {len(classes)} names for labels 0..{count - 1}: name each"
            )
        count = len(classes)
    if count < 2:
        raise DataError(f"{where}: its labels hold one class: nothing to tell apart")
    return count


def memory_bytes() -> int:
    """This machine's memory in bytes (16 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def digest(*arrays: Any) -> str:
    """The sha256 of numpy arrays as read (each one's dtype and shape, then its bytes): the same
    for the same data however it was stored, another for any change of a value or a label."""
    import numpy as np

    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.dtype.str}{array.shape}\n".encode())
        hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()
