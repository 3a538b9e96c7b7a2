"""What a run prints: the config in one line, a row per epoch, the best epoch at the end, and a
live progress bar per epoch (on stderr, where someone is watching)."""

from __future__ import annotations

import sys
from typing import Any

HEADER = f"  {'epoch':>5}  {'train_loss':>10}  {'val_loss':>8}  {'val_acc':>7}  {'seconds':>7}"


def summary(config: dict[str, Any]) -> str:
    """``model cnn, dataset mnist(path=...), optimizer sgd(lr=0.05), 10 epochs, batch 64...``"""

    def section(key: str) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in config[key].items() if k != "name")
        return f"{config[key]['name']}({opts})" if opts else config[key]["name"]

    shuffled = "shuffled" if config.get("shuffle", True) else "in order"
    amp = config.get("amp", False)
    return (
        f"model {section('model')}, dataset {section('dataset')}, optimizer "
        f"{section('optimizer')}, {config['epochs']} epoch{'s' * (config['epochs'] != 1)}, "
        f"batch {config['batch_size']} "
        f"{shuffled}, seed {config.get('seed', 0)}"
        + (f", amp {'bf16' if amp is True else amp}" if amp else "")
        + (", cuda_graphs" if config.get("cuda_graphs") is True else "")
        + (
            ""
            if config.get("deterministic", True)
            else ", NOT deterministic (deterministic: false)"
        )
    )


def row_text(row: dict[str, Any]) -> str:
    return (
        f"  {row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['val_loss']:>8.4f}  "
        f"{row['val_acc']:>7.2%}  {row['epoch_seconds']:>7.1f}"
    )


def say(text: str) -> None:
    print(text, flush=True)


def quiet(text: str) -> None:
    """What a run prints when nobody asked it to (and on ranks other than 0)."""


class Bar:
    """A tqdm progress bar on stderr with live postfix values; the trainer makes one only when
    asked (no control characters in logs, and no running loss computed for nobody)."""

    def __init__(self, total: int, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=f"  {label}",
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total} {postfix}",
        )
        self.n = 0

    def update(self, n: int, **postfix: Any) -> None:
        self.n += n
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()
