"""YAML as zoo reads and writes it: a safe loader that knows ``1e-3`` is a float and can refuse
aliases (the "billion laughs" of a hostile file), and a dumper that writes every value in full."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import ConfigError


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster
    """YAML as people write it: ``1e-3`` is a float (YAML 1.1 alone reads it as a string)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, *, aliases: bool = True) -> Any:
    """YAML through a safe loader; ``aliases=False`` refuses ``*alias`` references, which a file
    zoo writes never has and a hostile one uses to grow without bound ("billion laughs")."""
    if not aliases and "*" in text:  # an alias is written *name: without a '*', there is none
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError("YAML aliases (*name) are not allowed in a file zoo wrote")
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    def ignore_aliases(self, data: Any) -> bool:  # every value written out in full, no *alias
        return True


def dump_yaml(value: Any) -> str:
    """A config as zoo writes it: keys in order, one value per line, no aliases."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
