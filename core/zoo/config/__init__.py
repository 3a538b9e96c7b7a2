"""zoo.yaml and ``--set`` overrides -> one typed, checked :class:`RunConfig`.

- ``keys``: what a run config holds (sections, scalars, their types and ranges);
- ``yaml_io``: YAML read safely and written in full;
- ``overrides``: ``--set KEY=VALUE`` parsed and applied, runs merged over defaults;
- ``documents``: which zoo.yaml is in use, reading it, where each setting came from;
- ``run``: :class:`RunConfig` and :class:`Part`, resolved from a document or read back from a
  recorded mapping, revised with overrides, its options checked against their factories.
"""

from __future__ import annotations

from .documents import FILENAME, find_config, load, origins, shipped_config, source_label
from .keys import DEVICES, KEYS, PRECISIONS, REGISTRY, precision, validate
from .overrides import (
    Overrides,
    apply_overrides,
    check_data_overrides,
    merge,
    parse_override,
    parse_overrides,
)
from .run import (
    DEFAULT_LOSS,
    Part,
    RunConfig,
    best_row,
    check_options,
    recorded,
    resolve_run,
    revise,
)
from .yaml_io import dump_yaml, parse_yaml

__all__ = [
    "DEFAULT_LOSS",
    "DEVICES",
    "FILENAME",
    "KEYS",
    "PRECISIONS",
    "REGISTRY",
    "Overrides",
    "Part",
    "RunConfig",
    "apply_overrides",
    "best_row",
    "check_data_overrides",
    "check_options",
    "dump_yaml",
    "find_config",
    "load",
    "merge",
    "origins",
    "parse_override",
    "parse_overrides",
    "parse_yaml",
    "precision",
    "recorded",
    "resolve_run",
    "revise",
    "shipped_config",
    "source_label",
    "validate",
]
