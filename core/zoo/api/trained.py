"""Trained weights, for a program (a run directory or a registered weights name): ``load_run``,
``open_run``, ``evaluate`` (with its confusion matrix written where asked), ``predict`` (files or
tensors) and ``export``; and the runs on disk: ``runs`` (each with its best epoch) and ``plot``."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as configs
from ..errors import ConfigError, ZooError
from ..files import check_name, write_atomic
from ..hints import did_you_mean
from ..runs import directory
from ..runs.metrics import MetricsScan
from ..runs.run import Run
from ..runs.rundir import RunDir, one_line
from .catalog import current


def load_run(run_dir: str | Path, which: str = "last", device: str = "cpu") -> Any:
    """The model a run directory trained, with its ``last`` or ``best`` weights, in eval mode."""
    from ..runs.trained import load_model

    return load_model(run_dir, current().registries["models"], which, device)


def open_run(run_dir: str | Path, which: str = "last") -> Run:
    """The :class:`zoo.Run` in ``run_dir``: its config, history and model (``which`` weights)."""
    from ..runs.trained import open_run as open_

    return open_(run_dir, current().registries["models"], which)


def evaluate(
    source: str | Path,
    split: str = "valid",
    which: str = "last",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
    out: str | Path | None = None,
    top_losses: int = 0,
    threads: int | str | None = None,
) -> dict[str, Any]:
    """Loss and accuracy of trained weights on the ``valid`` or ``test`` split of the dataset they
    were trained on: ``source`` is a run directory (its ``last`` or ``best`` weights, ``which``)
    or a registered weights name such as ``"cnn.mnist"``. ``overrides`` say where the data is
    (``{"dataset.path": ...}``) or which metrics to compute (``{"metrics": ["top_k"]}``).
    Returns ``{"split", "which", "loss", "acc", "samples", "source"}`` (``loss`` is the plain
    negative log-likelihood of the true class, the same measure for every model; ``source``
    names the weights in words), ``run_loss`` (``{"loss", "value"}``) when the run trained with
    another loss (label smoothing...), with ``metrics`` (by key) and ``classes`` when the run
    chose metrics. A confusion matrix among them is written as JSON and a picture into ``out``
    (default: the run directory, or the current folder for weights); their paths are in
    ``files``. ``top_losses=N`` adds the N samples the model gets most wrong (``top_losses``:
    index, true and predicted class, probability, loss), drawn into ``top-losses-SPLIT.png``
    there (``picture``).
    ``threads``: CPU threads to compute with (default: the run's own, for its numbers; this
    process's count is put back after; ``"auto"``: leave the process's as it is)."""
    from ..training.evaluation import evaluate_run

    if not isinstance(top_losses, int) or not 0 <= top_losses <= 1000:
        raise ConfigError(f"top_losses must be from 0 to 1000, not {top_losses!r}")
    trained = _trained(source, which)
    is_run = Path(source).is_dir()
    folder = Path(out) if out else Path(source) if is_run else Path()
    stem = "" if is_run else f"{check_name(str(source), 'the weights name')}-"
    picture = folder / f"{stem}top-losses-{split}.png" if top_losses else None
    if picture is not None:
        folder.mkdir(parents=True, exist_ok=True)
    result = evaluate_run(
        trained, current(), split, overrides, device, top_losses, picture, threads=threads
    )
    classes = result.pop("classes")
    if not result["metrics"]:  # the metrics the run chose (--set metrics=[...] to choose)
        del result["metrics"]
    else:
        result["classes"] = classes
    result = {"split": split, "which": which if is_run else str(source), **result}
    result["source"] = trained.label
    matrix = result.get("metrics", {}).get("confusion_matrix")
    if matrix is not None:
        result["files"] = _confusion_files(matrix, classes, folder / f"{stem}confusion-{split}")
    return result


def _confusion_files(matrix: Any, classes: Any, stem: Path) -> list[Path]:
    """The confusion matrix as ``STEM.json`` (rows true, columns predicted) and ``STEM.png``."""
    from ..runs import pictures

    stem.parent.mkdir(parents=True, exist_ok=True)
    table = stem.with_suffix(".json")
    body = {"rows": "true class", "columns": "predicted class", "classes": classes}
    write_atomic(table, (json.dumps(body | {"matrix": matrix}) + "\n").encode())
    return [table, pictures.confusion(matrix, classes, stem.with_suffix(".png"))]


def predict(
    source: str | Path,
    images: Sequence[str | Path | tuple[str, bytes]] | Any,
    top: int = 1,
    which: str = "last",
    device: str | None = None,
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image, the ``top`` most likely classes and their probabilities, by a run
    directory's ``which`` weights or by registered weights (``"cnn.mnist"``), on ``device``
    (default ``auto``: whatever this machine has, wherever the weights were trained).
    ``images`` are picture files (a folder: the pictures in it, by name), pictures' ``(name,
    bytes)``, or a tensor of samples as the dataset gives them (a batch of rows of the model's
    input, values in [0, 1]); a tensor's rows are named ``0``, ``1``..."""
    from ..runs.trained import predict as predict_images

    models = current().registries["models"]
    trained = _trained(source, which)
    return predict_images(trained, models, images, top, _device(device))


def _device(device: str | None) -> str:
    """A device this machine has: ``device``, or ``auto``'s choice."""
    from ..training.device import select_device  # imports torch: only where a model runs

    return str(select_device(device or "auto"))


def export(
    source: str | Path,
    format: str = "onnx",
    out: str | Path | None = None,
    which: str = "last",
    device: str | None = None,
) -> Path:
    """Write trained weights (a run directory's ``last`` or ``best``, or registered weights such
    as ``"cnn.mnist"``) as an ONNX or PT2 file that loads without zoo; returns its path (default:
    ``NAME.onnx`` / ``NAME.pt2`` in the current folder). It is traced on ``device`` (default the
    CPU, which every machine has; the file runs anywhere)."""
    from ..runs.export import FORMATS
    from ..runs.export import export as export_model

    if format not in (*FORMATS, "hf"):
        hint = did_you_mean(format, (*FORMATS, "hf"))
        known = ", ".join((*FORMATS, "hf"))
        raise ConfigError(f"export format '{format}'{hint}: expected one of {known}")
    if format == "hf":
        return export_hub(source, out)
    trained = _trained(source, which)
    if not trained.input_shape:
        raise ZooError(f"{trained.label} record no input shape: zoo cannot make an example input")
    if out is None:  # a name of its own, here: never a path a run or a card could choose
        stem = str(source) if not Path(source).is_dir() else f"{trained.model}-{Path(source).name}"
        stem = check_name(stem.replace(":", "-"), "the export's file name (give --out FILE)")
        out = Path(f"{stem}{FORMATS[format]}")
    where = _device(device or "cpu")
    net = trained.build(current().registries["models"], where)
    return export_model(net, trained.input_shape, format, Path(out), where)


def export_hub(source: str | Path, out: str | Path | None = None) -> Path:
    """Write trained weights in the Hugging Face Hub's layout into the folder ``out`` (default:
    the weights' name here): ``model.safetensors``, ``config.json`` (the card, the plugin that
    builds the model) and ``README.md``, a model card with ``model-index`` results. A run gives
    its best epoch's weights (as ``zoo new-plugin --from-run`` publishes them); registered
    weights and Hub folders their own. Returns the folder."""
    from importlib import metadata

    from .. import __version__
    from ..runs import hub
    from ..runs import weights as trained_weights

    registries = current().registries
    models = registries["models"]
    if trained_weights.is_hub_source(source):
        card, _ = trained_weights.hub_card(source, models)
        fields, name = hub.fields_of(card), card.name
        weights = trained_weights.verified_file(card, models=models)
    elif Path(source).is_dir():
        model = RunDir(source).model_info["model"]
        tag = "".join(c if c.isalnum() or c in "_-" else "-" for c in Path(source).name)
        name = f"{model}.{tag.strip('-_') or 'run'}"[:100]
        fields = trained_weights.card_fields(Path(source), name)
        weights = RunDir(source).weights("best")
    else:
        card = trained_weights.get_card(str(source), registries["weights"])
        fields, name = hub.fields_of(card), card.name
        weights = trained_weights.verified_file(card, models=models)
    if fields["sha256"] != _sha256(weights):
        raise ZooError(f"{weights} changed while it was read: nothing exported")
    distribution = models.get(fields["model"]).distribution if fields["model"] in models else None
    plugin: dict[str, str | None] = {"distribution": distribution, "version": None}
    license_ = None
    if distribution:
        try:
            plugin["version"] = metadata.version(distribution)
            about = metadata.metadata(distribution)
            license_ = hub.license_id(about.get("License-Expression") or about.get("License"))
        except metadata.PackageNotFoundError:
            pass
    folder = Path(out) if out is not None else Path(check_name(name, "the export's folder"))
    return hub.write(fields, weights, name, folder, plugin, license_, __version__)


def _sha256(path: Path) -> str:
    from ..data.cache import sha256_of

    return sha256_of(path)


def _trained(source: str | Path, which: str = "last") -> Any:
    """A run directory or a registered weights name, as verified ``Trained`` weights."""
    from ..runs.weights import trained_from

    registries = current().registries
    trained = trained_from(source, registries["weights"], which, registries["models"])
    trained.check_input(registries["datasets"])
    return trained


@dataclass(frozen=True)
class RunSummary:
    """A run directory as ``zoo runs`` lists it: its ``status`` (``new``, ``unfinished``,
    ``complete``, ``stopped``, ``training`` or ``broken``, :class:`zoo.runs.rundir.RunDir`'s
    word) and ``reason`` (why, in one line); ``config`` and ``best`` (its best epoch's row, by
    its monitor) are ``None`` and ``problem`` says why when it cannot be read. ``history`` holds
    its epochs' rows (metrics.jsonl; a long one thinned to at most ``metrics.MAX_SHOWN_ROWS``
    evenly spaced, the last always kept), ``input_shape`` and ``classes`` its model's input and
    class names (model.json). ``modified`` is when it last trained (its last epoch's line),
    which looking at it never changes."""

    dir: Path
    modified: float  # seconds since the epoch
    epochs_done: int
    config: configs.RunConfig | None
    best: dict[str, Any] | None
    problem: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)
    input_shape: tuple[int, ...] | None = None
    classes: list[str] | None = None
    status: str = "broken"
    reason: str | None = None

    @property
    def in_use(self) -> bool:
        """Whether a live zoo process holds it (training it now)."""
        return self.status == "training"

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))


def list_runs(root: str | Path = "runs") -> list[RunSummary]:
    """Every run directory below ``root``, oldest first; one that cannot be read is listed with
    its problem, never hiding the others, and one deleted while the list is made is left out."""
    found = (_summary(run_dir) for run_dir in directory.find_runs(Path(root)))
    return [summary for summary in found if summary is not None]


def run_summary(run_dir: str | Path, metrics: MetricsScan | None = None) -> RunSummary:
    """One run directory as :func:`list_runs` lists it (a broken one with its ``problem``).
    ``metrics``, a scan of its metrics.jsonl kept from an earlier call, reads only what was
    added since (``zoo ui`` asks every second or two)."""
    summary = _summary(Path(run_dir), metrics)
    if summary is None:
        raise ZooError(f"{run_dir} is not a run directory (anymore)")
    return summary


def _summary(run_dir: Path, metrics: MetricsScan | None = None) -> RunSummary | None:
    modified = directory.trained_at(run_dir)
    if modified is None:  # deleted while it was being listed
        return None
    folder = RunDir(run_dir)
    standing = folder.check()
    try:
        if standing.status == "broken" or standing.config is None:
            raise ZooError(standing.reason or "not a run directory")
        config, info = standing.config, standing.model_info or {}
        scan = metrics if metrics is not None else folder.scan()
        scan.choose = config.best
        scan.update()
    except Exception as exc:  # whatever a shared folder holds, the run is one row saying why
        if not directory.trained_at(run_dir):
            return None  # it vanished while it was read
        reason = one_line(exc, run_dir)
        return RunSummary(run_dir, modified, 0, None, None, reason, reason=reason)
    shape = tuple(info["input_shape"]) if info.get("input_shape") else None
    return RunSummary(
        run_dir,
        modified,
        scan.count,
        config,
        scan.best,
        history=scan.rows,
        input_shape=shape,
        classes=info.get("classes"),
        status=standing.status,
        reason=standing.reason,
    )


#: The most classes a confusion matrix read back from a run directory may have.
MAX_CLASSES = 1000


def confusion_matrices(run: str | Path | RunSummary) -> dict[str, dict[str, Any]]:
    """The confusion matrices a run directory holds, by where they come from: ``valid`` and
    ``test`` as ``zoo eval`` wrote them (``confusion-SPLIT.json``), ``epoch N`` for the last
    epoch's ``val_confusion_matrix`` when the run computed that metric. Each is ``{"classes",
    "matrix"}`` (rows true, columns predicted); a file that is not a matrix zoo wrote is left
    out. Given the run's :class:`RunSummary`, its history is not read again."""
    summary = run if isinstance(run, RunSummary) else run_summary(run)
    run_dir = summary.dir
    found: dict[str, dict[str, Any]] = {}
    for split in ("valid", "test"):
        body = RunDir(run_dir).evaluation(split)
        if isinstance(body, dict) and _is_matrix(body.get("matrix"), body.get("classes")):
            found[split] = {"classes": body.get("classes"), "matrix": body["matrix"]}
    rows, classes = summary.history, summary.classes
    if rows and _is_matrix(rows[-1].get("val_confusion_matrix"), classes):
        found[f"epoch {rows[-1]['epoch']}"] = {
            "classes": classes,
            "matrix": rows[-1]["val_confusion_matrix"],
        }
    return found


def _is_matrix(matrix: Any, classes: Any) -> bool:
    """A square matrix of counts, with as many class names (or none)."""
    if not isinstance(matrix, list) or not 0 < len(matrix) <= MAX_CLASSES:
        return False
    size = len(matrix)
    counts = all(
        isinstance(row, list)
        and len(row) == size
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 53 for v in row)
        for row in matrix
    )
    names = classes is None or (
        isinstance(classes, list)
        and len(classes) == size
        and all(isinstance(c, str) and c.isprintable() and len(c) <= 200 for c in classes)
    )
    return counts and names


def plot(run_dirs: Sequence[str | Path], out: str | Path = "runs.png") -> tuple[Path, list[str]]:
    """The loss and accuracy curves of several runs in one picture; returns it and, for each run
    left out (unreadable, no finished epoch), why."""
    from ..runs import pictures

    histories, skipped = {}, []
    for run_dir in map(Path, run_dirs):
        try:
            metrics = RunDir(run_dir).history()
        except ZooError as exc:
            skipped.append(f"{run_dir}: {exc}")
            continue
        if not metrics:
            skipped.append(f"{run_dir}: no finished epoch to plot")
            continue
        histories[f"{run_dir.parent.name}/{run_dir.name}"] = metrics
    if not histories:
        raise ZooError("none of the runs has a finished epoch to plot")
    return pictures.compare(histories, Path(out)), skipped


def show_samples(
    dataset: str,
    split: str = "train",
    count: int = 32,
    out: str | Path | None = None,
    **options: Any,
) -> Path:
    """Draw ``count`` images of ``dataset``'s ``split`` with their labels in a grid, as the
    tutorial's ``imshow`` does, into ``out`` (default ``DATASET-samples.png`` here); ``options``
    are the dataset's (``path=...``), checked against its factory. Returns the picture."""
    from ..runs import pictures
    from .catalog import create_dataset, get_dataset

    if split not in ("train", "valid", "test"):
        raise ConfigError(f"split {split!r}: expected train, valid or test")
    if not 1 <= count <= 200:
        raise ConfigError(f"count {count}: expected 1 to 200 samples")
    get_dataset(dataset).check(options, where="dataset.")
    splits = create_dataset(dataset, **options)
    data = getattr(splits, split)
    if data is None or len(data) == 0:
        raise ZooError(f"dataset '{dataset}' has no {split} split")
    images, labels = [], []
    for i in range(min(count, len(data))):
        x, y = data[i]
        images.append(x.numpy())
        label = int(y)
        labels.append(splits.classes[label] if splits.classes else str(label))
    shape = splits.input_shape or _shape_of(images[0])
    return pictures.samples(images, labels, Path(out or f"{dataset}-samples.png"), shape)


def _shape_of(image: Any) -> tuple[int, ...]:
    """The shape of an image its dataset does not describe: its own, or a square of grey."""
    if image.ndim >= 2:
        return tuple(image.shape)
    side = int(round(image.size**0.5))
    if side * side != image.size:
        raise ZooError(f"cannot draw samples of {image.size} values: the dataset gives no shape")
    return (side, side)


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote: the distribution's ``folder``, the ``weights`` name it
    registers (``MODEL.TAG``) and the ``test`` split's loss and accuracy (``None``: no test
    split to measure)."""

    folder: Path
    weights: str
    test: dict[str, Any] | None
    run: Path | None = None  # the run whose weights were published
    seeds: int = 1  # how many seeds the card's results carry
    over_seeds: tuple[float, float, int] | None = None  # test accuracy: mean, sd, n


def publish(
    run_dir: str | Path,
    name: str,
    *,
    folder: str | Path | None = None,
    tag: str | None = None,
    overrides: configs.Overrides | None = None,
) -> Published:
    """Publish a run's best weights as the plugin distribution ``zoo-NAME`` (in ``folder``,
    default ``./zoo-NAME``): the weights registered as ``MODEL.TAG`` (``tag`` defaults to the
    run's dataset) with their card, its metrics measured on the test split (``overrides`` say
    where the data is), its recipe and sha256. ``pip install`` the folder and they appear in
    ``zoo list weights`` (``zoo new-plugin NAME --from-run RUN_DIR``)."""
    from ..errors import DataError
    from ..plugins.cards import TAG
    from ..scaffold import target, weights_plugin
    from ..text import shown
    from .catalog import get_model

    where = Path(folder) if folder is not None else None
    target(name, where)  # a bad name or a taken folder fails before anything is measured
    if tag is not None and not TAG.fullmatch(tag):  # before the data is loaded for the test
        raise ConfigError(f"--tag {shown(tag)}: use letters, digits, _ and - (e.g. mnist)")
    run_dir, seeds = Path(run_dir), None
    if not directory.is_run_dir(run_dir):  # a folder of one configuration's runs at its seeds
        run_dir, seeds = _seed_runs(run_dir)
    model = get_model(RunDir(run_dir).model_info["model"])

    def tested(run: Path) -> dict[str, Any] | None:
        try:
            return evaluate(run, split="test", which="best", overrides=overrides)
        except DataError as exc:
            if "has no test split" not in str(exc):
                raise
            return None  # the card says so

    test = tested(run_dir)
    every = None
    if seeds is not None:
        every = []
        for seed, run in seeds:
            measured = test if run == run_dir else tested(run)
            best = RunDir(run).config.best(RunDir(run).history()) or {}
            every.append({"seed": seed, "epoch": best.get("epoch"),
                          "val_loss": best.get("val_loss"), "val_acc": best.get("val_acc"),
                          "test_loss": (measured or {}).get("loss"),
                          "test_acc": (measured or {}).get("acc")})  # fmt: skip
    path, weights = weights_plugin(name, run_dir, where, tag, test, model, seeds=every)
    accs = [s["test_acc"] for s in every or [] if s["test_acc"] is not None]
    over = None
    if len(accs) > 1:
        import statistics

        over = (statistics.fmean(accs), statistics.stdev(accs), len(accs))
    return Published(path, weights, test, run_dir, len(every or [1]), over)


def _seed_runs(folder: Path) -> tuple[Path, list[tuple[int, Path]]]:
    """The runs in ``folder`` (``zoo tune --seeds``' trial-0007/, or any folder of runs) of one
    configuration at different seeds: the one whose monitored validation value is best (the
    weights published) and every (seed, run). Runs that differ in more than the seed, a seed
    twice, or fewer than two finished runs: one line."""
    from ..plugins.builtin import auto_mode
    from ..text import printable

    found = directory.find_runs(folder)
    if not found:
        raise ConfigError(f"{folder} holds no run: give a run directory, or a folder of one "
                          "configuration's runs at several seeds")  # fmt: skip
    if len(found) > 100:
        raise ConfigError(f"{folder} holds {len(found)} runs: at most 100 seeds are published")
    configs, seeds, scores = {}, [], []
    for run in found:
        standing = RunDir(run).check()
        if standing.status not in ("complete", "stopped"):
            raise ConfigError(f"{run} is {standing}: publish its seeds when each has finished")
        config = standing.config.to_dict()
        seed = config.pop("seed", None)
        configs[run] = json.dumps(config, sort_keys=True, default=str)
        seeds.append((seed, run))
        best = standing.config.best(RunDir(run).history()) or {}
        scores.append(best.get(standing.config.monitor))
    if len(set(configs.values())) > 1:
        first, other = found[0], next(r for r in found if configs[r] != configs[found[0]])
        raise ConfigError(
            f"{printable(str(other))} is not {printable(str(first))} at another seed (their "
            "configs differ in more than the seed): publish one configuration's seeds"
        )
    taken: dict[Any, Path] = {}
    for seed, run in seeds:
        if not isinstance(seed, int) or seed in taken:
            raise ConfigError(
                f"{printable(str(run))} trained at seed {seed!r}, as "
                f"{printable(str(taken.get(seed, run)))} did: one configuration's seeds are "
                "runs at different seeds"
            )
        taken[seed] = run
    if len(seeds) < 2:
        return found[0], seeds
    config = RunDir(found[0]).config
    mode = auto_mode(config.monitor, config.mode)
    known = [(s, r) for s, r in zip(scores, found, strict=True) if isinstance(s, (int, float))]
    if not known:
        raise ConfigError(f"the runs in {folder} have no {config.monitor} to choose one by")
    chosen = (max if mode == "max" else min)(known, key=lambda item: item[0])[1]
    return chosen, sorted(seeds)
