"""Text from outside, wherever it goes: the one printing path.

A run folder's name, a class name, a description, a card's hardware or a metric's key may come
from a run someone shared or a plugin. Shown in a terminal it must not move the cursor, clear the
screen or set the window's title; written into a CSV it must not become a spreadsheet formula;
in Markdown it must not split a row or add a link; on the page it must not reorder itself
(right-to-left overrides). Every command prints through :func:`terminal` (``zoo.cli`` and a run's
own lines), every name is cut and escaped by :func:`printable`, and the page's ``visible()``
(``zoo/ui/static/app.js``) applies the same rule, which a browser test compares with this one.
The numbers people compare (a duration, a size) have one formatter each, here too.
"""

from __future__ import annotations

import re
from typing import Any

#: What a spreadsheet reads as the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(char: str) -> str:
    """A character as Python's ``repr`` writes it inside a string: ``\\x1b``, ``\\u202e``."""
    return repr(char)[1:-1]


def printable(text: Any, limit: int = 200) -> str:
    """Text from outside (a class name, a description) as it may be printed: every character
    that is not printable (control characters and escape sequences, right-to-left overrides and
    other invisible formatting, lone surrogates) shown escaped, as ``\\x1b`` or ``\\u202e``; at
    most ``limit`` characters."""
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escaped(c) for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value: Any, limit: int = 80) -> str:
    """``value`` quoted as it can be printed in a terminal safely: ``repr`` (control characters
    and escape sequences escaped), cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def terminal(text: Any) -> str:
    """A whole message as a terminal may show it: its lines kept, everything else that is not
    printable escaped (:func:`printable` without a limit)."""
    return "\n".join(printable(line, limit=1 << 30) for line in str(text).split("\n"))


def is_plain(value: Any, limit: int = 200) -> bool:
    """Whether ``value`` is one line of printable text of at most ``limit`` characters that no
    spreadsheet reads as a formula: what a card's free text (its description, its hardware) may
    be."""
    return (
        isinstance(value, str)
        and value.isprintable()
        and len(value) <= limit
        and not value.startswith(FORMULA_START)
    )


def csv_cell(value: Any) -> Any:
    """A cell for a CSV file: text that a spreadsheet would run as a formula is prefixed with
    ``'`` (OWASP's rule), so that it is shown as the text it is; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


_MARKDOWN = re.compile(r"([\\`*\[\]|#!])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_cell(value: Any) -> str:
    """Text for one cell of a Markdown table: printable, HTML's ``&<>`` as entities, and every
    other character Markdown reads as markup (``|``, ``*``, ``[``, a ``_`` that would start
    emphasis...) escaped, so a value cannot split its row, add a column, a link or a tag."""
    text = printable(value, limit=1 << 30)
    text = re.sub("[&<>]", lambda m: _HTML[m.group(0)], text)
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), text)


def duration(seconds: float) -> str:
    """``19m 22s`` (whole seconds, rounded half to even), ``42.5s`` under a minute: how a
    training time is shown everywhere (the results table, a card, the page)."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f}s"


def si(value: float) -> str:
    """70330 -> ``70.3k``, 11065088 -> ``11.1M``: a count of parameters or FLOPs."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)
