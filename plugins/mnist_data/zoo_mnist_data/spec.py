"""What one dataset call asked for (``Spec``) and the verified files it found (``Source``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import zoo
from zoo import data as cache  # zoo's public API for dataset plugins

from . import idx

FORMATS = ("pickle", "idx")


@dataclass
class Spec:
    """What one dataset call asked for."""

    name: str
    format: str
    urls: list[str]
    # the factory's options, as it was given them (their defaults are in its signature only)
    path: str | None
    sha256: str | Mapping[str, str] | None
    cache_dir: str | None
    offline: bool
    progress: bool
    retries: int
    timeout: float
    max_bytes: int
    deadline: float
    system_dir: str | None = None  # fashion_mnist's option: a copy the system has
    classes: tuple[str, ...] | None = None
    chosen_urls: bool = False  # the user named the URLs (else they are the dataset's defaults)
    official: Mapping[str, str] | None = None  # the IDX files' content sha256, from the defaults
    fallback: list[str] | None = None  # the official IDX files' URLs, if the pickle fails
    folder: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise zoo.ConfigError(f"dataset.format: expected pickle or idx, got {self.format!r}")
        if isinstance(self.retries, bool) or not 0 <= self.retries <= 20:
            raise zoo.ConfigError(f"dataset.retries: expected 0 to 20, got {self.retries!r}")
        if isinstance(self.max_bytes, bool) or self.max_bytes < 1:
            raise zoo.ConfigError(
                f"dataset.max_bytes: expected a size in bytes, got {self.max_bytes!r}"
            )
        if not 0 < self.deadline <= 86_400:
            raise zoo.ConfigError(
                f"dataset.deadline: expected seconds, more than 0 and at most a day, got "
                f"{self.deadline!r}"
            )
        if not 0 < self.timeout <= 3600:
            raise zoo.ConfigError(
                f"dataset.timeout: expected seconds, more than 0 and at most 3600, got "
                f"{self.timeout!r}"
            )
        self.folder = (
            Path(self.cache_dir).expanduser() if self.cache_dir else cache.dataset_dir(self.name)
        )

    def pin(self, role: str) -> str | None:
        """The pinned sha256 of a file: one string for the pickle, a mapping for IDX files."""
        if isinstance(self.sha256, Mapping):
            return self.sha256.get(idx.FILES.get(role, role)) or self.sha256.get(role)
        return self.sha256


@dataclass
class Source:
    """Verified local files, by role, and where they came from."""

    files: dict[str, Path]
    digests: dict[str, str]
    origin: str
    downloaded: bool = False  # files zoo itself put in its cache (never a user's own files)
