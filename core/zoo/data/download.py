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
import shutil
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import DataError
from ..files import temp_file
from ..text import terminal
from . import cache

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
    max_bytes: int | None = None,
    deadline: float | None = None,
    limit_names: tuple[str, str] = ("dataset.max_bytes", "dataset.deadline"),
) -> Path:
    """The verified cached copy of ``url`` in ``folder``, downloading it first when needed.

    ``sha256`` pins the expected hash. ``magic`` is what the file must start with (gzip's, say),
    so an HTML error page served with status 200 is refused instead of cached. ``max_bytes``
    bounds the file's size and ``deadline`` the seconds the whole download (retries included)
    may take: a server that sends without end, or one byte at a time, fails instead of filling
    the disk or never finishing (``limit_names`` name the two bounds in its message). A download
    never takes the disk's last ``RESERVE`` bytes.
    """
    path = cache_path(url, folder)
    offline = is_offline() if offline is None else offline
    with cache.locked(path):  # a second process waits here, then finds the file cached
        cache.clean_stale(path)
        if path.exists():
            actual = cache.check(path)  # the file still matches its own record
            if actual and (not sha256 or actual == sha256.lower()):
                return path
            if actual:  # a good file, but not the one pinned: kept, and not used
                raise DataError(
                    f"the cached copy of {url} has sha256 {actual}, but dataset.sha256 pins "
                    f"{sha256.lower()}: not used (the cached file is kept; check the pin)"
                )
            if offline:
                raise DataError(
                    f"offline (ZOO_OFFLINE=1): the cached copy of {url} ({path}) no longer "
                    "matches its record, and nothing can be fetched"
                )
            print(
                f"zoo: cached {path} no longer matches its recorded sha256; fetching it again",
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
            limits=Limits(max_bytes, deadline, limit_names),
        )
    return path


#: The free disk space a download never takes: a file that would leave less is refused.
RESERVE = 64 << 20


class Limits:
    """How large a download may be, when it must be done by, and how much of the disk it may
    take; ``names`` say which options set the first two."""

    def __init__(
        self,
        max_bytes: int | None,
        deadline: float | None,
        names: tuple[str, str] = ("dataset.max_bytes", "dataset.deadline"),
    ) -> None:
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.names = names
        self.done_by = time.monotonic() + deadline if deadline else None
        self.free: int | None = None  # the disk's free bytes when the download began

    def check_size(self, url: str, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise DataError(
                f"{url} is larger than {self.max_bytes:,} bytes, more than it can honestly be "
                f"({self.names[0]}); not cached"
            )
        if self.free is not None and size > self.free - RESERVE:
            raise DataError(
                f"{url} needs more of the disk than is free ({self.free / 1e6:,.0f} MB, of which "
                f"zoo leaves {RESERVE >> 20} MB); not cached"
            )

    def check_time(self, url: str, wait: float = 0.0) -> None:
        if self.done_by is not None and time.monotonic() + wait > self.done_by:
            raise DataError(
                f"{url} did not finish downloading within {self.deadline:g} s "
                f"({self.names[1]}); not cached"
            )


class _Transient(DataError):
    """A failure worth another try: 429, 5xx, a reset connection, a stalled read."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _download(
    url: str, path: Path, *, retries: int, backoff: float, limits: Limits, **options
) -> None:
    import requests  # only a download pays for importing requests

    with requests.Session() as session:
        for attempt in range(retries + 1):
            try:
                _attempt(session, url, path, limits=limits, **options)
                return
            except _Transient as exc:
                if attempt == retries:
                    tries = f"{retries + 1} tries" if retries else "1 try"
                    raise DataError(f"{exc} (gave up after {tries})") from exc
                wait = min(exc.retry_after or backoff * 2**attempt, MAX_WAIT)
                limits.check_time(url, wait)
                time.sleep(wait)


def _attempt(
    session,
    url: str,
    path: Path,
    *,
    sha256: str | None,
    magic: bytes | None,
    progress: bool,
    timeout,
    limits: Limits,
) -> None:
    import requests
    import urllib3

    try:
        tmp = temp_file(path)
    except OSError as exc:
        raise DataError(f"cannot write into {path.parent}: {exc.strerror or exc}") from exc
    try:
        try:
            with session.get(url, stream=True, timeout=timeout) as response:
                _check_response(url, response)
                digest = _stream(url, response, tmp, magic, progress, limits)
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
        except urllib3.exceptions.HTTPError as exc:  # read straight from urllib3 in _stream
            raise _Transient(f"could not download {url}: {_reason(exc)}") from exc
        except OSError as exc:  # a full disk, a folder that became read-only
            raise DataError(
                f"could not save {url} into {path.parent}: {exc.strerror or exc}; not cached"
            ) from exc
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


def _stream(
    url: str, response, tmp: Path, magic: bytes | None, progress: bool, limits: Limits
) -> str:
    try:
        total = int(response.headers.get("content-length") or 0) or None
    except ValueError:
        total = None
    with contextlib.suppress(OSError):
        limits.free = shutil.disk_usage(tmp.parent).free
    if total is not None:
        limits.check_size(url, total)  # refused before a byte of it is read
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as out, _bar(total, url, progress) as bar:
        head, checked = b"", magic is None
        for chunk in _chunks(response):
            size += len(chunk)
            limits.check_size(url, size)
            limits.check_time(url)
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


def _chunks(response):
    """The body as it arrives: each read returns what one receive brought (``read1``), so a server
    that trickles one byte at a time is seen by the deadline between bytes."""
    raw = response.raw
    if not hasattr(raw, "read1"):  # urllib3 1.x
        yield from response.iter_content(CHUNK)
        return
    while chunk := raw.read1(CHUNK, decode_content=True):
        yield chunk


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
    label = terminal(f"downloading {url}")
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
