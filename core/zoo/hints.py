"""Did-you-mean: the one place that suggests a close match for a name zoo does not know (runs,
models, config keys, plugins, kinds: every error that names an unknown thing uses it)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> str:
    """`` — did you mean 'cnn'?`` (or ``'a' or 'b'``), or ``""`` when nothing is close."""
    close = difflib.get_close_matches(str(name), sorted(set(known)), n=n, cutoff=0.6)
    return f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
