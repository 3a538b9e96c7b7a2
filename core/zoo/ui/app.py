"""The web app behind ``zoo ui``: a Starlette app whose JSON routes answer from zoo's Python API
only (the catalog, the results table, the runs under one folder, predictions, the validation
mistakes) and one static page (``static/``) that draws them with Plotly's own JavaScript,
served from the installed ``plotly`` package: nothing comes from the network.

What a browser may ask for is checked here before zoo reads anything: a run is named by its
path relative to the folder served, and a path that is absolute, holds ``..`` or leads out of
the folder through a link is refused; an upload is bounded before it is read whole; the Host
header must name this server (a page elsewhere cannot reach it by renaming itself), and a POST
must carry the header the page sends (a form on another site cannot). Nothing is written into a
run directory: evaluations write their pictures into a temporary folder, read back and removed.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import json
import math
import os
import tempfile
import threading
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import api
from ..api.results import seeds_cell
from ..config import dump_yaml
from ..errors import ZooError
from ..files import inside, parse_json
from ..runs.directory import find_runs, fingerprint, is_run_dir
from ..runs.metrics import LR_STEPS_KEY, MAX_SHOWN_ROWS, MetricsScan
from ..runs.rundir import RunDir
from ..text import duration, printable

STATIC = Path(__file__).parent / "static"
#: The most bytes an uploaded picture may have (a 4096 x 4096 PNG, zoo predict's largest
#: picture, compresses far below this; the pixels are bounded again when it is decoded).
MAX_UPLOAD = 16 << 20
#: The header every POST of the page carries: a cross-site form cannot send it, and a
#: cross-site script would need a CORS answer this app never gives.
POST_HEADER = "x-zoo-ui"
MAX_MISTAKES = 64  # validation samples in the Try page's grid
MAX_TOP = 10  # classes shown for a prediction


class Refused(Exception):
    """A request zoo will not answer: its status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def plotly_js() -> Path:
    """plotly.min.js as the installed ``plotly`` package ships it."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError("zoo ui needs plotly: pip install 'torch-zoo[ui]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ZooError(f"the installed plotly has no {path.name}: pip install -U 'torch-zoo[ui]'")
    return path


class Folder:
    """The runs below one folder, each named by its path relative to it. What it reads of each
    run is kept between requests, so a page that asks every second or two costs only what was
    added since (metrics.jsonl read incrementally), and one run is read by one request at a
    time (others wait for that read instead of making their own)."""

    #: The most runs whose reading is kept, the oldest forgotten first: for the list (a count
    #: and two rows each) and for runs' pages (a history of up to 4 MB each).
    MAX_KEPT = {False: 4096, True: 32}

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.resolved = self.root.resolve()
        self.lock = threading.Lock()
        self.kept: dict[bool, OrderedDict[Path, tuple[threading.Lock, MetricsScan]]]
        self.kept = {False: OrderedDict(), True: OrderedDict()}

    def runs(self) -> list[tuple[str, api.RunSummary]]:
        """Every run directory below the folder that is inside it (a link out is left out), by
        name; one deleted while the list is made is left out."""
        found = []
        for run_dir in find_runs(self.root):
            if not run_dir.resolve().is_relative_to(self.resolved):
                continue
            summary = self.summary(run_dir, history=False)
            if summary is not None:
                found.append((self.name(run_dir), summary))
        return found

    def summary(self, run_dir: Path, history: bool = True) -> api.RunSummary | None:
        """The run's summary, its metrics read on from where the last request stopped (with its
        ``history`` for the run's page, without for the list); ``None`` if it vanished. For the
        list, a run whose files' fingerprint is what it was is not read again (one training now
        always is: its process may have died without a file changing)."""
        kept = self.kept[history]
        with self.lock:
            if run_dir not in kept:
                keep = MAX_SHOWN_ROWS if history else 0
                kept[run_dir] = (threading.Lock(), RunDir(run_dir).scan(keep=keep), [None, None])
            kept.move_to_end(run_dir)
            lock, scan, last = kept[run_dir]
            while len(kept) > self.MAX_KEPT[history]:
                kept.popitem(last=False)
        with lock:
            mark = None if history else fingerprint(run_dir)
            if mark is not None and last[0] == mark and last[1].status != "training":
                return last[1]
            try:
                found = api.run_summary(run_dir, scan)
            except ZooError:
                return None
            last[:] = [mark, found]
            return found

    def name(self, run_dir: Path) -> str:
        return run_dir.relative_to(self.root).as_posix()

    def refusal(self, relative: Any) -> tuple[int, str] | None:
        """Why the page cannot open the run ``relative`` names (an HTTP status and one line),
        ``None`` when it can. The runs list asks the same, so what it offers opens."""
        if not isinstance(relative, str) or not relative or len(relative) > 4096:
            return 400, "name a run by its path in the folder zoo ui serves"
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            return 400, "its folder name is not UTF-8 text: rename it to open it here"
        pure = PurePosixPath(relative)
        windows = os.sep != "/" and "\\" in relative  # a separator there, a letter here
        if "\x00" in relative or windows or pure.is_absolute() or ".." in pure.parts:
            return 403, f"{printable(relative)}: a run is named inside the folder served"
        return None

    def run_dir(self, relative: Any) -> Path:
        """The run directory ``relative`` names, refused unless it is one, inside the folder."""
        return self._named(relative, "run", is_run_dir, "a run directory")

    def study_dir(self, relative: Any) -> Path:
        """The study folder ``relative`` names (study.json or sweep.json), inside the folder."""

        def is_study(path: Path) -> bool:
            return (path / "study.json").is_file() or (path / "sweep.json").is_file()

        return self._named(relative, "study", is_study, "a study")

    def _named(self, relative: Any, what: str, is_one: Callable[[Path], bool], kind: str) -> Path:
        """The folder ``relative`` names inside the one served, refused (an HTTP status and one
        line) unless its name is one the page may use, it stays inside, and ``is_one`` says so."""
        refused = self.refusal(relative)
        if refused is not None:
            raise Refused(*refused)
        try:
            path = inside(self.root, relative, what)
        except ZooError as exc:
            raise Refused(403, str(exc)) from exc
        if not is_one(path):
            raise Refused(404, f"{printable(relative)} is not {kind} in {self.root}")
        return self.root / relative

    def studies(self) -> list[dict[str, Any]]:
        """Every study below the folder, as the Studies table lists it (names as the runs')."""
        rows = []
        for row in api.list_studies(self.root):
            folder = row.pop("folder")
            if not folder.resolve().is_relative_to(self.resolved):
                continue
            name = self.name(folder) if folder != self.root else "."
            refused = self.refusal(name) if name != "." else None
            problem = refused[1] if refused else row["problem"]
            row["best"] = row["best"] if _finite(row["best"]) else None
            rows.append(
                row
                | {
                    "path": name if refused is None else printable(name, 500),
                    "name": printable(row["name"]) if row["name"] else None,
                    "metric": printable(row["metric"]) if row["metric"] else None,
                    "problem": printable(problem, 500) if problem else None,
                }
            )
        return rows

    def study(self, relative: str) -> dict[str, Any]:
        """A study's trials for its page: each trial's run (to open), the history of its values
        and of the best so far, the parameters' importances."""
        folder = self.study_dir(relative)
        try:
            found = api.tune_status(folder, files_only=True)
        except ZooError as exc:
            raise Refused(422, f"{printable(relative)}: {exc}") from exc
        plan = found["plan"]
        trials, best_so_far, history = [], None, []
        better = (lambda a, b: a > b) if plan.mode == "max" else (lambda a, b: a < b)
        for t in sorted(found["trials"], key=lambda t: t["number"]):
            run = None
            named = t["run_dir"]  # from the journal: one name inside the study, or none
            if isinstance(named, str) and named not in ("", ".", "..") and "/" not in named:
                for where in (t["run_dir"], f"{t['run_dir']}/seed-{plan.seed or 0}"):
                    if is_run_dir(folder / where) and self.refusal(f"{relative}/{where}") is None:
                        run = f"{relative}/{where}" if relative != "." else where
                        break
            value = t["value"] if _finite(t["value"]) else None  # inf: never reached
            trials.append({"number": t["number"], "state": t["state"], "value": value,
                           "sd": t.get("sd"), "seeds": len(t.get("seeds") or {}) or 1,
                           "params": {printable(k): v if isinstance(v, (int, float)) else
                                      printable(v) for k, v in t["params"].items()},
                           "epochs": t["epochs"], "run": run})  # fmt: skip
            if t["state"] == "complete" and value is not None:
                if best_so_far is None or better(value, best_so_far):
                    best_so_far = value
                history.append({"number": t["number"], "value": value, "best": best_so_far})
        keys = list(plan.grid or plan.space)
        return {
            "path": relative, "kind": "sweep" if plan.grid is not None else "search",
            "name": printable(plan.name), "metric": printable(plan.metric), "mode": plan.mode,
            "keys": [printable(k) for k in keys], "trials": trials, "history": history,
            "best": found["best"]["number"] if found["best"] else None,
            "importances": {printable(k): v for k, v in found["importances"].items()},
        }  # fmt: skip


def run_row(folder: Folder, name: str, summary: api.RunSummary) -> dict[str, Any]:
    """One run as the runs table shows it; a run the page cannot open (its name) is a row that
    says why, as a broken one does."""
    config = summary.config
    refused = folder.refusal(name)
    problem = refused[1] if refused else summary.problem
    row: dict[str, Any] = {
        "path": name if refused is None else printable(name, 500),
        "date": summary.date,
        "epochs_done": summary.epochs_done,
        "in_use": summary.in_use,
        "status": "broken" if problem else summary.status,
        "reason": printable(problem or summary.reason, 500) if problem or summary.reason else None,
        "problem": printable(problem, 500) if problem else None,
    }
    if config is not None:
        row |= {
            "name": config.name,
            "model": config.model.name,
            "dataset": config.dataset.name,
            "epochs": config.epochs,
            "monitor": config.monitor,
            "best": _scalars(summary.best) if summary.best else None,
            "input_shape": list(summary.input_shape) if summary.input_shape else None,
        }
    return row


def _scalars(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row's numbers (a curve each) and the rate within its epoch (``lr_steps``);
    other lists such as a confusion matrix are left out."""
    numbers: dict[str, Any] = {
        key: value
        for key, value in row.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }
    rates = row.get(LR_STEPS_KEY)
    if isinstance(rates, list) and all(_rate(r) for r in rates):
        numbers[LR_STEPS_KEY] = rates
    return numbers


def _rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _entry(kind: str, name: str) -> dict[str, Any]:
    entry = api.get(kind, name)
    try:
        options = [entry.option_text(k) for k in entry.user_options()]
    except Exception as exc:  # a plugin's factory may be anything: its own row says so
        options = [f"(cannot read its options: {printable(exc)})"]
    return {
        "name": name,
        "description": entry.description,
        "plugin": entry.plugin,
        "options": options,
    }


def _card(name: str) -> dict[str, Any]:
    card = api.get_weights(name)
    config = card.recipe.get("config")
    return {
        "name": name,
        "summary": card.summary(),
        "description": card.description,
        "model": card.model,
        "options": dict(card.options),
        "dataset": dict(card.dataset),
        "metrics": {k: v for k, v in card.metrics.items() if not isinstance(v, (list, dict))},
        "parameters": card.parameters,
        "flops": card.flops,
        "train_seconds": card.train_seconds,
        "trained_in": duration(card.train_seconds) if card.train_seconds is not None else None,
        "hardware": card.hardware,
        "sha256": card.sha256,
        "size": card.size,
        "where": card.where,
        "recipe": dump_yaml(config) if isinstance(config, dict) else None,
        "reproduce": f"zoo reproduce {name}",
        "input_shape": list(card.input_shape),
    }


def build_app(root: Path, allowed_hosts: list[str]) -> Starlette:
    """The app serving the catalog and the runs under ``root`` to browsers that call this
    server by one of ``allowed_hosts``."""
    folder = Folder(root)
    plotly = plotly_js()

    def source(kind: Any, name: Any) -> tuple[str, str]:
        """What a prediction uses: registered weights, or a run's best weights."""
        if kind == "weights":
            if not isinstance(name, str) or name not in api.list_weights():
                raise Refused(404, f"no weights named {printable(name)} (see the Catalog)")
            return name, "last"
        if kind == "run":
            return str(folder.run_dir(name)), "best"
        raise Refused(400, "source kind: expected weights or run")

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def plotly_route(request: Request) -> Response:
        return FileResponse(plotly, media_type="text/javascript")

    def catalog(request: Request) -> dict[str, Any]:
        kinds = {
            kind: [_entry(kind, row.name) for row in api.listing(kind)]
            for kind in ("models", "datasets")
        }
        return {"folder": str(folder.resolved), **kinds}

    def results(request: Request) -> Any:
        params = request.query_params
        try:
            rows = api.results(sort=params.get("sort", "dataset"), reverse="reverse" in params)
        except ZooError as exc:
            raise Refused(400, str(exc)) from exc
        table = json.loads(api.format_results(rows, "json", commands=True))
        for item, row in zip(table, rows, strict=True):  # cells as zoo list weights writes them
            seconds = item["train_seconds"]
            item["trained_in"] = duration(seconds) if seconds is not None else None
            item["over_seeds"] = seeds_cell(row)
        return table

    def try_sources(request: Request) -> dict[str, Any]:
        """What the Try page can use: every usable weights entry, then every run with a
        finished epoch, each with its input; ``default`` is the best weights for the canvas
        (a grey 28 x 28 digit: the ten digits' classes first, then the highest test
        accuracy)."""
        sources = []
        for row in api.results(sort="test_acc"):
            if row.problem is None:
                card = api.get_weights(row.name)
                digits = [str(c) for c in card.classes] == [str(d) for d in range(10)]
                label = f"{row.name} ({_percent(row.test_acc)} on {row.dataset})"
                sources.append(_source("weights", row.name, label, card.input_shape, digits))
        for name, summary in folder.runs():
            if summary.problem is None and summary.epochs_done and folder.refusal(name) is None:
                label = f"{name} ({summary.config.model.name}, best weights)"
                sources.append(_source("run", name, label, summary.input_shape, False))
        drawable = [s for s in sources if s["drawable"]]
        best = next((s for s in drawable if s["digits"]), drawable[0] if drawable else None)
        default = best or (sources[0] if sources else None)
        return {
            "folder": str(folder.resolved),
            "sources": sources,
            "default": default["value"] if default else None,
        }

    def weights(request: Request) -> dict[str, Any]:
        name = request.path_params["name"]
        if name not in api.list_weights():
            raise Refused(404, f"no weights named {printable(name)}")
        return _card(name)

    def runs(request: Request) -> dict[str, Any]:
        listed = [run_row(folder, name, summary) for name, summary in folder.runs()]
        return {"folder": str(folder.resolved), "runs": listed}

    def studies(request: Request) -> dict[str, Any]:
        return {"folder": str(folder.resolved), "studies": folder.studies()}

    def study(request: Request) -> dict[str, Any]:
        return folder.study(request.query_params.get("path"))

    def run(request: Request) -> dict[str, Any]:
        name = request.query_params.get("path")
        run_dir = folder.run_dir(name)
        summary = folder.summary(run_dir)
        if summary is None:
            raise Refused(404, f"{printable(name)} is not a run directory (anymore)")
        body = run_row(folder, name, summary)
        if summary.config is not None:
            body["config"] = dump_yaml(summary.config.to_dict())
            body["history"] = [_scalars(row) for row in summary.history]
            body["confusion"] = api.confusion_matrices(summary)
            progress = RunDir(run_dir).progress if summary.in_use else None
            if progress is not None and progress["epoch"] == summary.epochs_done + 1:
                body["progress"] = progress  # the epoch training now, as far as it got
        return body

    async def predict(request: Request) -> Any:
        params = request.query_params
        name, which = source(params.get("kind"), params.get("source"))
        top = _int(params.get("top", "5"), 1, MAX_TOP, "top")
        picture = printable(params.get("name") or "the picture", 100)  # as the page calls it
        data = await _body(request, MAX_UPLOAD)
        if not data:
            raise Refused(400, "no picture was sent")
        return await run_in_threadpool(_predict, name, which, picture, data, top)

    async def mistakes(request: Request) -> Any:
        params = await _json(request)
        name, which = source(params.get("kind"), params.get("source"))
        count = _int(str(params.get("count", 32)), 1, MAX_MISTAKES, "count")
        data = params.get("data") or None  # where the dataset is, as --set dataset.path says
        if data is not None and (not isinstance(data, str) or len(data) > 4096 or "\x00" in data):
            raise Refused(400, "the dataset's path must be a path")
        return await run_in_threadpool(_mistakes, name, which, count, data)

    routes = [
        Route("/", index),
        Route("/vendor/plotly.min.js", plotly_route),
        Route("/api/catalog", _answer(catalog)),
        Route("/api/results", _answer(results)),
        Route("/api/weights/{name}", _answer(weights)),
        Route("/api/runs", _answer(runs)),
        Route("/api/try", _answer(try_sources)),
        Route("/api/run", _answer(run)),
        Route("/api/studies", _answer(studies)),
        Route("/api/study", _answer(study)),
        Route("/api/predict", _answer(predict), methods=["POST"]),
        Route("/api/mistakes", _answer(mistakes), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)]
    return Starlette(routes=routes, middleware=middleware)


def _answer(handler: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
    """``handler``'s answer as JSON; a refusal or a zoo error as ``{"error": one line}``. A
    synchronous handler (it reads files) runs in a worker thread."""

    async def route(request: Request) -> Response:
        if request.method == "POST" and request.headers.get(POST_HEADER) != "1":
            return JSONResponse({"error": "refused: not sent by zoo ui's page"}, status_code=403)
        try:
            if inspect.iscoroutinefunction(handler):
                body = await handler(request)
            else:
                body = await run_in_threadpool(handler, request)
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except ZooError as exc:  # its lines kept (a download's sources, one a line)
            lines = [printable(line, 500) for line in str(exc).splitlines()[:20]]
            return JSONResponse({"error": "\n".join(lines)}, status_code=422)
        except Exception as exc:  # a plugin's card or model may raise anything: one line
            if os.environ.get("ZOO_DEBUG"):
                traceback.print_exc()
            problem = f"{type(exc).__name__}: {printable(exc, 500)} (ZOO_DEBUG=1 shows where)"
            return JSONResponse({"error": problem}, status_code=500)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return route


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _int(text: Any, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise Refused(400, f"{what} must be a whole number") from None
    if not low <= value <= high:
        raise Refused(400, f"{what} must be from {low} to {high}")
    return value


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, refused as soon as it holds more than ``limit`` bytes."""
    too_large = f"the upload is larger than {limit:,} bytes: zoo reads smaller ones"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, too_large)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    try:  # plain JSON only: nesting deep enough to exhaust the stack is a 400, as any bad body
        body = parse_json(await _body(request, 64 << 10))
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "expected a JSON object") from None
    if not isinstance(body, dict):
        raise Refused(400, "expected a JSON object")
    return body


def _predict(name: str, which: str, picture: str, data: bytes, top: int) -> dict[str, Any]:
    """``zoo.predict`` of one uploaded picture, read from its bytes (messages name it as the
    page does)."""
    [(_, classes)] = api.predict(name, [(picture, data)], top=top, which=which)
    return {"predictions": [[label, probability] for label, probability in classes]}


def _source(kind: str, name: str, label: str, shape: Any, digits: bool) -> dict[str, Any]:
    shape = list(shape) if shape else None
    return {
        "value": f"{kind}:{name}",
        "kind": kind,
        "source": name,
        "label": label,
        "input_shape": shape,
        # the canvas draws a grey picture (280 x 280, read at the model's size): grey models only
        "drawable": bool(shape) and len(shape) == 3 and shape[0] == 1,
        "digits": digits,
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _mistakes(name: str, which: str, count: int, data: str | None) -> dict[str, Any]:
    """The ``count`` validation samples with the highest loss (mistakes first), as
    ``zoo.evaluate(top_losses=...)`` finds and draws them, into a temporary folder; ``data`` is
    where the dataset is when it is not where the weights' config says (or not in the cache)."""
    overrides = {"dataset.path": data} if data else None
    with tempfile.TemporaryDirectory(prefix="zoo-ui-") as folder:
        result = api.evaluate(  # with this process's threads: a run's never become the server's
            name,
            "valid",
            which=which,
            overrides=overrides,
            out=folder,
            top_losses=count,
            threads="auto",
        )
        picture = result.get("picture")
        image = Path(picture).read_bytes() if picture else b""
    rows = [
        {key: row[key] for key in ("index", "true_name", "predicted_name", "probability", "loss")}
        for row in result.get("top_losses", [])
    ]
    return {
        "source": result["source"],
        "acc": result["acc"],
        "loss": result["loss"],
        "samples": result["samples"],
        "rows": rows,
        "picture": "data:image/png;base64," + base64.b64encode(image).decode() if image else None,
    }
