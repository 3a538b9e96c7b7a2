"""Weights cards: what a plugin says about trained weights it registers as ``MODEL.TAG``.

A card is a small JSON file in the plugin's package (or a mapping of the same fields): where the
safetensors file is (a path inside the package, or URLs), its sha256 and size, the model and its
options, the dataset with its classes and input shape, the metrics, and the recipe (the resolved
run config and the versions that produced them). A card comes from a plugin, so it is read as
untrusted input: bounded in size, checked field by field, its file kept inside the package.
Nothing here imports torch or opens the weights (``zoo.runs.weights`` does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ZooError
from ..files import is_name, parse_json, read_bounded
from ..text import is_plain, shown

#: A card is a few KB (the recipe's config is the largest part).
MAX_CARD = 1 << 20
#: The largest weights file a card may announce; the tutorial's models are tens of KB.
MAX_WEIGHTS = 4 << 30
FORMAT = 1
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # matched whole (fullmatch)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
METRICS = ("epoch", "val_loss", "val_acc", "test_loss", "test_acc")
#: The most values one input sample may hold (a 4096 x 4096 grey picture): far above what zoo's
#: datasets have; it bounds a card's and a run's input shape, and a picture resized to predict.
MAX_INPUT = 1 << 24


class CardError(ZooError):
    """A weights card that cannot be used (the message names the entry and what is wrong)."""


@dataclass(frozen=True)
class Card:
    """One registered set of trained weights, checked."""

    name: str  # MODEL.TAG
    model: str
    options: Mapping[str, Any]
    sha256: str
    size: int
    dataset: Mapping[str, Any]  # name, num_classes, input_shape, classes
    metrics: Mapping[str, Any]
    recipe: Mapping[str, Any]  # config, versions, device, threads, world_size
    description: str = ""
    parameters: int | None = None  # the model's parameter count
    flops: int | None = None  # of one forward pass of one sample (torch.utils.flop_counter)
    train_seconds: float | None = None  # the epochs' wall time of the run that trained them
    hardware: str | None = None  # what that run trained on, in words
    file: Path | None = None  # inside the plugin's package
    urls: tuple[str, ...] = ()
    source: str = ""  # where the card was read from, for messages
    package: Path | None = None  # the plugin's package folder
    #: the same configuration trained at other seeds too: each seed's metrics (its ``seed``
    #: and METRICS), the published weights' among them; empty when one seed was trained
    seeds: tuple[Mapping[str, Any], ...] = ()

    def over_seeds(self, key: str = "test_acc") -> tuple[float, float, int] | None:
        """The mean and sample standard deviation of ``key`` over the seeds and their count,
        ``None`` when the card has fewer than two seeds that say it."""
        import statistics

        values = [s[key] for s in self.seeds if isinstance(s.get(key), (int, float))]
        if len(values) < 2:
            return None
        return statistics.fmean(values), statistics.stdev(values), len(values)

    @property
    def where(self) -> str:
        """The file as a user can find it (``zoo_cnn/weights/cnn.mnist.safetensors``), or the
        URLs it comes from."""
        if self.file is None:
            return ", ".join(self.urls)
        if self.package is not None and self.file.is_relative_to(self.package):
            return str(Path(self.package.name) / self.file.relative_to(self.package))
        return str(self.file)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.dataset["input_shape"])

    @property
    def classes(self) -> list[str]:
        return list(self.dataset.get("classes") or range(self.dataset["num_classes"]))

    def summary(self) -> str:
        """``cnn on mnist: test accuracy 95.50%``: one line for ``zoo list weights``."""
        acc = self.metrics.get("test_acc")
        which = "test"
        if acc is None:
            acc, which = self.metrics.get("val_acc"), "valid"
        shown = f": {which} accuracy {acc:.2%}" if acc is not None else ""
        return self.description or f"{self.model} trained on {self.dataset['name']}{shown}"


def read_card(name: str, card: Any, root: Path | None) -> Card:
    """The checked :class:`Card` registered as ``name``: ``card`` is a path (inside ``root``,
    the plugin's package folder) to a JSON card, or a mapping of its fields."""
    where = f"weights '{name}'"
    base = root
    if isinstance(card, (str, Path)):
        path = _inside(Path(card) if root is None else root / card, root, where, "its card")
        source = str(path)
        try:
            data = read_bounded(path, MAX_CARD, f"{where}: its card {path}")
        except OSError as exc:
            raise CardError(f"{where}: cannot read its card {path}: {exc.strerror or exc}") from exc
        except ZooError as exc:
            raise CardError(str(exc)) from exc
        try:
            fields = parse_json(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CardError(f"{where}: its card {path} is not valid JSON: {exc}") from exc
        base = path.parent
    elif isinstance(card, Mapping):
        fields, source = dict(card), f"the mapping plugin registered for {name}"
    else:
        raise CardError(f"{where}: a card is a path or a mapping, not {type(card).__name__}")
    if not isinstance(fields, Mapping):
        raise CardError(f"{where}: its card is not a JSON object")
    return _check(name, fields, base, root, source)


def _check(name: str, fields: Mapping[str, Any], base: Path | None, root: Path | None, source: str):
    where = f"weights '{name}'"

    def bad(key: str, expected: str) -> CardError:
        value = shown(fields.get(key))
        return CardError(f"{where}: card field '{key}' must be {expected}, not {value} ({source})")

    if fields.get("format", FORMAT) != FORMAT:
        raise bad("format", f"{FORMAT} (this zoo reads version {FORMAT} cards)")
    model = fields.get("model")
    if not is_name(model):
        raise bad("model", "the name of a registered model")
    tag = name[len(model) + 1 :] if name.startswith(model + ".") else ""
    if not TAG.fullmatch(tag) or not is_name(name):
        raise CardError(
            f"{where}: a weights name is MODEL.TAG with the card's model '{model}' and a tag of "
            "letters, digits, _ and - (e.g. cnn.mnist)"
        )
    options = fields.get("options", {})
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise bad("options", "a mapping of the model's options")
    sha256 = fields.get("sha256")
    if not isinstance(sha256, str) or not SHA256.match(sha256):
        raise bad("sha256", "the file's sha256, 64 lowercase hex digits")
    size = fields.get("size")
    if not _int(size) or not 0 < size <= MAX_WEIGHTS:
        raise bad("size", f"the file's size in bytes (1 to {MAX_WEIGHTS:,})")
    file = fields.get("file")
    urls = fields.get("urls", [])
    if file is not None:
        if not isinstance(file, str) or not file or Path(file).is_absolute():
            raise bad("file", "a path relative to the card, inside the plugin's package")
        file = _inside((base or Path()) / file, root, where, "its weights file")
        if file.suffix != ".safetensors":
            raise bad("file", "a .safetensors file (zoo loads no other format)")
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls
    ):
        raise bad("urls", "a list of http(s) URLs")
    if file is None and not urls:
        raise CardError(f"{where}: its card names no 'file' and no 'urls' ({source})")
    dataset = fields.get("dataset")
    if not _dataset(dataset):
        raise bad(
            "dataset",
            "a mapping with name, num_classes, input_shape (channels, height, width) and classes",
        )
    metrics = fields.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(
        k in METRICS and (v is None or _number(v)) for k, v in metrics.items()
    ):
        raise bad("metrics", f"a mapping of {', '.join(METRICS)} to numbers")
    recipe = fields.get("recipe", {})
    if not _recipe(recipe):
        raise bad(
            "recipe",
            "a mapping with the run's resolved 'config' (its name a model's or a run's), seed, "
            "epochs, device, threads and world_size, and 'versions' of text",
        )
    description = fields.get("description", "")
    if not is_plain(description, 200):
        raise bad("description", "one line of printable text (not starting like a formula)")
    for key in ("parameters", "flops"):
        value = fields.get(key)
        if value is not None and not (_int(value) and 0 <= value < 1 << 53):
            raise bad(key, "a whole number of 0 or more, or null")
    seconds = fields.get("train_seconds")
    if seconds is not None and not (_number(seconds) and seconds >= 0):
        raise bad("train_seconds", "a number of seconds, or null")
    hardware = fields.get("hardware")
    if hardware is not None and not is_plain(hardware, 200):
        raise bad("hardware", "one line of printable text (not starting like a formula), or null")
    seeds = fields.get("seeds", [])
    if (
        not isinstance(seeds, list)
        or len(seeds) > MAX_SEEDS
        or not all(_seed(s) for s in seeds)
        or len({s["seed"] for s in seeds}) != len(seeds)
    ):
        each = f"'seed' (a whole number, each once) and {', '.join(METRICS)} to numbers"
        raise bad("seeds", f"a list of at most {MAX_SEEDS} seeds' metrics, each mapping {each}")
    return Card(
        name=name,
        model=model,
        options=dict(options),
        sha256=sha256,
        size=size,
        dataset=dict(dataset),
        metrics=dict(metrics),
        recipe=dict(recipe),
        description=description,
        parameters=fields.get("parameters"),
        flops=fields.get("flops"),
        train_seconds=float(seconds) if seconds is not None else None,
        hardware=hardware,
        file=file,
        urls=tuple(urls),
        source=source,
        package=root.resolve() if root is not None else None,
        seeds=tuple(dict(s) for s in seeds),
    )


#: The most seeds a card may list.
MAX_SEEDS = 100


def _seed(value: Any) -> bool:
    """One seed's metrics: ``{"seed": 3, "test_acc": 0.99, ...}``."""
    return (
        isinstance(value, Mapping)
        and _int(value.get("seed"))
        and abs(value["seed"]) < 1 << 53
        and all(k == "seed" or (k in METRICS and (v is None or _number(v)))
                for k, v in value.items())
    )  # fmt: skip


def _inside(path: Path, root: Path | None, where: str, what: str) -> Path:
    """``path`` with links resolved, refused when it leaves the plugin's package ``root``."""
    resolved = path.resolve()
    if root is not None and not resolved.is_relative_to(root.resolve()):
        raise CardError(f"{where}: {what} {path} is outside the plugin's package {root}: not read")
    return resolved


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    """A finite number of a sane size (an integer of 400 digits is no metric, and would not even
    convert to a float)."""
    if _int(value):
        return abs(value) < 1 << 53
    return isinstance(value, float) and math.isfinite(value) and abs(value) < 1e15


def _recipe(recipe: Any) -> bool:
    if not isinstance(recipe, Mapping):
        return False
    config = recipe.get("config", {})
    if not isinstance(config, Mapping) or ("name" in config and not is_name(config["name"])):
        return False
    versions = recipe.get("versions", {})
    if not isinstance(versions, Mapping) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) and len(k) + len(v or "") < 200
        for k, v in versions.items()
    ):
        return False
    counts = [recipe.get(k) for k in ("seed", "epochs", "threads", "world_size")]
    if not all(c is None or (_int(c) and abs(c) < 1 << 63) for c in counts):
        return False
    device = recipe.get("device")
    return device is None or (isinstance(device, str) and device.isprintable() and len(device) < 50)


def _dataset(value: Any) -> bool:
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        return False
    classes, shape = value.get("num_classes"), value.get("input_shape")
    if not _int(classes) or not 0 < classes <= 100_000:
        return False
    if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
        return False
    if not all(_int(s) and 0 < s <= 65_536 for s in shape) or math.prod(shape) > MAX_INPUT:
        return False
    if value.get("pictures") not in (None, "photo"):
        return False
    digest = value.get("data_sha256")
    if digest is not None and not (isinstance(digest, str) and SHA256.match(digest)):
        return False
    names = value.get("classes")
    return is_name(value["name"]) and (
        names is None
        or (
            isinstance(names, list)
            and len(names) == classes
            and all(isinstance(n, str) and n.isprintable() and len(n) < 200 for n in names)
        )
    )


def register_cards(register: Any, folder: str | Path) -> list[str]:
    """Register every card in ``folder`` (``NAME.json`` beside ``NAME.safetensors``) as the
    weights ``NAME``, in name order; returns the names. What a plugin's ``register_weights``
    hook does with its ``weights/`` folder::

        @zoo.hookimpl
        def register_weights(register):
            zoo.register_cards(register, Path(__file__).parent / "weights")
    """
    names = []
    for card in sorted(Path(folder).glob("*.json")):
        register(card.stem, card)
        names.append(card.stem)
    return names
