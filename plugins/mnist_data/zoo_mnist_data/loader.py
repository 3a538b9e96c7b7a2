"""Find the files of an MNIST-style dataset, verified, and turn them into ``zoo.Splits``: the
quick way through a prepared copy (``prepared``), else the files found (``sources``), parsed
(``parsing``) and prepared; the tutorial's pickle falls back to the official IDX files."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins
from zoo.data import is_offline

from .prepared import prepared, quick_splits, to_splits
from .sources import locate, recorded, remember, system_copy
from .spec import Spec


def load(spec: Spec) -> zoo.Splits:
    start = time.perf_counter()
    # The quick way: a prepared copy, found from the records of earlier downloads (no re-hashing
    # of those) or from local files (hashed: they have no record)...
    local = spec.path is not None or system_copy(spec)
    source = locate(spec) if local else recorded(spec)
    splits = quick_splits(spec, source) if source is not None else None
    if source is None and not local and spec.fallback and recorded(_idx_instead(spec)):
        return load(_idx_instead(spec))  # the official files are cached: no network at all
    if splits is None:  # ...else find and verify the files, and prepare them
        try:
            source = source if local else locate(spec)
        except zoo.DataError as exc:
            if local or not spec.fallback:
                raise
            return _from_idx_instead(spec, exc)
        splits = to_splits(prepared(spec, source), spec.classes)
    if source.downloaded and (not spec.chosen_urls or cache.shared_by_user()):
        remember(spec, source)  # the dataset's copy from now on, for loads that name no URL
    elif source.downloaded and spec.sha256 is None:
        warnings.warn(
            f"{spec.name} comes from {source.origin}, which no pin covers (dataset.sha256): it "
            f"serves only runs that name this URL, never the default {spec.name} (to make it "
            f"that: zoo data fetch {spec.name} --set url=URL)",
            zoo.DataWarning,
            stacklevel=2,
        )
    if spec.progress:
        print(
            f"zoo: {spec.name} loaded from {source.origin} in {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
    return splits


def _idx_instead(spec: Spec) -> Spec:
    """The same dataset from the official IDX files (the pickle's fallback)."""
    return replace(spec, format="idx", urls=list(spec.fallback or []), fallback=None)


def _from_idx_instead(spec: Spec, failure: zoo.DataError) -> zoo.Splits:
    """The tutorial's pickle could not be had: the same digits from the official IDX files."""
    if spec.progress:
        reason = str(failure).split(" — ")[0]
        print(f"zoo: {spec.name}: {reason}; using the official IDX files instead", file=sys.stderr)
    try:
        return load(_idx_instead(spec))
    except zoo.DataError as exc:
        raise zoo.DataError(f"{failure}; and the official IDX files: {exc}") from exc


def load_dataset(
    name: str,
    default_urls: Mapping[str, list[str]],
    classes: tuple[str, ...],
    *,
    url: str | list[str] | None,
    format: str | None,
    offline: bool | None,
    official: Mapping[str, str] | None = None,
    **options,
) -> zoo.Splits:
    """What the dataset factories share: their options (as the factory took them: each is
    written once, in its signature) -> a Spec -> Splits. ``format`` ``None`` is what ``path``
    is: a folder holds IDX files, a file is the pickle; with no path, the pickle."""
    if format is None:
        path = options.get("path")
        format = "idx" if path is not None and Path(path).expanduser().is_dir() else "pickle"
    urls = (
        default_urls.get(format, [])
        if url is None
        else [url]
        if isinstance(url, str)
        else list(url)
    )
    offline = is_offline() if offline is None else bool(offline)
    fallback = default_urls.get("idx") if url is None and format == "pickle" else None
    spec = Spec(name, format, urls, offline=offline, classes=classes, **options)
    spec.chosen_urls, spec.fallback, spec.official = url is not None, fallback, official
    return load(spec)
