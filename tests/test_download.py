"""zoo.data.download against a real http.server on 127.0.0.1: retries, locks, kills, offline."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import zoo
from zoo.data import cache
from zoo.data.download import _check_response, cache_path, fetch

GZ = gzip.compress(os.urandom(50_000))  # incompressible: it arrives in several pieces


def flaky(failures: int, status: int = 503, headers: dict | None = None):
    """A route that answers ``status`` ``failures`` times, then the file."""
    calls = []

    def route(handler):
        calls.append(1)
        if len(calls) <= failures:
            handler.send_response(status)
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(GZ)))
        handler.end_headers()
        handler.wfile.write(GZ)

    return route


@pytest.mark.parametrize(
    ("status", "headers"), [(503, None), (500, None), (429, {"Retry-After": "0"})]
)
def test_transient_failures_are_retried_with_backoff(server, tmp_path, status, headers):
    server.routes["/f.gz"] = flaky(2, status, headers)
    path = fetch(server.url("f.gz"), tmp_path, magic=b"\x1f\x8b", progress=False, backoff=0.01)
    assert path.read_bytes() == GZ
    assert server.requests == ["/f.gz"] * 3


def test_retries_are_bounded(server, tmp_path):
    server.routes["/f.gz"] = flaky(100)
    with pytest.raises(zoo.DataError, match=r"answered 503.*gave up after 3 tries"):
        fetch(server.url("f.gz"), tmp_path, progress=False, retries=2, backoff=0.01)
    assert len(server.requests) == 3
    assert not cache_path(server.url("f.gz"), tmp_path).exists()
    assert not list(tmp_path.glob(".*.part"))


def test_a_4xx_is_not_retried(server, tmp_path):
    server.routes["/f.gz"] = flaky(100, 403)
    with pytest.raises(zoo.DataError, match="answered 403"):
        fetch(server.url("f.gz"), tmp_path, progress=False, backoff=0.01)
    assert len(server.requests) == 1


def test_an_https_download_is_never_continued_over_http():
    class Redirected:  # what requests hands back after following a redirect
        url = "http://mirror.example/mnist.pkl.gz"
        status_code = 200

    with pytest.raises(zoo.DataError, match="never continued over plain http"):
        _check_response("https://example.org/mnist.pkl.gz", Redirected())


def test_offline_never_touches_the_network(server, tmp_path, monkeypatch):
    server.routes["/f.gz"] = flaky(0)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    url = server.url("f.gz")
    with pytest.raises(zoo.DataError, match=f"offline.*looked for {cache_path(url, tmp_path)}"):
        fetch(url, tmp_path, progress=False)
    assert server.requests == []


FETCH = textwrap.dedent("""
    import sys
    from zoo.data.download import fetch
    print(fetch(sys.argv[1], sys.argv[2], progress=False))
""")


def slow(handler, body=GZ, pause=0.5):
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[:100])
    handler.wfile.flush()
    time.sleep(pause)
    handler.wfile.write(body[100:])


def test_two_processes_fetching_at_once_end_with_one_good_file(server, tmp_path):
    server.routes["/f.gz"] = slow
    url = server.url("f.gz")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FETCH, url, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1] == str(cache_path(url, tmp_path))
    assert server.requests == ["/f.gz"]  # the second waited for the lock, then found it cached
    assert cache.check(cache_path(url, tmp_path))
    assert not list(tmp_path.glob(".*.part"))


def test_a_kill_mid_download_leaves_no_file_and_the_next_run_cleans_up(server, tmp_path):
    server.routes["/f.gz"] = lambda handler: slow(handler, pause=30)
    url = server.url("f.gz")
    final = cache_path(url, tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", FETCH, url, str(tmp_path)])
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".*.part")) and not final.exists()
    server.routes["/f.gz"] = flaky(0)
    assert fetch(url, tmp_path, progress=False).read_bytes() == GZ
    assert not list(tmp_path.glob(".*.part"))


def test_a_host_that_does_not_resolve_is_not_retried(tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr("zoo.data.download.time.sleep", waits.append)  # a retry waits first
    with pytest.raises(zoo.DataError, match=r"cannot resolve zoo-test.invalid \(no network\?\)"):
        fetch("http://zoo-test.invalid/mnist.pkl.gz", tmp_path, progress=False)
    assert waits == []
