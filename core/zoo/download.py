"""Downloads into zoo's cache: streamed, hashed, verified, and moved into place only when complete.

A cached file is keyed by its URL and has its sha256 recorded beside it (``<file>.sha256``); every
later use re-hashes it, and a file that no longer matches is refused and fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from .data import zoo_home
from .errors import DataError

CHUNK = 1 << 16
TIMEOUT = (10, 60)  # seconds: (connect, read between bytes)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(url: str, cache_dir: Path | str | None = None) -> Path:
    """Where ``url`` is cached: ``<cache_dir>/<hash of url>-<file name>``."""
    folder = Path(cache_dir).expanduser() if cache_dir else zoo_home() / "downloads"
    name = Path(urlsplit(url).path).name or "download"
    return folder / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def verify(path: Path, sha256: str | None = None) -> str:
    """Hash ``path`` and check it against ``sha256`` when given; returns the hash."""
    actual = sha256_of(path)
    if sha256 and actual != sha256.lower():
        raise DataError(f"{path} has sha256 {actual}, expected {sha256.lower()}")
    return actual


def fetch(
    url: str,
    *,
    cache_dir: Path | str | None = None,
    sha256: str | None = None,
    magic: bytes | None = None,
    progress: bool = True,
) -> Path:
    """The verified cached copy of ``url``, downloading it first when needed.

    ``magic``: the bytes the file must start with (e.g. gzip's), so an HTML error page served
    with status 200 is refused instead of cached.
    """
    path = cache_path(url, cache_dir)
    if path.exists():
        if _cached_ok(path, sha256):
            return path
        print(
            f"zoo: cached {path.name} does not match its recorded sha256; fetching it again",
            file=sys.stderr,
        )
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = _download(url, path, sha256=sha256, magic=magic, progress=progress)
    _write_atomic(_sidecar(path), f"{digest}  {url}\n".encode())
    return path


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _cached_ok(path: Path, sha256: str | None) -> bool:
    try:
        recorded = _sidecar(path).read_text().split()[0]
    except (OSError, IndexError):
        return False
    actual = sha256_of(path)
    return actual == recorded and (not sha256 or actual == sha256.lower())


def _download(
    url: str, path: Path, *, sha256: str | None, magic: bytes | None, progress: bool
) -> str:
    import requests  # only a download pays for importing requests

    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        try:
            with requests.get(url, stream=True, timeout=TIMEOUT) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length") or 0) or None
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as out, _bar(total, url, progress) as bar:
                    head, checked = b"", magic is None
                    for chunk in response.iter_content(CHUNK):
                        if not checked:
                            head += chunk
                            if len(head) >= len(magic):
                                if not head.startswith(magic):
                                    raise DataError(_not_the_file(url, response))
                                checked = True
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
                    if not checked:
                        raise DataError(_not_the_file(url, response))
                    out.flush()
                    os.fsync(out.fileno())
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            reason = exc.response.reason if exc.response is not None else ""
            raise DataError(
                f"could not download {url}: the server answered {status} {reason}".rstrip()
            ) from exc
        except requests.RequestException as exc:
            raise DataError(f"could not download {url}: {_reason(exc)}") from exc
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            raise DataError(f"{url} has sha256 {actual}, expected {sha256.lower()}; not cached")
        _make_readable(tmp)
        os.replace(tmp, path)
        return actual
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _not_the_file(url: str, response) -> str:
    kind = response.headers.get("content-type", "unknown content")
    return f"{url} did not return the expected file (got {kind.split(';')[0]}); not cached"


def _reason(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError):
        return "could not connect (no network, or the server is down)"
    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    return str(exc)


def _bar(total: int | None, url: str, enabled: bool):
    label = f"downloading {url}"
    if not enabled:
        return contextlib.nullcontext(_NoBar())
    if total is None:  # no content-length: nothing to measure against
        print(label, file=sys.stderr)
        return contextlib.nullcontext(_NoBar())
    import click

    return click.progressbar(length=total, label=label, file=sys.stderr)


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _make_readable(Path(tmp))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _make_readable(path: Path) -> None:
    """mkstemp makes files only their owner can read; a cache file gets the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
