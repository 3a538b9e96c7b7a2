"""The mnist dataset from the tutorial's pickle: downloads through requests from a local
http.server, the cache with its recorded sha256, mirrors, offline use and the prepared copy."""

from __future__ import annotations

import hashlib

import pytest
import torch

import zoo
from zoo.data import cache
from zoo.data.download import cache_path
from zoo_mnist_data import DIGITS


def load(**options):
    return zoo.create_dataset("mnist", progress=False, **options)


def cached(url):
    return cache_path(url, cache.dataset_dir("mnist"))


def test_download_gives_the_seeds_splits(server, mnist_arrays):
    splits = load(url=server.url("mnist.pkl.gz"))
    x, y = splits.train.tensors
    assert x.shape == (256, 784) and x.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(splits.valid) == 64 and len(splits.test) == 32
    assert splits.num_classes == 10 and splits.input_shape == (1, 28, 28)
    (x0, y0), _, _ = mnist_arrays()
    assert torch.equal(x, torch.from_numpy(x0)) and torch.equal(y, torch.from_numpy(y0))


def test_second_load_uses_the_cache_and_its_recorded_sha256(server, zoo_home):
    url = server.url("mnist.pkl.gz")
    first = load(url=url)
    second = load(url=url)
    assert server.requests == ["/mnist.pkl.gz"]
    path = cached(url)
    assert path.parent == zoo_home / "datasets" / "mnist"
    record = cache.read_record(path)
    assert (record.sha256, record.source) == (hashlib.sha256(path.read_bytes()).hexdigest(), url)
    assert not list(path.parent.glob("*.part"))
    assert torch.equal(first.train.tensors[0], second.train.tensors[0])


def test_later_loads_read_the_prepared_copy_not_the_pickle(server, zoo_home):
    from zoo_mnist_data.prepared import read_arrays

    url = server.url("mnist.pkl.gz")
    first = load(url=url)
    (prepared,) = (zoo_home / "datasets" / "mnist").glob("prepared-*.npys")
    assert cache.read_record(prepared).source == f"prepared from {url}"
    assert read_arrays(prepared.read_bytes())["x_train"].dtype == "uint8"  # pixels are k/255
    cached(url).write_bytes(b"garbage")  # the pickle is not even opened again...
    again = load(url=url)
    assert torch.equal(first.train.tensors[0], again.train.tensors[0])
    assert server.requests == ["/mnist.pkl.gz"]
    prepared.unlink()  # ...and without a prepared copy, the changed download is fetched again
    assert len(load(url=url).train) == 256
    assert server.requests == ["/mnist.pkl.gz", "/mnist.pkl.gz"]


def test_a_tampered_prepared_copy_is_rebuilt(server, zoo_home):
    url = server.url("mnist.pkl.gz")
    load(url=url)
    (prepared,) = (zoo_home / "datasets" / "mnist").glob("prepared-*.npys")
    prepared.write_bytes(prepared.read_bytes()[:-100])
    assert len(load(url=url).train) == 256
    assert cache.check(prepared)


def test_a_tampered_download_is_refused_and_fetched_again(server, capfd, zoo_home):
    url = server.url("mnist.pkl.gz")
    load(url=url)
    path = cached(url)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    for prepared in path.parent.glob("prepared-*"):  # so that the download itself is needed
        prepared.unlink()
    assert len(load(url=url).train) == 256
    assert server.requests == ["/mnist.pkl.gz", "/mnist.pkl.gz"]
    assert "no longer matches its recorded sha256; fetching it again" in capfd.readouterr().err


def test_a_pinned_sha256_is_checked_and_names_both_hashes(server, mnist_file):
    good = hashlib.sha256(mnist_file.read_bytes()).hexdigest()
    assert len(load(url=server.url("mnist.pkl.gz"), sha256=good).train) == 256
    url = server.url("mnist.pkl.gz")
    with pytest.raises(zoo.DataError, match=f"has sha256 {good}, but dataset.sha256 pins"):
        load(url=url, sha256="0" * 64)
    assert cache.check(cached(url)) == good  # the good cached file is kept, not used
    with pytest.raises(zoo.DataError, match="the cached file is kept"):
        load(url=url, sha256="0" * 64, offline=True)  # and offline it is not "fetched again"
    assert len(load(url=url, offline=True).train) == 256
    cache.forget(cached(url))
    with pytest.raises(zoo.DataError, match=f"has sha256 {good}, expected {'0' * 64}; not cached"):
        load(url=url, sha256="0" * 64)  # a fresh download that fails its pin is not kept
    assert not cached(url).exists()
    with pytest.raises(zoo.DataError, match=f"expected {'0' * 64}"):
        load(path=str(mnist_file), sha256="0" * 64)
    assert mnist_file.exists()  # a user's own file is never deleted


def test_path_reads_a_local_file_without_network(mnist_file, closed_port_url):
    assert len(load(path=str(mnist_file), url=closed_port_url).valid) == 64
    with pytest.raises(zoo.DataError, match="does not exist"):
        load(path=str(mnist_file.with_name("missing.pkl.gz")))


def test_no_network_is_one_clear_line(closed_port_url, zoo_home):
    with pytest.raises(zoo.DataError) as info:
        load(url=closed_port_url)
    message = str(info.value)
    assert "connection refused" in message and "dataset.path" in message
    assert "\n" not in message
    assert not [
        p for p in (zoo_home / "datasets" / "mnist").glob("*") if not p.name.endswith(".lock")
    ]


def test_mirrors_are_tried_in_order_and_all_failures_reported(server, closed_port_url):
    good = server.url("mnist.pkl.gz")
    assert len(load(url=[closed_port_url, good]).train) == 256
    server.routes["/gone.pkl.gz"] = (404, b"", "text/plain")
    with pytest.raises(zoo.DataError) as info:
        load(url=[closed_port_url, server.url("gone.pkl.gz")])
    lines = str(info.value).splitlines()
    assert lines[0] == "could not get mnist from any of its 2 sources:"
    assert "connection refused" in lines[1] and "404" in lines[2]


def test_offline_uses_the_cache_and_never_the_network(server, monkeypatch):
    url = server.url("mnist.pkl.gz")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(zoo.DataError) as info:
        load(url=url)
    assert "offline (ZOO_OFFLINE=1)" in str(info.value) and str(cached(url)) in str(info.value)
    assert server.requests == []
    monkeypatch.delenv("ZOO_OFFLINE")
    load(url=url)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert len(load(url=url).train) == 256
    assert server.requests == ["/mnist.pkl.gz"]
    assert len(load(url=url, offline=False).train) == 256  # the option wins over the variable


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_load_under_every_pickle_protocol(tmp_path, pickle_gz, mnist_arrays, protocol):
    file = pickle_gz(tmp_path / "m.pkl.gz", mnist_arrays(n_train=16), protocol=protocol)
    assert len(load(path=str(file)).train) == 16


def test_pixels_that_are_not_k_over_255_are_kept_exactly(tmp_path, pickle_gz, mnist_arrays):
    (x, y), valid, test = mnist_arrays(n_train=16)
    x = x * 0.7  # not representable as uint8 / 255 or / 256
    file = pickle_gz(tmp_path / "m.pkl.gz", ((x, y), valid, test))
    for _ in range(2):  # parsed, then from the prepared copy
        assert torch.equal(load(path=str(file)).train.tensors[0], torch.from_numpy(x))


def test_fashion_mnist_reads_idx_files_with_class_names(idx_dir):
    splits = zoo.create_dataset("fashion_mnist", path=str(idx_dir), progress=False)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (100, 20, 30)
    assert splits.classes[0] == "T-shirt/top" and len(splits.classes) == 10
    assert zoo.get_dataset("fashion_mnist").meta["classes"][-1] == "Ankle boot"


def load_mnist(defaults, **options):
    """The loader behind ``zoo.create_dataset("mnist")`` with other default URLs: the factory's
    own defaults for every option not given."""
    import inspect

    from zoo_mnist_data import loader, mnist

    given = {k: p.default for k, p in inspect.signature(mnist).parameters.items()} | options
    return loader.load_dataset("mnist", defaults, DIGITS, **given)


def test_a_copy_the_user_fetched_from_a_mirror_serves_later_loads_that_name_no_url(
    server, monkeypatch, zoo_home
):
    from zoo.data import cache

    mirror = server.url("mnist.pkl.gz")
    defaults = {"pickle": ["http://127.0.0.1:9/unreachable/mnist.pkl.gz"]}
    with pytest.warns(zoo.DataWarning, match="no pin covers"):  # a run naming a URL: its own
        load_mnist(defaults, url=mirror, format="pickle", offline=False, progress=False)
    with pytest.raises(zoo.DataError, match="not cached"):
        load_mnist(defaults, url=None, format="pickle", offline=True, progress=False)
    with cache.sharing():  # what zoo data fetch NAME --set url=... does: the user says so
        fetched = load_mnist(defaults, url=mirror, format="pickle", offline=False, progress=False)
    server.requests.clear()
    again = load_mnist(defaults, url=None, format="pickle", offline=True, progress=False)
    assert server.requests == [] and len(again.train) == len(fetched.train) == 256
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert zoo.create_dataset("mnist", progress=False).train.tensors[1].shape == (256,)


def test_when_the_pickle_cannot_be_had_the_official_idx_files_are_used(
    server, idx_dir, closed_port_url, capfd
):

    server.root = idx_dir.parent  # serves the IDX files under /idx/
    defaults = {"pickle": [closed_port_url], "idx": [server.url("idx/")]}
    splits = load_mnist(defaults, url=None, format="pickle", offline=False, progress=True)
    assert (len(splits.train), len(splits.valid)) == (100, 20)
    assert "server is down); using the official IDX files instead" in capfd.readouterr().err
    with pytest.raises(zoo.DataError, match="connection refused"):  # a URL of the user's: no
        load_mnist(defaults, url=closed_port_url, format="pickle", offline=False,
            progress=False,
        )  # fmt: skip


def test_files_from_the_default_mirrors_must_be_the_official_ones(server, idx_dir):
    import gzip
    import hashlib
    from pathlib import Path

    from zoo_mnist_data import MNIST_IDX_SHA256, idx

    server.root = idx_dir.parent
    defaults = {"idx": [server.url("idx/")]}
    with pytest.raises(zoo.DataError, match="is not the official train images file"):
        load_mnist(defaults, url=None, format="idx", offline=False,
                            progress=False, official=MNIST_IDX_SHA256)  # fmt: skip
    ours = {
        role: hashlib.sha256(gzip.decompress((idx_dir / f"{name}.gz").read_bytes())).hexdigest()
        for role, name in idx.FILES.items()
    }
    splits = load_mnist(defaults, url=None, format="idx",
                                 offline=False, progress=False, official=ours)  # fmt: skip
    assert len(splits.train) == 100
    real = Path(__file__).parents[3] / "data" / "mnist"  # benchmarks/mnist_idx.py writes it
    if real.is_dir():
        for role, name in idx.FILES.items():
            assert idx.read(real / f"{name}.gz", role, MNIST_IDX_SHA256[role]).size > 0


def test_your_own_copy_of_the_official_files_serves_later_loads_offline(idx_dir):
    """zoo eval cnn.mnist offline, after a run trained on a local copy of the official files:
    their prepared copy is found by what they are, with no path and no network."""
    import gzip
    import hashlib

    from zoo_mnist_data import idx

    ours = {
        role: hashlib.sha256(gzip.decompress((idx_dir / f"{name}.gz").read_bytes())).hexdigest()
        for role, name in idx.FILES.items()
    }
    nowhere = {"idx": ["http://127.0.0.1:9/unreachable/"]}
    local = load_mnist(nowhere, url=None, path=str(idx_dir), offline=True, official=ours)
    again = load_mnist(nowhere, url=None, format="idx", offline=True, official=ours)
    assert len(again.train) == len(local.train) == 100
    assert torch.equal(again.train.tensors[0], local.train.tensors[0])
    others = {role: "0" * 64 for role in ours}  # not the official files: never the default
    elsewhere = load_mnist(nowhere, url=None, path=str(idx_dir), offline=True, official=others)
    assert len(elsewhere.train) == 100


def test_the_cached_official_files_serve_the_default_pickle_with_no_network(server, idx_dir):
    """zoo run logistic (the tutorial's pickle, no path) after the official files were cached:
    the cache first, as docs/data.md promises, instead of trying the network on every run."""
    import gzip
    import hashlib

    from zoo_mnist_data import idx

    ours = {
        role: hashlib.sha256(gzip.decompress((idx_dir / f"{name}.gz").read_bytes())).hexdigest()
        for role, name in idx.FILES.items()
    }
    defaults = {"pickle": [server.url("mnist.pkl.gz")], "idx": [server.url("idx/")]}
    load_mnist(defaults, url=None, path=str(idx_dir), offline=False, official=ours)
    server.requests.clear()
    splits = load_mnist(defaults, url=None, format="pickle", offline=False, official=ours)
    assert server.requests == []  # neither the pickle nor the IDX files were asked for
    assert len(splits.train) == 100
