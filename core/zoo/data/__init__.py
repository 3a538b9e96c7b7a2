"""Datasets: zoo's verified download cache and downloads into it, the public API of a dataset
plugin (docs/plugins.md shows one). A plugin that brings data returns a ``zoo.Splits`` and may
use, from here only:

    fetch(url, folder, sha256=..., magic=..., max_bytes=..., deadline=...)
        a download verified (its sha256 pinned, its first bytes checked), bounded in size and
        time, streamed to a temp file and moved into the cache only when complete, under a lock;
        later calls find it in the cache (re-hashed against its record), offline too
    dataset_dir(name)      where dataset NAME keeps its files ($ZOO_HOME/datasets/NAME)
    cache_path(url, folder), is_offline(), sha256_of(path), verify(path, sha256)
    read_record(path), commit(tmp, path, source), forget(path), locked(path), clean_stale(path)
        the record beside each cached file, and how a derived file (a prepared copy) joins the
        cache the same way: written to temp_file(path), committed with its sha256
    open_picture(path), is_grey(image), photo(image, size, grey)
        a picture opened only after its header's pixel count is checked, and decoded to one
        size and mode as torchvision's Resize + CenterCrop do (zoo predict reads the same way)
    stratified(labels, share, seed), class_count(labels, classes, where), memory_bytes()
        a seeded, stratified validation share; how many classes labels make (and their names
        checked); this machine's memory (to bound what is read)
    digest(*arrays)        the sha256 of the data as read, for zoo.Splits(digest=...): cards
                           record it, and zoo reproduce says when the data differs
    shared_by_user()       whether a URL the user named may become the dataset's default copy
                           (``zoo data fetch``); otherwise data from an unpinned URL serves only
                           the runs that name it (warn with zoo.DataWarning)

These are the same guarantees zoo's own mnist_data plugin has: it uses nothing else of zoo.
"""

from __future__ import annotations

from ..files import temp_file, write_atomic
from .cache import (
    Record,
    check,
    clean_stale,
    commit,
    dataset_dir,
    forget,
    locked,
    read_record,
    sha256_of,
    shared_by_user,
    sharing,
    verify,
)
from .download import cache_path, fetch, is_offline
from .pictures import is_grey, open_picture, photo
from .samples import class_count, digest, memory_bytes, stratified

__all__ = [
    "Record",
    "cache_path",
    "check",
    "class_count",
    "clean_stale",
    "commit",
    "dataset_dir",
    "digest",
    "fetch",
    "forget",
    "is_grey",
    "is_offline",
    "locked",
    "memory_bytes",
    "open_picture",
    "photo",
    "read_record",
    "sha256_of",
    "shared_by_user",
    "sharing",
    "stratified",
    "temp_file",
    "verify",
    "write_atomic",
]
