"""Hostile and broken input, each served by a real http.server on 127.0.0.1 and fetched with
`zoo data fetch`: one clear error, a non-zero exit, no traceback, nothing run, and a cache that
still takes the good file from the same URL afterwards."""

from __future__ import annotations

import gzip
import os
import pickle
import time

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import cli

#: Counted at the end of the run: how many hostile inputs zoo was tried on.
pytestmark = pytest.mark.hostile


class RunsCode:
    """A pickle payload that calls a function when loaded, as an attacker's would."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def gz_pickle(obj) -> bytes:
    return gzip.compress(pickle.dumps(obj, protocol=2))


def payload(func, marker):
    code = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w')"
    return RunsCode(func, code)


def evil(func, where):
    def make(arrays, marker):
        train, valid, test = arrays
        bad = payload(func, marker)
        return gz_pickle(bad if where == "top" else (train, (valid[0], bad), test))

    return make


def reshaped(change):
    def make(arrays, marker):
        (x, y), valid, test = arrays
        return gz_pickle((change(x, y), valid, test))

    return make


def forever_503(handler):
    handler.send_response(503)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def stalls(good: bytes):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(good)))
        handler.end_headers()
        handler.wfile.write(good[: len(good) // 2])
        handler.wfile.flush()
        time.sleep(3)  # longer than the client's read timeout in this test

    return route


PICKLE_CASES = {
    "os.system-top-level": evil(os.system, "top"),
    "os.system-nested": evil(os.system, "nested"),
    "eval-top-level": evil(eval, "top"),
    "eval-nested": evil(eval, "nested"),
    "truncated-gzip": lambda arrays, marker: gz_pickle(arrays)[:5000],
    "html-with-200": lambda arrays, marker: (200, b"<html>Rate limit exceeded</html>", "text/html"),
    "404": lambda arrays, marker: (404, b"Not Found", "text/plain"),
    "503-forever": lambda arrays, marker: forever_503,
    "stalls-mid-body": lambda arrays, marker: stalls(gz_pickle(arrays)),
    "783-columns": reshaped(lambda x, y: (x[:, :783], y)),
    "string-labels": reshaped(lambda x, y: (x, y.astype(str))),
    "float-labels": reshaped(lambda x, y: (x, y.astype(np.float32))),
}
EXPECTED = {
    "os.system-top-level": "refused to load posix.system",
    "os.system-nested": "refused to load posix.system",
    "eval-top-level": "refused to load __builtin__.eval",
    "eval-nested": "refused to load __builtin__.eval",
    "truncated-gzip": "not a complete gzip file",
    "html-with-200": "did not return the expected file (got text/html)",
    "404": "the server answered 404",
    "503-forever": "the server answered 503",
    "stalls-mid-body": "the server stopped answering",
    "783-columns": "train images should be float32 [N, 784], got float32 (256, 783)",
    "string-labels": "refused the dtype <U21: only numbers are allowed",
    "float-labels": "train labels should be integers [256], got float32",
}


def fetch(*args):
    return CliRunner().invoke(cli, ["data", "fetch", *args])


def assert_clean_failure(result, expected):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ") and expected in result.output, result.output


@pytest.mark.parametrize("case", list(PICKLE_CASES))
def test_hostile_pickle_downloads(case, server, mnist_arrays, mnist_file, tmp_path):
    marker = tmp_path / "pwned"
    made = PICKLE_CASES[case](mnist_arrays(), marker)
    server.routes["/mirror/mnist.pkl.gz"] = (
        made if isinstance(made, tuple) or callable(made) else (200, made, "application/gzip")
    )
    url = server.url("mirror/mnist.pkl.gz")
    options = ["--set", f"url={url}", "--set", "progress=false"]
    if case == "stalls-mid-body":
        options += ["--set", "timeout=0.5", "--set", "retries=0"]
    assert_clean_failure(fetch("mnist", *options), EXPECTED[case])
    assert not marker.exists()
    # The same URL now serves the good file, and the same cache takes it.
    server.routes["/mirror/mnist.pkl.gz"] = (200, mnist_file.read_bytes(), "application/gzip")
    good = fetch("mnist", *options[:4])
    assert good.exit_code == 0, good.output
    assert "mnist: 256 train, 64 valid, 32 test" in good.output


@pytest.mark.parametrize("case", ["wrong-magic", "length-disagrees-with-header"])
def test_hostile_idx_downloads(case, server, idx_dir, idx_bytes):
    name = "train-labels-idx1-ubyte"
    good = {p.name: p.read_bytes() for p in idx_dir.iterdir()}
    for file, body in good.items():
        server.routes[f"/idx/{file}"] = (200, body, "application/gzip")
    labels = np.zeros(120, np.uint8)
    if case == "wrong-magic":
        bad = b"\x00\x00\x08\x03" + idx_bytes(labels)[4:]  # an images header on labels
        expected = "wrong magic number 00000803"
    else:
        bad = idx_bytes(labels, magic_dims=(121,))
        expected = "the header says 121 = 121 bytes but the file holds 120"
    server.routes[f"/idx/{name}.gz"] = (200, gzip.compress(bad), "application/gzip")
    options = [
        "--set",
        f"url={server.url('idx/')}",
        "--set",
        "format=idx",
        "--set",
        "progress=false",
    ]
    assert_clean_failure(fetch("mnist", *options), expected)
    server.routes[f"/idx/{name}.gz"] = (200, good[f"{name}.gz"], "application/gzip")
    result = fetch("mnist", *options)
    assert result.exit_code == 0 and "mnist: 100 train, 20 valid, 30 test" in result.output


class HugeArray:
    """About 100 bytes of allowed opcodes that ask numpy for an uninitialised 6 GB array."""

    def __reduce__(self):
        return np.ndarray, ((1_000_000, 784),)


def endless(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.end_headers()  # no Content-Length: the body ends when the server says
    handler.wfile.write(gzip.compress(b"x"))
    try:
        for _ in range(100_000):
            handler.wfile.write(b"\0" * 65536)
    except OSError:
        pass


def lies_about_its_length(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", str(50 * 10**9))
    handler.end_headers()


def trickles(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        handler.wfile.write(b"\x1f\x8b")
        for _ in range(100):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            time.sleep(0.3)  # well within the read timeout, every time
    except OSError:
        pass


@pytest.mark.parametrize(
    ("case", "options", "expected"),
    [
        ("endless", ["--set", "max_bytes=1000000"], "is larger than 1,000,000 bytes"),
        ("content-length", [], "is larger than 100,000,000 bytes"),
        ("trickles", ["--set", "deadline=1.5"], "did not finish downloading within 1.5 s"),
    ],
)
def test_a_download_is_bounded_in_size_and_time(server, zoo_home, case, options, expected):
    route = {"endless": endless, "content-length": lies_about_its_length, "trickles": trickles}
    server.routes["/big/mnist.pkl.gz"] = route[case]
    start = time.monotonic()
    result = fetch("mnist", "--set", f"url={server.url('big/mnist.pkl.gz')}",
                   "--set", "retries=0", "--set", "progress=false", *options)  # fmt: skip
    assert_clean_failure(result, expected)
    assert time.monotonic() - start < 20
    assert not [p for p in (zoo_home / "datasets").rglob("*") if p.is_file()
                and not p.name.endswith(".lock")]  # fmt: skip


def test_decoders_are_bounded_by_what_the_dataset_can_be(
    server, tmp_path, mnist_arrays, mnist_file, idx_dir, idx_bytes, monkeypatch, zoo_home
):
    from zoo_mnist_data import safe_pickle

    huge = tmp_path / "huge.pkl.gz"
    huge.write_bytes(gz_pickle(((HugeArray(), np.zeros(1, np.int64)), None)))
    assert len(huge.read_bytes()) < 500  # a few hundred bytes ask for gigabytes
    assert_clean_failure(fetch("mnist", "--set", f"path={huge}"), "refused an array of")

    monkeypatch.setattr(safe_pickle, "MAX_BYTES", 100_000)  # this small file plays a bomb
    assert_clean_failure(fetch("mnist", "--set", f"path={mnist_file}"), "unpacks to more than")
    monkeypatch.undo()

    name = "train-labels-idx1-ubyte.gz"
    folder = tmp_path / "cheat"
    folder.mkdir()
    for cheat, expected in [
        (idx_bytes(np.zeros(100, np.uint8)) + b"\0" * 5_000_000, "the file holds more"),
        (idx_bytes(np.zeros(1, np.uint8), magic_dims=(10**9,)), "announces 1,000,000,000 items"),
    ]:
        for file in idx_dir.iterdir():
            (folder / file.name).write_bytes(file.read_bytes())
        (folder / name).write_bytes(gzip.compress(cheat))
        assert_clean_failure(
            fetch("mnist", "--set", "format=idx", "--set", f"path={folder}"), expected
        )
    assert not list(zoo_home.rglob("prepared-*"))  # nothing of them is cached


MEASURE = """
import resource, sys
from click.testing import CliRunner
from zoo.cli import cli

result = CliRunner().invoke(cli, ["data", "fetch", "mnist", "--set", "path=" + sys.argv[1]])
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(result.exit_code, int(peak_mb), result.output.strip().splitlines()[-1])
"""


def bomb(path, claimed: int, unpacked: int) -> None:
    """A pickle opcode announcing ``claimed`` bytes, followed by ``unpacked`` zero bytes: a few
    hundred KB of gzip that unpacks to hundreds of MB."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"\x80\x04\x8e" + claimed.to_bytes(8, "little"))
        for _ in range(unpacked // (1 << 20)):
            f.write(b"\0" * (1 << 20))


@pytest.mark.parametrize(
    ("claimed", "unpacked"), [(8 * 10**9, 0), (300 << 20, 300 << 20), (2**60, 400 << 20)]
)
def test_a_bomb_stays_within_the_memory_the_dataset_can_need(tmp_path, claimed, unpacked):
    import subprocess
    import sys

    path = tmp_path / "bomb.pkl.gz"
    bomb(path, claimed, unpacked)
    assert path.stat().st_size < 1_000_000
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=2)
    code, peak_mb, error = int(out[0]), int(out[1]), out[2]
    assert code == 1 and error.startswith("Error: ") and "Traceback" not in error
    assert peak_mb < 1000, f"peak memory {peak_mb} MB for a {path.stat().st_size:,}-byte file"
