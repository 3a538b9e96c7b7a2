"""Downloads into zoo's cache: streamed to a temp file, hashed, verified, fsync'd and moved into
place only when complete, under a lock; transient failures retried with backoff, a bounded
number of times.

A cached file is keyed by its URL and has its sha256 recorded beside it; every later use re-hashes
it, and a file that no longer matches is refused and fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import cache
from ..errors import DataError

CHUNK = 1 << 16
TIMEOUT = (10.0, 30.0)  # seconds: (connect, read: the longest silence between two bytes)
RETRIES = 3  # after the first try: waits of 0.5, 1 and 2 s, so a dead server fails in seconds
BACKOFF = 0.5
MAX_WAIT = 10.0  # the most a Retry-After header can make us wait between tries


def is_offline() -> bool:
    """``ZOO_OFFLINE=1``: never touch the network."""
    return os.environ.get("ZOO_OFFLINE", "").lower() in ("1", "true", "yes")


def cache_path(url: str, folder: Path | str) -> Path:
    """Where ``url`` is cached in ``folder``: ``<hash of url>-<file name>``."""
    name = Path(urlsplit(url).path).name or "download"
    return Path(folder).expanduser() / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def fetch(
    url: str,
    folder: Path | str,
    *,
    sha256: str | None = None,
    magic: bytes | None = None,
    progress: bool = True,
    offline: bool | None = None,
    retries: int = RETRIES,
    timeout: float | tuple[float, float] = TIMEOUT,
    backoff: float = BACKOFF,
) -> Path:
    """The verified cached copy of ``url`` in ``folder``, downloading it first when needed.

    ``sha256`` pins the expected hash. ``magic`` is what the file must start with (gzip's, say),
    so an HTML error page served with status 200 is refused instead of cached.
    """
    path = cache_path(url, folder)
    offline = is_offline() if offline is None else offline
    with cache.locked(path):  # a second process waits here, then finds the file cached
        cache.clean_stale(path)
        if path.exists():
            if cache.check(path, sha256):
                return path
            print(
                f"zoo: cached {path} does not match its recorded or pinned sha256; "
                "fetching it again",
                file=sys.stderr,
            )
            cache.forget(path)
        if offline:
            raise DataError(f"offline (ZOO_OFFLINE=1): {url} is not cached (looked for {path})")
        _download(
            url,
            path,
            sha256=sha256,
            magic=magic,
            progress=progress,
            retries=retries,
            timeout=timeout,
            backoff=backoff,
        )
    return path


class _Transient(DataError):
    """A failure worth another try: 429, 5xx, a reset connection, a stalled read."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _download(url: str, path: Path, *, retries: int, backoff: float, **options) -> None:
    import requests  # only a download pays for importing requests

    with requests.Session() as session:
        for attempt in range(retries + 1):
            try:
                _attempt(session, url, path, **options)
                return
            except _Transient as exc:
                if attempt == retries:
                    tries = f"{retries + 1} tries" if retries else "1 try"
                    raise DataError(f"{exc} (gave up after {tries})") from exc
                time.sleep(min(exc.retry_after or backoff * 2**attempt, MAX_WAIT))


def _attempt(
    session,
    url: str,
    path: Path,
    *,
    sha256: str | None,
    magic: bytes | None,
    progress: bool,
    timeout,
) -> None:
    import requests

    tmp = cache.temp_file(path)
    try:
        try:
            with session.get(url, stream=True, timeout=timeout) as response:
                _check_response(url, response)
                digest = _stream(url, response, tmp, magic, progress)
        except requests.HTTPError as exc:  # raised by _check_response for 4xx
            raise DataError(f"could not download {url}: {_status(exc.response)}") from exc
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            if _caused_by(exc, ConnectionRefusedError):
                raise DataError(
                    f"could not download {url}: connection refused "
                    "(no network, or the server is down)"
                ) from exc
            if _caused_by(exc, socket.gaierror):  # no DNS: no network, retrying will not help
                host = urlsplit(url).hostname
                raise DataError(
                    f"could not download {url}: cannot resolve {host} (no network?)"
                ) from exc
            raise _Transient(f"could not download {url}: {_reason(exc)}") from exc
        except requests.RequestException as exc:
            raise DataError(f"could not download {url}: {exc}") from exc
        if sha256 and digest != sha256.lower():
            raise DataError(f"{url} has sha256 {digest}, expected {sha256.lower()}; not cached")
        cache.commit(tmp, path, url, digest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _check_response(url: str, response) -> None:
    if urlsplit(url).scheme == "https" and urlsplit(response.url).scheme != "https":
        raise DataError(
            f"{url} redirected to {response.url}: refused, an https download is "
            "never continued over plain http"
        )
    if response.status_code == 429 or response.status_code >= 500:
        raise _Transient(
            f"could not download {url}: {_status(response)}", retry_after=_retry_after(response)
        )
    response.raise_for_status()


def _stream(url: str, response, tmp: Path, magic: bytes | None, progress: bool) -> str:
    total = int(response.headers.get("content-length") or 0) or None
    digest = hashlib.sha256()
    with open(tmp, "wb") as out, _bar(total, url, progress) as bar:
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
    return digest.hexdigest()


def _status(response) -> str:
    if response is None:
        return "the server answered with an error"
    return f"the server answered {response.status_code} {response.reason or ''}".rstrip()


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether a requests error is, underneath, a ``kind`` (a refused connection, a failed
    name lookup: not worth a retry)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    return False


def _not_the_file(url: str, response) -> str:
    kind = response.headers.get("content-type", "unknown content").split(";")[0]
    return f"{url} did not return the expected file (got {kind}); not cached"


def _reason(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return "the server stopped answering (timed out)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off mid-download"
    return "the connection failed (no network, or the server is down)"


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
