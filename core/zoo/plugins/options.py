"""What a factory takes: its options, their defaults and their types, read from its signature and
annotations, and config values checked against them before any work starts.

Values come from zoo.yaml, ``--set`` (parsed as YAML) or ``overrides`` in Python: numbers, strings,
booleans, lists and mappings. A type the checker does not know, or an annotation it cannot
evaluate, accepts anything: a plugin's factory is never refused for the way it is written.
"""

from __future__ import annotations

import collections.abc as abc
import inspect
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

EMPTY = inspect.Parameter.empty
_NONE = type(None)
_SEQUENCES = (list, tuple, abc.Sequence, abc.Iterable, abc.Collection, abc.MutableSequence)
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)


def signature(factory: Callable[..., Any]) -> inspect.Signature:
    """The factory's signature with its annotations evaluated where they can be (a builtin
    without one accepts any keyword)."""
    try:
        return inspect.signature(factory, eval_str=True)
    except (NameError, SyntaxError, TypeError, AttributeError):
        pass  # an annotation that does not evaluate: each one is tried on its own below
    except ValueError:
        return inspect.Signature([inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)])
    try:
        plain = inspect.signature(factory)
    except (TypeError, ValueError):
        return inspect.Signature([inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)])
    scope = getattr(inspect.unwrap(factory), "__globals__", {})
    params = [
        p.replace(annotation=_evaluate(p.annotation, scope)) for p in plain.parameters.values()
    ]
    return plain.replace(parameters=params)


def _evaluate(annotation: Any, scope: Mapping[str, Any]) -> Any:
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, dict(scope))  # noqa: S307 (the plugin's own annotation text)
    except Exception:
        return EMPTY


def check(value: Any, annotation: Any) -> bool:
    """Whether a config value fits ``annotation`` (``EMPTY``/unknown types: always)."""
    if annotation is EMPTY or annotation is Any or annotation is object:
        return True
    if annotation is None or annotation is _NONE:
        return value is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(check(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is typing.Annotated:
        return check(value, args[0])
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (PurePath, os.PathLike) or (
        isinstance(annotation, type) and issubclass(annotation, PurePath)
    ):
        return isinstance(value, (str, PurePath))
    if origin is abc.Callable or annotation is abc.Callable or annotation is typing.Callable:
        return callable(value)
    container = origin or annotation
    if container in _MAPPINGS:
        if not isinstance(value, abc.Mapping):
            return False
        key, item = (args + (EMPTY, EMPTY))[:2] if args else (EMPTY, EMPTY)
        return all(check(k, key) and check(v, item) for k, v in value.items())
    if container in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        if container is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(check, value, args))
        item = args[0] if args else EMPTY
        return all(check(v, item) for v in value)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # TypeVars, protocols, strings that did not evaluate...


def describe(annotation: Any) -> str:
    """``float``, ``tuple[int, ...]``, ``str | list[str] | None``: how the type reads in code."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    text = str(annotation)
    for prefix in ("typing.", "collections.abc.", "pathlib."):
        text = text.replace(prefix, "")
    return text.replace("NoneType", "None")


def shown(value: Any) -> str:
    """A value as the error shows it: ``'abc' (a string)``."""
    kinds = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    kind = kinds.get(type(value)) or ("a list" if isinstance(value, (list, tuple)) else None)
    kind = kind or ("a mapping" if isinstance(value, abc.Mapping) else type(value).__name__)
    return f"{value!r} ({kind})"
