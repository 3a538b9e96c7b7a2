"""A prepared copy too large for the memory budget, read a batch at a time: each sample's bytes
read from the file where they lie (the kernel's page cache holds what is read often, not this
process), made floats as ``ToTensor`` makes them."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset


class OnDisk(Dataset):
    """Samples ``indices`` of the uint8 pictures at ``offset`` in ``path`` (each ``shape``), with
    their ``labels``, as ``(flat float row, label)``; ``__getitems__`` reads a whole batch."""

    def __init__(
        self, path: Path, offset: int, shape: tuple[int, int, int], indices, labels
    ) -> None:
        self.path = str(path)
        self.offset = offset
        self.each = math.prod(shape)
        self.indices = np.asarray(indices, np.int64)
        self.labels = torch.from_numpy(np.asarray(labels, np.int64))
        self._fd: tuple[int, int] | None = None  # (pid, descriptor): a worker opens its own

    def __len__(self) -> int:
        return len(self.indices)

    def _file(self) -> int:
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDONLY))
        return self._fd[1]

    def _rows(self, items) -> torch.Tensor:
        fd, each = self._file(), self.each
        out = np.empty((len(items), each), np.uint8)
        for row, i in enumerate(self.indices[items]):
            data = os.pread(fd, each, self.offset + int(i) * each)
            if len(data) != each:
                raise OSError(f"{self.path}: the prepared copy ends early")
            out[row] = np.frombuffer(data, np.uint8)
        return torch.from_numpy(out).float().div_(255)

    def __getitem__(self, i: int):
        return self._rows([i])[0], self.labels[i]

    def __getitems__(self, items: list[int]):
        rows, labels = self._rows(items), self.labels[items]
        return list(zip(rows, labels, strict=True))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fd"] = None
        return state

    def __del__(self) -> None:
        if self._fd is not None and self._fd[0] == os.getpid():
            os.close(self._fd[1])
