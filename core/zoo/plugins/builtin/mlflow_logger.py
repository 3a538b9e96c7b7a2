"""``callbacks: [mlflow]``: a run followed in MLflow (a local SQLite file or a team's tracking
server), through the MLflow client (``pip install 'torch-zoo[mlflow]'``: ``mlflow-skinny``).

What is sent: the resolved config as parameters (flattened: ``optimizer.lr``), every epoch's
numbers with the epoch as the step, tags (zoo's version, the plugins' versions, torch, the
device and hardware), and at the end the curves, the card and the best weights as artifacts.

An epoch is sent once its checkpoint is on disk (``on_saved``), so a killed and resumed run
shows one unbroken history: the MLflow run's id is kept in the checkpoint, and a resumed run
asks the server which epochs it holds and sends the rest. A tracking server that does not
answer is said in one line; training goes on (metrics.jsonl has everything) and what was not
sent goes at the next epoch the server answers. Metrics go only where this user's config (or
``MLFLOW_TRACKING_URI``) names: a shared run's checkpoint cannot send them elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ...errors import ConfigError, ZooError
from ...hookspecs import DISTRIBUTION, Callback
from ...text import printable

#: Tracking URIs zoo sends to: a server, a local SQLite file (MLflow's default), a database.
SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql", "mssql")
#: MLflow's own limits (mlflow.utils.validation): a parameter's value, a key, a batch.
MAX_PARAM, MAX_KEY, PARAMS_PER_BATCH, METRICS_PER_BATCH = 6000, 250, 100, 1000
KEY = re.compile(r"[A-Za-z0-9_.\- /:]{1,250}")
SQLITE_HEADER = b"SQLite format 3\x00"


def check_uri(uri: str) -> str:
    """A tracking URI zoo may send to, as MLflow takes it (a local one absolute): refused, in
    one line, when its scheme is not one of :data:`SCHEMES`, or it names a local path with
    ``..`` or one whose links lead somewhere else than the path named, or a file that is not a
    SQLite database (nothing of the user's is overwritten)."""
    if not isinstance(uri, str) or not uri or not uri.isprintable() or len(uri) > 2000:
        raise ConfigError(f"mlflow tracking_uri: {printable(uri, 80)!r} is not a URI")
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]
    if scheme not in SCHEMES:
        raise ConfigError(
            f"mlflow tracking_uri {printable(uri, 120)}: expected http(s)://HOST:PORT, "
            "sqlite:///PATH/mlflow.db or another of MLflow's stores "
            f"({', '.join(SCHEMES)})"
        )
    if scheme not in ("sqlite", "file"):
        if not parsed.hostname:
            raise ConfigError(f"mlflow tracking_uri {printable(uri, 120)}: names no host")
        return uri
    if parsed.netloc not in ("", "localhost"):
        raise ConfigError(
            f"mlflow tracking_uri {printable(uri, 120)}: a {scheme} URI names a path on this "
            "machine, not a host"
        )
    raw = unquote(parsed.path)
    if scheme == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db
        raw = raw[1:] if raw.startswith("/") else raw
    named = Path(raw) if raw else Path()
    if ".." in named.parts or not raw or "\x00" in raw:
        raise ConfigError(
            f"mlflow tracking_uri {printable(uri, 120)}: a path with '..' or none: name the "
            "file (or folder) itself"
        )
    named = Path(os.path.abspath(named))
    resolved = named.resolve()
    if resolved != named:
        raise ConfigError(
            f"mlflow tracking_uri {printable(uri, 120)} leads to {resolved}, outside the path "
            "named (a link): name the real path"
        )
    if scheme == "sqlite" and named.exists():
        if not named.is_file():
            raise ConfigError(f"mlflow tracking_uri: {named} is not a file: not a SQLite store")
        with open(named, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:
            raise ConfigError(
                f"mlflow tracking_uri: {named} is not a SQLite database: not written to"
            )
    if scheme == "file" and named.exists() and not named.is_dir():
        raise ConfigError(f"mlflow tracking_uri: {named} is a file, not a folder for MLflow")
    return f"sqlite:///{named}" if scheme == "sqlite" else f"file://{named}"


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow's parameters: ``{"optimizer": {"lr": 0.1}}`` ->
    ``{"optimizer.lr": "0.1"}``; lists as JSON; every value cut to MLflow's limit."""
    out: dict[str, str] = {}
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            out |= flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return out
    text = value if isinstance(value, str) else json.dumps(value)
    if prefix and KEY.fullmatch(prefix):
        out[prefix] = text[:MAX_PARAM]
    return out


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return printable(text, 160)


class MLflowLogger(Callback):
    """Sends a run's epochs to MLflow once each is saved (see the module's docstring)."""

    def __init__(self, tracking_uri: str | None, experiment: str, timeout: float) -> None:
        self.named_uri = tracking_uri
        self.experiment = experiment
        self.timeout = timeout
        self.uri: str | None = None
        self.run_id: str | None = None
        self.logged_to: str | None = None  # the URI run_id lives at (state)
        self.client: Any = None
        self.sent: int | None = None  # the last epoch the server holds; None: ask it
        self.down = False  # the server did not answer last time (said once)
        self.say: Any = print

    # --- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "tracking_uri": self.logged_to}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        run_id, uri = state.get("run_id"), state.get("tracking_uri")
        if run_id is not None and not (
            isinstance(run_id, str) and re.fullmatch(r"\w{1,64}", run_id)
        ):
            raise ValueError("run_id is not an MLflow run's id")
        if uri is not None and not (isinstance(uri, str) and uri.isprintable() and len(uri) < 2000):
            raise ValueError("tracking_uri is not a URI")
        self.run_id, self.logged_to = run_id, uri

    # --- the run's edges -----------------------------------------------------------------------

    def on_start(self, trainer: Any) -> None:
        if not trainer.is_main or trainer.dir is None:
            return
        self.say = trainer.say
        for name, value in (
            ("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(math.ceil(self.timeout)))),
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
        ):
            os.environ.setdefault(name, value)  # a server that is down costs seconds, not minutes
        import logging

        # MLflow's and Alembic's INFO lines (creating a store's tables) would cut the epochs'
        # table: warnings only, unless the user asked for MLflow's level
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        import mlflow
        from mlflow.tracking import MlflowClient

        if logging.getLogger("alembic").level == logging.NOTSET:
            logging.getLogger("alembic").setLevel(logging.WARNING)

        self.uri = check_uri(self.named_uri or mlflow.get_tracking_uri())
        if self.run_id is not None and self.logged_to != self.uri:
            # a resumed run logged elsewhere before (another folder's default, a shared run's
            # checkpoint): this user's URI is the one sent to, as a new MLflow run
            self.say(
                f"  mlflow: this run was logged to {printable(self.logged_to, 120)}; it goes to "
                f"{printable(self.uri, 120)} now, as a new MLflow run"
            )
            self.run_id = None
        self.client = MlflowClient(tracking_uri=self.uri)
        self.sync(trainer)

    def on_saved(self, trainer: Any, row: dict[str, Any]) -> None:
        """After the epoch's checkpoint: what the server does not hold yet is sent."""
        if self.client is not None:
            self.sync(trainer)

    def on_end(self, trainer: Any) -> None:
        if self.client is None:
            return
        if not self.sync(trainer):
            self.say(
                f"  mlflow: the run's end was not sent to {printable(self.uri, 120)} (it does "
                f"not answer); everything is in {trainer.dir}"
            )
            return
        try:
            for path in trainer.outputs().values():
                self.client.log_artifact(self.run_id, str(path))
            with _temporary(trainer.dir, "card.json") as card:
                card.write_text(json.dumps(trainer.card(), indent=2) + "\n", encoding="utf-8")
                self.client.log_artifact(self.run_id, str(card))
            self.client.set_terminated(self.run_id, "FINISHED")
        except ZooError as exc:
            self.say(f"  mlflow: the card was not sent: {exc}")
        except Exception as exc:  # the server went away at the end: the files are local
            self.say(f"  mlflow: the artifacts were not all sent ({_reason(exc)})")
        self.client = None

    # --- sending -------------------------------------------------------------------------------

    def sync(self, trainer: Any) -> bool:
        """Send what the server does not hold: the run (made once), then every saved epoch
        after the last it holds. ``False`` (said once) when it does not answer."""
        try:
            if self.run_id is None:
                self.run_id = self.create_run(trainer)
                self.logged_to, self.sent = self.uri, 0
            elif self.sent is None:
                self.sent = self.last_step()
            rows = [row for row in trainer.history if row["epoch"] > self.sent]
            self.send(rows)
        except Exception as exc:  # the client's errors are many kinds: all mean "not now"
            if not self.down:
                self.say(
                    f"  mlflow: {printable(self.uri, 120)} does not answer ({_reason(exc)}): "
                    "training goes on, and its epochs are sent when it answers"
                )
            self.down = True
            return False
        if self.down:
            self.say(
                f"  mlflow: {printable(self.uri, 120)} answers again: sent up to epoch {self.sent}"
            )
        self.down = False
        return True

    def create_run(self, trainer: Any) -> str:
        from mlflow.entities import Param

        experiment = self.client.get_experiment_by_name(self.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else self.client.create_experiment(self.experiment)
        )
        env = trainer.env
        tags = {"zoo.version": _zoo_version(), "zoo.run_dir": str(Path(trainer.dir).resolve())}
        for key in ("torch", "python", "device", "hardware"):
            if isinstance(env.get(key), str):
                tags[f"zoo.{key}"] = env[key]
        plugins = env.get("plugins") if isinstance(env.get("plugins"), dict) else {}
        for info in plugins.values():
            if isinstance(info, dict) and info.get("distribution") and info.get("version"):
                tags[f"zoo.plugin.{info['distribution']}"] = str(info["version"])
        tags = {k[:MAX_KEY]: printable(v, 5000) for k, v in tags.items() if KEY.fullmatch(k)}
        run = self.client.create_run(experiment_id, tags=tags, run_name=Path(trainer.dir).name)
        params = [Param(k, v) for k, v in flatten(trainer.config.to_dict()).items()]
        for i in range(0, len(params), PARAMS_PER_BATCH):
            self.client.log_batch(run.info.run_id, params=params[i : i + PARAMS_PER_BATCH])
        return run.info.run_id

    def last_step(self) -> int:
        """The last epoch the server holds of this run (0: none)."""
        history = self.client.get_metric_history(self.run_id, "train_loss")
        return max((m.step for m in history), default=0)

    def send(self, rows: list[dict[str, Any]]) -> None:
        """The rows' numbers (epoch = step), several epochs to a request; ``sent`` moves with
        each request the server took."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch: list[Any] = []
        for row in rows:
            metrics = [
                Metric(key, float(value), now, row["epoch"])
                for key, value in row.items()
                if key != "epoch"
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and KEY.fullmatch(key)
            ][:METRICS_PER_BATCH]
            if batch and len(batch) + len(metrics) > METRICS_PER_BATCH:
                self.client.log_batch(self.run_id, metrics=batch)
                self.sent, batch = batch[-1].step, []
            batch += metrics
            if not metrics:  # nothing to send of this epoch: it counts as sent
                self.sent = row["epoch"] if not batch else self.sent
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)
            self.sent = batch[-1].step


class _temporary:
    """A file of the logger's own in the run directory, removed after use."""

    def __init__(self, folder: Any, name: str) -> None:
        self.path = Path(folder) / ".mlflow-upload" / name

    def __enter__(self) -> Path:
        self.path.parent.mkdir(exist_ok=True)
        return self.path

    def __exit__(self, *exc: Any) -> None:
        self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass


def _zoo_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a source tree on the path
        return "unknown"


def mlflow(
    tracking_uri: str | None = None, experiment: str = "zoo", timeout: float = 10.0
) -> Callback:
    """Log the run to MLflow: params, every epoch's metrics, tags, artifacts (tracking_uri:
    default MLflow's own, MLFLOW_TRACKING_URI or ./mlflow.db; experiment: its name)."""
    if importlib.util.find_spec("mlflow") is None:
        raise ZooError("the mlflow callback needs MLflow's client: pip install 'torch-zoo[mlflow]'")
    if tracking_uri is not None:
        check_uri(tracking_uri)
    if (
        not isinstance(experiment, str)
        or not experiment.isprintable()
        or not 0 < len(experiment) <= 200
    ):
        raise ValueError("experiment must be a name of 1 to 200 printable characters")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        raise ValueError("timeout must be a number of seconds, more than 0 and at most 600")
    return MLflowLogger(tracking_uri, experiment, float(timeout))
