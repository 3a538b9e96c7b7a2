"""Validation metrics, registered through ``register_metrics`` like any plugin's: accuracy,
top-k accuracy, accuracy per class and the confusion matrix. Each adds to tensors on the
device (no sync per batch) that a distributed run sums over its ranks."""

from __future__ import annotations

from typing import Any

from ...hookspecs import Metric, hookimpl


class _Counts(Metric):
    """Sums of ``size`` counters, made on the device of the first batch."""

    size: tuple[int, ...] = (2,)

    def __init__(self) -> None:
        self.counts: Any = None

    def reset(self) -> None:
        self.counts = None

    def _add(self, outputs: Any, values: Any) -> None:
        import torch

        if self.counts is None:
            self.counts = torch.zeros(self.size, dtype=torch.long, device=outputs.device)
        self.counts += values

    def states(self) -> list[Any]:
        return [self.counts] if self.counts is not None else []


class TopK(_Counts):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.key = "acc" if k == 1 else f"top{k}_acc"

    def update(self, outputs: Any, targets: Any) -> None:
        import torch

        top = outputs.topk(self.k, dim=1).indices
        hits = (top == targets[:, None]).any(dim=1).sum()
        self._add(outputs, torch.stack([hits, hits.new_tensor(len(targets))]))

    def compute(self) -> float:
        correct, total = self.counts.tolist() if self.counts is not None else (0, 0)
        return round(correct / total, 6) if total else float("nan")


class PerClass(_Counts):
    key = "per_class_acc"
    scalar = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.size = (2, num_classes)

    def update(self, outputs: Any, targets: Any) -> None:
        import torch

        n = self.size[1]
        right = torch.bincount(targets[outputs.argmax(dim=1) == targets], minlength=n)[:n]
        seen = torch.bincount(targets, minlength=n)[:n]
        self._add(outputs, torch.stack([right, seen]))

    def compute(self) -> list[float | None]:
        right, seen = self.counts.tolist()
        return [round(r / s, 6) if s else None for r, s in zip(right, seen, strict=True)]


class Confusion(_Counts):
    key = "confusion_matrix"
    scalar = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.size = (num_classes, num_classes)

    def update(self, outputs: Any, targets: Any) -> None:
        import torch

        n = self.size[0]
        cells = targets * n + outputs.argmax(dim=1)
        self._add(outputs, torch.bincount(cells, minlength=n * n)[: n * n].view(n, n))

    def compute(self) -> list[list[int]]:
        """Rows are the true classes, columns the predicted ones."""
        return self.counts.tolist()


def _classes(num_classes: int | None, what: str) -> int:
    if num_classes is None:
        raise ValueError(f"{what} needs the dataset's number of classes, and it gives none")
    return num_classes


def accuracy() -> Metric:
    """The share of samples whose highest score is the true class (val_acc, always recorded)."""
    return TopK(1)


def top_k(k: int = 5, num_classes: int | None = None) -> Metric:
    """The share of samples whose true class is among the k highest scores (val_topK_acc)."""
    if k < 1 or (num_classes is not None and k > num_classes):
        raise ValueError(f"k={k} does not fit a dataset of {num_classes} classes")
    return TopK(k)


def per_class_accuracy(num_classes: int | None = None) -> Metric:
    """Accuracy of each class, in class order (val_per_class_acc, a list)."""
    return PerClass(_classes(num_classes, "per_class_accuracy"))


def confusion_matrix(num_classes: int | None = None) -> Metric:
    """Counts of (true class, predicted class): rows true, columns predicted."""
    return Confusion(_classes(num_classes, "confusion_matrix"))


@hookimpl
def register_metrics(register):
    register("accuracy", accuracy)
    register("top_k", top_k)
    register("per_class_accuracy", per_class_accuracy)
    register("confusion_matrix", confusion_matrix)
