"""Losses, registered through ``register_losses`` like any plugin's: the tutorial's
cross-entropy (with optional label smoothing) and the negative log-likelihood."""

from __future__ import annotations

from typing import Any

from ...hookspecs import hookimpl


def cross_entropy(label_smoothing: float = 0.0) -> Any:
    """Cross-entropy of the model's scores (F.cross_entropy), with optional label smoothing."""
    import torch

    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), not {label_smoothing}")
    return torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)


def nll() -> Any:
    """Negative log-likelihood, for models whose outputs are log-probabilities (log_softmax)."""
    import torch

    return torch.nn.NLLLoss()


@hookimpl
def register_losses(register):
    register("cross_entropy", cross_entropy)
    register("nll", nll)
