"""Fixtures shared by the core's and the plugins' tests: an isolated $ZOO_HOME, small generated
MNIST-format files, and a real HTTP server on 127.0.0.1 to download them from."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest


def pytest_configure(config):
    """The suite's own runs use one CPU thread each: two workers training on two cores with two
    threads each spend their time waiting on each other. (zoo's small models train as fast on
    one, benchmarks/speed.py; the docs' examples run as a user runs them, with the machine's
    default: tests/test_docs.py gives it back to them.)"""
    import os

    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["ZOO_TESTS_SET_THREADS"] = "1"
    if "ZOO_TESTS_MACHINE" not in os.environ:  # one for the session, its workers inherit it
        import tempfile

        lock = Path(tempfile.gettempdir()) / f"zoo-tests-machine-{os.getpid()}.lock"
        os.environ["ZOO_TESTS_MACHINE"] = str(lock)


def pytest_unconfigure(config):
    import os

    if not hasattr(config, "workerinput"):  # the session's own process, after its workers
        Path(os.environ["ZOO_TESTS_MACHINE"]).unlink(missing_ok=True)


@contextlib.contextmanager
def machine_turn(whole: bool):
    """A share of the machine (every test holds one while it runs), or all of it: a run on two
    threads beside the other worker's tests took 10x as long (two 3-epoch cnn runs at once: 53 s
    each, 5 s alone), and its thread count is part of its numbers, so the docs' examples on real
    data take the whole machine (tests/test_docs.py) while the others wait."""
    import fcntl
    import os

    fd = os.open(os.environ["ZOO_TESTS_MACHINE"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if whole else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@pytest.fixture(autouse=True)
def machine_share(request):
    if request.node.get_closest_marker("whole_machine"):  # it takes the whole machine itself
        yield
        return
    with machine_turn(whole=False):
        yield


@pytest.fixture(autouse=True)
def zoo_home(tmp_path, monkeypatch, request):
    """Every test gets its own cache and no config from the environment. Tests say which device
    they mean: the CPU (``device: auto`` means it, through ``ZOO_DEVICE``), unless marked
    ``@pytest.mark.cuda`` (run only where CUDA is, on it)."""
    home = tmp_path / "zoo-home"
    monkeypatch.setenv("ZOO_HOME", str(home))
    for var in ("ZOO_CONFIG", "ZOO_DEBUG", "ZOO_STRICT_PLUGINS", "ZOO_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    if request.node.get_closest_marker("cuda") is None:
        monkeypatch.setenv("ZOO_DEVICE", "cpu")
    return home


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.cuda`` tests are skipped where torch sees no CUDA device."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (benchmarks/gpu.py runs these on one)")
    for item in marked:
        item.add_marker(skip)


def make_mnist_arrays(n_train=256, n_valid=64, n_test=32, seed=0):
    """MNIST-shaped splits that a model can learn: each class lights up its own 4x4 patch."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 10, size=n).astype(np.int64)
        # pixels k/255, as real MNIST's are
        x = rng.integers(0, 77, size=(n, 28, 28)).astype(np.float32) / np.float32(255)
        for i, label in enumerate(y):
            row, col = divmod(int(label), 5)
            x[i, 4 + 10 * row : 8 + 10 * row, 2 + 5 * col : 6 + 5 * col] = 1.0
        return x.reshape(n, 784), y

    return split(n_train), split(n_valid), split(n_test)


def write_pickle_gz(path: Path, obj, protocol=2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def train_small(folder: Path, model: str = "logistic", *args: str, epochs: int = 2) -> Path:
    """A finished run of ``model`` on small generated data (``folder``/mnist.pkl.gz), made in
    ``folder`` with a $ZOO_HOME of its own: for a module's tests to copy and tamper with."""
    data = write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays())
    run_cli(
        "run", model, "--set", f"dataset.path={data}", "--no-progress", "--epochs", epochs,
        *args, "--out", "runs/good", cwd=folder, env={"ZOO_HOME": str(folder / "home")},
    )  # fmt: skip
    return folder / "runs" / "good"


@pytest.fixture(scope="module")
def module_data(tmp_path_factory):
    """A folder for one test module's shared runs, holding a small, valid ``mnist.pkl.gz``:
    (the folder, the file)."""
    folder = tmp_path_factory.mktemp("module")
    return folder, write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays())


@pytest.fixture
def data(tmp_path):
    """A learnable MNIST-format pickle: 512 train, 128 valid, 128 test samples."""
    return write_pickle_gz(tmp_path / "mnist.pkl.gz", make_mnist_arrays(512, 128, 128))


#: Early stopping as the tests use it: one epoch of patience, an improvement of 0.02 or more.
STOPPING = {"name": "early_stopping", "patience": 1, "min_delta": 0.02}


def train_api(tmp_path, data, out, name="logistic", epochs=3, **overrides):
    """``zoo.train`` of ``name`` on ``data`` into ``tmp_path/out``, ``overrides`` as ``--set``."""
    import zoo

    return zoo.train(
        name, overrides={"dataset.path": str(data), **overrides}, epochs=epochs, out=tmp_path / out
    )


@pytest.fixture
def mnist_file(tmp_path):
    """A small, valid ``mnist.pkl.gz`` in the tutorial's layout."""
    return write_pickle_gz(tmp_path / "files" / "mnist.pkl.gz", make_mnist_arrays())


class Server:
    """A threaded ``http.server`` on 127.0.0.1 serving files from ``root`` and canned ``routes``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # path -> (status, body, content type), or a function of the request handler
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server.root), **kwargs)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if callable(route):
                    route(self)
                    return
                if route is not None:
                    status, body, content_type = route
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        class HTTPServer(http.server.ThreadingHTTPServer):
            daemon_threads = True  # a handler that stalls on purpose must not block teardown
            block_on_close = False

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path.lstrip('/')}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(mnist_file):
    """Serves ``mnist_file``'s folder; ``server.url("mnist.pkl.gz")`` is a good download."""
    s = Server(mnist_file.parent)
    yield s
    s.close()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.pkl.gz"


@pytest.fixture
def mnist_arrays():
    """``mnist_arrays(n_train=..., ...)`` -> the three (x, y) splits, see make_mnist_arrays."""
    return make_mnist_arrays


@pytest.fixture
def pickle_gz():
    """``pickle_gz(path, obj, protocol=2)`` writes a gzipped pickle."""
    return write_pickle_gz


def make_idx(images_or_labels, magic_dims=None) -> bytes:
    """The bytes of an IDX ubyte file holding ``images_or_labels`` (a uint8 array)."""
    import numpy as np

    array = np.asarray(images_or_labels, dtype=np.uint8)
    dims = magic_dims if magic_dims is not None else array.shape
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.tobytes()


@pytest.fixture
def idx_dir(tmp_path, mnist_arrays):
    """A folder with the four official IDX files, gzipped: 120 train and 30 test images."""
    import numpy as np

    (x, y), _, (xt, yt) = mnist_arrays(n_train=120, n_valid=1, n_test=30)
    folder = tmp_path / "idx"
    folder.mkdir()
    for name, array in {
        "train-images-idx3-ubyte": (x * 255).round().astype(np.uint8).reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": y,
        "t10k-images-idx3-ubyte": (xt * 255).round().astype(np.uint8).reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": yt,
    }.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(make_idx(array)))
    return folder


@pytest.fixture
def idx_bytes():
    """``idx_bytes(array, dims=None)``: an IDX file's bytes (``dims`` may lie, for tests)."""
    return make_idx


def run_cli(*args, cwd, env=None, check=True):
    """The zoo command in this process (torch is imported once, not per call), in folder
    ``cwd`` with ``env`` added: a result with ``returncode``, ``stdout`` and ``stderr``."""
    import os
    from types import SimpleNamespace

    from click.testing import CliRunner

    from zoo.cli import cli

    before, saved = os.getcwd(), {k: os.environ.get(k) for k in env or {}}
    os.chdir(cwd)
    os.environ.update(env or {})
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        os.chdir(before)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    out = SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)
    if check and out.returncode != 0:
        raise AssertionError(f"zoo {' '.join(map(str, args))} failed:\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A temp site dir on sys.path (and PYTHONPATH, for subprocesses) to install plugins into;
    ``site.install(dist, entry_point, source)`` writes a package and its dist-info, the files
    ``pip install --target`` would."""
    import os
    import sys

    from zoo import api

    folder = tmp_path / "site"
    folder.mkdir()
    modules: list[str] = []

    def install(dist: str, entry_point: str, source: str, version: str = "1.0") -> None:
        module = "zoo_" + dist.replace("-", "_")
        (folder / module).mkdir()
        (folder / module / "__init__.py").write_text(source)
        info = folder / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: zoo-{dist}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[zoo]\n{entry_point} = {module}\n")
        (info / "RECORD").write_text("")
        modules.append(module)
        api.reset()

    from types import SimpleNamespace

    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    )
    api.reset()

    def publish(run_dir: Path, name: str) -> Path:
        """A plugin ``zoo-mine`` registering the run's best weights as ``name``; its card."""
        from zoo.runs.weights import write_card

        install(
            "mine",
            "mine",
            "import zoo, pathlib\n"
            "@zoo.hookimpl\n"
            "def register_weights(register):\n"
            f"    register({name!r}, pathlib.Path(__file__).parent / {name + '.json'!r})\n",
        )
        card = write_card(run_dir, name, folder / "zoo_mine")
        api.reset()
        return card

    yield SimpleNamespace(path=folder, install=install, publish=publish)
    api.reset()
    for module in modules:
        sys.modules.pop(module, None)


def one_line_error(result, *expected):
    """What zoo promises for a mistake or a hostile input: a non-zero exit, one ``Error:`` line
    on stderr (besides zoo's own ``zoo:`` progress lines) holding ``expected``, no traceback."""
    assert result.returncode != 0, result.stdout
    errors = [line for line in result.stderr.strip().splitlines() if not line.startswith("zoo: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in errors[0], errors[0]


PEAK = textwrap.dedent("""
    import resource, subprocess, sys
    done = subprocess.run([sys.executable, "-m", "zoo", *sys.argv[1:]], capture_output=True,
                          text=True)
    sys.stderr.write(done.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"{done.returncode} {peak}")
""")


def peak_memory(*args, cwd):
    """Exit code, stderr and peak memory (MB) of ``zoo ARGS`` in a process of its own."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PEAK, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, peak = done.stdout.split()
    return int(code), done.stderr, int(peak)


def run_process(*args, cwd, env=None, check=False, **kwargs):
    """``python -m zoo ARGS`` as a real process, as a user runs it (``env`` added)."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "zoo", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"zoo {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def pytest_terminal_summary(terminalreporter):
    """How many hostile inputs the run tried, and how many zoo met as it should (one line, no
    traceback, nothing foreign deleted): the README's reliability section quotes this line."""
    outcomes = {"passed": 0, "failed": 0}
    for outcome in outcomes:
        for report in terminalreporter.stats.get(outcome, []):
            if report.when == "call" and "hostile" in report.keywords:
                outcomes[outcome] += 1
    if sum(outcomes.values()):
        terminalreporter.write_line(
            f"hostile inputs tried: {sum(outcomes.values())}, met as they should be: "
            f"{outcomes['passed']}"
        )


EXACT = ("epoch", "train_loss", "val_loss", "val_acc")


def untimed_rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the timings, which no two runs share."""
    import json

    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    drop = ("epoch_seconds", "samples_per_s")
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in lines]


def run_metrics(run_dir):
    """A run's metrics rows, as the numbers an exact resume must repeat."""
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [tuple(row[k] for k in EXACT) for row in rows]


def run_weights(run_dir):
    """The tensors of a run's last checkpoint."""
    import json

    from safetensors.torch import load_file

    marker = json.loads((run_dir / "checkpoint.json").read_text())
    return load_file(run_dir / marker["folder"] / "model.safetensors")


# Where the run kills itself (SIGKILL, no cleanup) in a wrapper around the real CLI.
KILLER = textwrap.dedent("""
    import os, signal, sys
    import safetensors.torch
    import torch
    from zoo import files
    from zoo.runs import checkpoints, metrics

    point, epoch = sys.argv[1], int(sys.argv[2])

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    saving = {}
    real_save = checkpoints.save
    def save(run_dir, n, *args, **kwargs):
        saving["epoch"] = n
        return real_save(run_dir, n, *args, **kwargs)
    checkpoints.save = save

    real_model = safetensors.torch.save_model
    def save_model(model, filename, *args, **kwargs):
        real_model(model, filename, *args, **kwargs)
        if point == "mid-weights" and saving.get("epoch") == epoch:
            die()  # the weights are in a temp file, not yet renamed
    safetensors.torch.save_model = save_model

    real_torch_save = torch.save
    def torch_save(obj, f, *args, **kwargs):
        if point == "before-state" and saving.get("epoch") == epoch:
            die()  # the weights are in place, the state is not
        return real_torch_save(obj, f, *args, **kwargs)
    torch.save = torch_save

    real_write = files.write_atomic
    def write_atomic(path, data):
        if point == "before-marker" and path.name == "checkpoint.json" and \\
                saving.get("epoch") == epoch:
            die()  # both files are in place; the marker still names the previous checkpoint
        return real_write(path, data)
    files.write_atomic = write_atomic

    real_append = metrics.append_metrics
    def append_metrics(run_dir, row):
        if point == "before-metrics" and row["epoch"] == epoch:
            die()  # the checkpoint has landed, its metrics line has not
        real_append(run_dir, row)
        if point == "between-epochs" and row["epoch"] == epoch:
            die()
    metrics.append_metrics = append_metrics

    from zoo.cli import main
    sys.argv = ["zoo", *sys.argv[3:]]
    main()
""")


class EveryStatus:
    """Run folders below ``folder``/runs in each status a run can have (``expected``: relative
    path -> status), made as users make them: a finished run, one ended by ``stop_at``, a folder
    with a model.json that is not JSON, an empty one, and a run that trains now in another
    process (``live``), which :meth:`kill` ends with SIGKILL in the middle of an epoch."""

    def __init__(self, folder: Path) -> None:
        data = write_pickle_gz(folder / "mnist.pkl.gz", make_mnist_arrays())
        self.folder = folder
        env = {"ZOO_HOME": str(folder / "home")}
        common = ("--set", f"dataset.path={data}", "--no-progress")
        run_cli("run", "logistic", *common, "--epochs", "2", "--out", "runs/complete",
                cwd=folder, env=env)  # fmt: skip
        stop = "callbacks=[{name: stop_at, monitor: val_acc, value: 0.0, mode: max}]"
        run_cli("run", "logistic", *common, "--epochs", "5", "--set", stop, "--out",
                "runs/stopped", cwd=folder, env=env)  # fmt: skip
        shutil.copytree(folder / "runs" / "complete", folder / "runs" / "broken")
        (folder / "runs" / "broken" / "model.json").write_text("{not json")
        (folder / "runs" / "new").mkdir()
        self.live = subprocess.Popen(
            [sys.executable, "-m", "zoo", "run", "logistic", *common, "--epochs", "100000",
             "--out", "runs/training"],
            cwd=folder, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        metrics = folder / "runs" / "training" / "metrics.jsonl"
        deadline = time.monotonic() + 120
        while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
            assert time.monotonic() < deadline and self.live.poll() is None, self.live.stderr
            time.sleep(0.05)
        self.expected = {
            "runs/complete": "complete",
            "runs/stopped": "stopped",
            "runs/broken": "broken",
            "runs/new": "new",
            "runs/training": "training",
        }

    def kill(self) -> None:
        """SIGKILL the training run (mid-epoch: it trains epochs of a few milliseconds without
        pause); it is ``unfinished`` from then on."""
        self.live.kill()
        self.live.communicate(timeout=60)
        self.expected["runs/training"] = "unfinished"

    def close(self) -> None:
        if self.live.poll() is None:
            self.live.kill()
            self.live.communicate(timeout=60)


def _postgres_program(name: str) -> str | None:
    import glob

    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server of its own on 127.0.0.1, in a temp folder (Debian's package;
    .ci/run installs it and sets ZOO_REQUIRE_POSTGRES, so a missing server fails there), run as
    the ``postgres`` user when the tests run as root (PostgreSQL refuses root); stopped after."""
    import socket
    import tempfile

    initdb, pg_ctl = _postgres_program("initdb"), _postgres_program("pg_ctl")
    if initdb is None or pg_ctl is None:
        if os.environ.get("ZOO_REQUIRE_POSTGRES"):
            pytest.fail(
                "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
            )
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="zoo-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    quiet = {"capture_output": True, "text": True, "timeout": 120, "check": True}
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "zoo", "--no-sync"],
                   **quiet)  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=50"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"),
                    "-w", "start"], **quiet)  # fmt: skip
    try:
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "zoo", "-d",
                        "postgres", "-c", "CREATE DATABASE studies"], **quiet)  # fmt: skip
        yield f"postgresql://zoo@127.0.0.1:{port}/studies"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
