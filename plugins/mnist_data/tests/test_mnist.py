"""The mnist dataset: downloads through requests from a local http.server, the cache and its
recorded sha256, and the restricted unpickler against hostile and broken files."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

import zoo
from zoo.download import cache_path


def load(**options):
    return zoo.create_dataset("mnist", progress=False, **options)


def test_download_gives_the_seeds_splits(server):
    splits = load(url=server.url("mnist.pkl.gz"))
    x, y = splits.train.tensors
    assert x.shape == (256, 784) and str(x.dtype) == "torch.float32"
    assert y.shape == (256,) and str(y.dtype) == "torch.int64"
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(splits.valid) == 64 and len(splits.test) == 32
    assert splits.num_classes == 10 and splits.input_shape == (1, 28, 28)


def test_second_load_uses_the_cache_and_its_recorded_sha256(server, zoo_home):
    url = server.url("mnist.pkl.gz")
    load(url=url)
    load(url=url)
    assert server.requests == ["/mnist.pkl.gz"]
    cached = cache_path(url)
    assert cached.parent == zoo_home / "downloads"
    recorded = (cached.parent / (cached.name + ".sha256")).read_text().split()
    assert recorded == [hashlib.sha256(cached.read_bytes()).hexdigest(), url]
    assert not [p for p in cached.parent.iterdir() if p.name.endswith(".part")]


def test_a_tampered_cache_is_refused_and_fetched_again(server, capfd):
    url = server.url("mnist.pkl.gz")
    load(url=url)
    cached = cache_path(url)
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")
    splits = load(url=url)
    assert len(splits.train) == 256
    assert server.requests == ["/mnist.pkl.gz", "/mnist.pkl.gz"]
    assert "does not match its recorded sha256" in capfd.readouterr().err


def test_sha256_option_is_checked(server, mnist_file):
    good = hashlib.sha256(mnist_file.read_bytes()).hexdigest()
    assert len(load(url=server.url("mnist.pkl.gz"), sha256=good).train) == 256
    with pytest.raises(zoo.DataError, match=f"expected {'0' * 64}"):
        load(path=str(mnist_file), sha256="0" * 64)


def test_path_reads_a_local_file_without_network(mnist_file, closed_port_url):
    assert len(load(path=str(mnist_file), url=closed_port_url).valid) == 64
    with pytest.raises(zoo.DataError, match="does not exist"):
        load(path=str(mnist_file.with_name("missing.pkl.gz")))


def test_no_network_is_one_clear_error(closed_port_url, zoo_home):
    with pytest.raises(zoo.DataError) as info:
        load(url=closed_port_url)
    message = str(info.value)
    assert "could not connect" in message and "dataset.path" in message
    assert "\n" not in message
    assert not list((zoo_home / "downloads").glob("*"))  # nothing half-written


def test_a_list_of_urls_is_tried_in_order(server, closed_port_url):
    splits = load(url=[closed_port_url, server.url("mnist.pkl.gz")])
    assert len(splits.train) == 256


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (404, b"not here", "text/plain", "answered 404"),
        (200, b"<html>rate limited</html>", "text/html", "did not return the expected file"),
        (200, "half", "application/gzip", "not a complete gzip file"),
        (200, gzip.compress(b"x" * 1000), "application/gzip", "not a valid MNIST pickle"),
    ],
    ids=["404", "html-with-200", "truncated-gzip", "gzip-of-garbage"],
)
def test_broken_downloads_are_refused_and_not_kept(
    server, mnist_file, status, body, content_type, expected
):
    if body == "half":
        whole = mnist_file.read_bytes()
        body = whole[: len(whole) // 2]
    server.routes["/bad.pkl.gz"] = (status, body, content_type)
    url = server.url("bad.pkl.gz")
    with pytest.raises(zoo.DataError, match=expected):
        load(url=url)
    assert not cache_path(url).exists()
    # The same cache still takes the good file afterwards.
    good = server.url("mnist.pkl.gz")
    assert len(load(url=good).train) == 256


class RunsCode:
    """A pickle payload that calls a function on load, as an attacker's would."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("where", ["top-level", "nested"])
@pytest.mark.parametrize("func", [os.system, eval], ids=["os.system", "eval"])
def test_a_malicious_pickle_is_refused_and_nothing_runs(
    tmp_path, pickle_gz, mnist_arrays, where, func
):
    marker = tmp_path / "pwned"
    code = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w')"
    payload = RunsCode(func, code)
    train, valid, test = mnist_arrays(n_train=8, n_valid=8, n_test=8)
    obj = payload if where == "top-level" else (train, (valid[0], payload), test)
    bad = pickle_gz(tmp_path / "evil.pkl.gz", obj)
    with pytest.raises(zoo.DataError, match="refused to load"):
        load(path=str(bad))
    assert not marker.exists()


def test_a_downloaded_malicious_pickle_is_not_kept_in_the_cache(server, pickle_gz, tmp_path):
    marker = tmp_path / "pwned"
    pickle_gz(server.root / "evil.pkl.gz", RunsCode(os.system, f"touch {marker}"))
    url = server.url("evil.pkl.gz")
    with pytest.raises(zoo.DataError, match="refused to load posix.system|refused to load os"):
        load(url=url)
    assert not marker.exists() and not cache_path(url).exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_load_under_every_pickle_protocol(tmp_path, pickle_gz, mnist_arrays, protocol):
    file = pickle_gz(tmp_path / "m.pkl.gz", mnist_arrays(n_train=16), protocol=protocol)
    assert len(load(path=str(file)).train) == 16


def test_wrong_shapes_and_dtypes_are_clear_errors(tmp_path, pickle_gz, mnist_arrays):
    (x, y), valid, test = mnist_arrays(n_train=8)
    cases = {
        "783 columns": ((x[:, :783], y), valid, test),
        "string labels": ((x, y.astype(str)), valid, test),
        "short labels": ((x, y[:4]), valid, test),
        "not splits": np.zeros(3),
    }
    for name, obj in cases.items():
        file = pickle_gz(tmp_path / f"{name}.pkl.gz", obj)
        with pytest.raises(zoo.DataError) as info:
            load(path=str(file))
        assert "\n" not in str(info.value), name
