"""Trained weights in the Hugging Face Hub's layout, out of zoo and back in.

A Hub folder holds ``model.safetensors``, ``config.json`` and ``README.md``. zoo's
``config.json`` is the weights' card (``zoo.plugins.cards``: model, options, dataset, metrics,
recipe, sha256 and size of the file) with the weights' name and the plugin distribution that
builds the model; ``README.md`` is a model card whose YAML header (``library_name``, ``tags``,
``datasets``, ``license``, ``model-index``) the Hub and ``huggingface_hub.ModelCard`` read. Such a
folder (or ``hf://OWNER/NAME``, fetched by ``huggingface_hub`` into its cache) is read back as
any card: its file's size and sha256 checked before a byte of it is read, shapes before the model
is allocated, and nothing but safetensors ever loaded (a folder holding a pickle is refused).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ZooError
from ..files import atomic, parse_json, read_bounded
from ..plugins.cards import MAX_CARD, Card, CardError, read_card
from ..text import markdown_cell, printable

CONFIG, WEIGHTS, README = "config.json", "model.safetensors", "README.md"
#: What ``zoo export --format hf`` writes into its folder (and all it ever replaces there).
FILES = (WEIGHTS, CONFIG, README)
#: Files that hold pickles (torch.save, joblib...): never loaded, named when a folder has one.
PICKLES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
LIBRARY = "torch-zoo"
#: ``hf://OWNER/NAME`` or ``hf://OWNER/NAME@REVISION``: the Hub's own rule for a repository id
#: (letters, digits, ``-``, ``_`` and ``.``, 96 characters a part; no ``--`` or ``..``).
PREFIX = "hf://"
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HF_NAME = re.compile(rf"({_PART})/({_PART})(?:@([A-Za-z0-9][A-Za-z0-9._/-]{{0,99}}))?")
#: What a card read from a Hub folder names as its URL before its file is set (never fetched).
PLACEHOLDER = "https://huggingface.co/"
#: A model card's README is a few KB: one larger is not read.
MAX_README = 1 << 20


# --- writing ----------------------------------------------------------------------------------


def write(
    fields: Mapping[str, Any],
    weights: Path,
    name: str,
    out: Path,
    plugin: Mapping[str, str | None] | None = None,
    license: str | None = None,
    zoo_version: str = "",
) -> Path:
    """Write the Hub folder ``out`` of the card ``fields`` (a card's JSON fields: its file's
    sha256 and size among them) and its weights file ``weights``, registered as ``name``.
    ``plugin``: the distribution (and version) that builds the model; ``license``: its
    license, when it says one. Each file is written atomically; a folder holding anything
    else is refused (nothing of the user's is replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file: name a folder for the Hub's layout")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in FILES)
        if others:
            raise ZooError(
                f"--out {out} already holds {', '.join(printable(n, 60) for n in others[:3])}: "
                "name a new or empty folder (zoo replaces only the files it writes)"
            )
    config = {
        **fields,
        "name": name,
        "file": WEIGHTS,
        "library_name": LIBRARY,
        "zoo": {"version": zoo_version, "plugin": dict(plugin or {})},
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic(out / WEIGHTS) as tmp:
        shutil.copyfile(weights, tmp)
    from ..data.cache import sha256_of

    if sha256_of(out / WEIGHTS) != fields["sha256"]:  # changed while it was copied
        (out / WEIGHTS).unlink()
        raise ZooError(f"{weights} changed while it was copied: nothing exported")
    with atomic(out / CONFIG) as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    with atomic(out / README) as tmp:
        tmp.write_text(model_card(config, license), encoding="utf-8")
    return out


def model_card(config: Mapping[str, Any], license: str | None = None) -> str:
    """The README.md of a Hub folder: a YAML header the Hub reads (``model-index`` with the test
    split's accuracy and loss, or the validation split's when the test was never measured),
    then the card in prose, with the commands that use and reproduce the weights."""
    import yaml

    name, model = config["name"], config["model"]
    dataset = config["dataset"]
    metrics = config.get("metrics") or {}
    split = "test" if metrics.get("test_acc") is not None else "validation"
    key = "test" if split == "test" else "val"
    measured = [
        {"type": "accuracy", "value": metrics[f"{key}_acc"], "name": f"{split} accuracy"},
    ]
    if metrics.get(f"{key}_loss") is not None:
        measured.append(
            {
                "type": "loss",
                "value": metrics[f"{key}_loss"],
                "name": f"{split} loss (negative log-likelihood)"
                if split == "test"
                else f"{split} loss (the run's training loss)",
            }
        )
    header: dict[str, Any] = {"library_name": LIBRARY}
    if license:
        header["license"] = license
    header["tags"] = ["zoo", "pytorch", "image-classification", model]
    header["datasets"] = [dataset["name"]]
    header["pipeline_tag"] = "image-classification"
    if metrics.get(f"{key}_acc") is not None:
        header["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "image-classification", "name": "Image Classification"},
                        "dataset": {
                            "name": dataset["name"],
                            "type": dataset["name"],
                            "split": split,
                        },
                        "metrics": measured,
                    }
                ],
            }
        ]
    plugin = (config.get("zoo") or {}).get("plugin") or {}
    install = plugin.get("distribution") or "the plugin that provides it"
    md = markdown_cell
    recipe = config.get("recipe") or {}
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=False).rstrip(),
        "---",
        "",
        f"# {md(name)}",
        "",
        md(
            config.get("description")
            or (recipe.get("config") or {}).get("description")
            or f"{model} trained on {dataset['name']} with zoo."
        ),
        "",
        "| | |",
        "|---|---|",
        f"| model | `{md(model)}` {md(json.dumps(config.get('options') or {}))} |",
        f"| dataset | {md(dataset['name'])}, {dataset['num_classes']} classes, input "
        f"{' x '.join(str(s) for s in dataset['input_shape'])} |",
    ]
    for label, value in (
        ("test accuracy", metrics.get("test_acc")),
        ("validation accuracy", metrics.get("val_acc")),
    ):
        if value is not None:
            lines.append(f"| {label} | {value:.2%} |")
    if metrics.get("test_loss") is not None:
        lines.append(f"| test loss (negative log-likelihood) | {metrics['test_loss']:.4f} |")
    for label, key_ in (("parameters", "parameters"), ("FLOPs a sample", "flops")):
        if config.get(key_) is not None:
            lines.append(f"| {label} | {config[key_]:,} |")
    if config.get("train_seconds") is not None:
        lines.append(
            f"| trained | {recipe.get('epochs', '?')} epochs, {config['train_seconds']:,.1f} s"
            f" on {md(config.get('hardware') or 'unrecorded hardware')} |"
        )
    versions = recipe.get("versions") or {}
    if versions:
        listed = ", ".join(f"{md(k)} {md(v)}" for k, v in versions.items())
        lines.append(f"| versions | {listed} |")
    lines += [
        "",
        "## Use it",
        "",
        "```bash",
        f"pip install torch-zoo {install}",
        "zoo predict ./this-folder picture.png",
        "zoo eval ./this-folder",
        "```",
        "",
        'or from Python: `zoo.create_model("./this-folder")` (or `hf://OWNER/NAME` once it is on'
        " the Hub). Weights and `config.json` are checked (size, sha256, shapes) before loading.",
        "",
        "## Train it again",
        "",
        "```bash",
        "zoo reproduce ./this-folder",
        "```",
        "",
        "trains the recipe recorded in `config.json` again (seed, epochs, threads) and compares"
        " the numbers; bit-identical numbers need the same versions and kind of CPU.",
        "",
    ]
    return "\n".join(lines)


def fields_of(card: Card) -> dict[str, Any]:
    """A checked card as the JSON fields a card file holds (its file named by the writer)."""
    fields: dict[str, Any] = {
        "format": 1,
        "model": card.model,
        "options": dict(card.options),
        "sha256": card.sha256,
        "size": card.size,
        "dataset": dict(card.dataset),
        "parameters": card.parameters,
        "flops": card.flops,
        "train_seconds": card.train_seconds,
        "hardware": card.hardware,
        "metrics": dict(card.metrics),
        "recipe": dict(card.recipe),
    }
    if card.description:
        fields["description"] = card.description
    if card.seeds:
        fields["seeds"] = [dict(s) for s in card.seeds]
    return fields


def license_id(text: Any) -> str | None:
    """A distribution's license as the Hub names it (``MIT`` -> ``mit``), when it is one short
    identifier; ``None`` otherwise (a license's whole text is not a Hub license id)."""
    if isinstance(text, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,39}", text.strip()):
        return text.strip().lower()
    return None


# --- reading ----------------------------------------------------------------------------------


def is_hub_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder in the Hub's layout (a ``config.json``, and not a zoo run
    directory, which has a model.json)."""
    folder = Path(path)
    return folder.is_dir() and (folder / CONFIG).exists() and not (folder / "model.json").exists()


def read(folder: str | Path, root: Path | None = None) -> Card:
    """The checked card of the Hub folder ``folder``: its ``config.json`` read as a weights card,
    its weights file ``model.safetensors`` inside the folder (size and sha256 checked when it is
    loaded). A folder with a pickle instead, or a config that is not zoo's, is one line.
    ``root``: the folder links may lead into (default ``folder`` itself)."""
    folder = Path(folder)
    where = f"{folder} (Hub layout)"
    if not (folder / WEIGHTS).exists():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLES)
        if pickles:
            raise CardError(
                f"{where} holds {printable(pickles[0], 80)}, a pickle, and no {WEIGHTS}: zoo "
                "loads only safetensors (a pickle can run code when it is read); not loaded"
            )
        raise CardError(f"{where} has no {WEIGHTS}: not weights zoo can load")
    try:
        data = read_bounded(folder / CONFIG, MAX_CARD, f"{folder / CONFIG}")
        fields = parse_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError(f"{folder / CONFIG} is not valid JSON: {exc}") from exc
    if not isinstance(fields, Mapping):
        raise CardError(f"{folder / CONFIG} is not a JSON object: not zoo's config.json")
    if fields.get("library_name") != LIBRARY or "model" not in fields:
        other = fields.get("library_name") or fields.get("architectures") or "another library"
        raise CardError(
            f"{folder / CONFIG} is not one zoo wrote (library {printable(other, 60)}): zoo loads "
            "Hub folders of its own layout (zoo export NAME --format hf)"
        )
    if fields.get("file", WEIGHTS) != WEIGHTS:
        raise CardError(f"{folder / CONFIG}: its file must be {WEIGHTS}, in the same folder")
    name = fields.get("name")
    if not isinstance(name, str):
        raise CardError(f"{folder / CONFIG}: its 'name' must be the weights' MODEL.TAG")
    from dataclasses import replace

    # the file inside the folder (or ``root``: huggingface_hub's cache links a snapshot's files
    # to its repository's blobs), links resolved: one leading out of it is refused
    read_model_card(folder)  # a card whose header is not what the Hub reads: said, not loaded
    root = (root or folder).resolve()
    card = read_card(name, {**fields, "file": None, "urls": [PLACEHOLDER]}, None)
    path = (folder / WEIGHTS).resolve()
    if not path.is_relative_to(root):
        raise CardError(f"{folder / WEIGHTS} leads outside {root}: not read")
    return replace(card, file=path, urls=(), source=str(folder / CONFIG), package=root)


def plugin_of(folder: str | Path) -> str | None:
    """The plugin distribution a Hub folder's config names (``zoo-bn-cnn``), for a message."""
    try:
        data = read_bounded(Path(folder) / CONFIG, MAX_CARD, CONFIG)
        fields = parse_json(data.decode("utf-8"))
        dist = fields["zoo"]["plugin"]["distribution"]
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, ZooError):
        return None
    return dist if isinstance(dist, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,100}", dist) else None


def read_model_card(folder: str | Path) -> dict[str, Any]:
    """The YAML header of a Hub folder's README.md, checked: a mapping, at most
    :data:`MAX_README` bytes (``{}`` when there is no README)."""
    import yaml

    path = Path(folder) / README
    try:
        text = read_bounded(path, MAX_README, str(path)).decode("utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    if end < 0:
        raise ZooError(f"{path}: its YAML header does not end (no closing ---)")
    try:
        header = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        reason = printable(" ".join(str(exc).split()), 200)
        raise ZooError(f"{path}: its YAML header is not valid YAML: {reason}") from None
    except RecursionError:
        raise ZooError(f"{path}: its YAML header is nested too deeply") from None
    if not isinstance(header, Mapping):
        raise ZooError(
            f"{path}: its YAML header is {type(header).__name__}, not a mapping of fields"
        )
    return dict(header)


# --- the Hub ----------------------------------------------------------------------------------


def parse_name(text: str) -> tuple[str, str | None]:
    """``hf://OWNER/NAME[@REVISION]`` -> (``OWNER/NAME``, revision); anything else (a path, a
    ``..``, a third part, an empty part) is one line."""
    rest = text[len(PREFIX) :]
    match = HF_NAME.fullmatch(rest)
    bad = match is None or any(".." in p or "--" in p for p in match.groups() if p)
    if bad or (match.group(3) or "").startswith("/") or "//" in (match.group(3) or ""):
        raise ZooError(
            f"{printable(text, 120)} is not a Hub model name: hf://OWNER/NAME or "
            "hf://OWNER/NAME@REVISION (letters, digits, - _ and ., no .. or paths)"
        )
    return f"{match.group(1)}/{match.group(2)}", match.group(3)


#: The most bytes a Hub ``config.json`` may have before it is downloaded (zoo's are ~3 KB).
MAX_CONFIG_DOWNLOAD = MAX_CARD


def cache_root(folder: Path) -> Path:
    """The repository's folder in huggingface_hub's cache that holds the snapshot ``folder``
    (``models--OWNER--NAME``, whose ``blobs`` its files link to)."""
    return folder.parent.parent if folder.parent.name == "snapshots" else folder


def download(text: str, max_weights: Any = None) -> Path:
    """The folder of ``hf://OWNER/NAME`` in ``huggingface_hub``'s cache: ``config.json`` fetched
    first (bounded), then ``model.safetensors``, its size bounded by ``max_weights(card)`` (what
    the card's model can hold) before a byte of it is fetched. Offline (``HF_HUB_OFFLINE=1``)
    the cached copy is used; README.md comes along when the repository has one."""
    repo, revision = parse_name(text)
    try:
        import huggingface_hub as hub
        from huggingface_hub import errors
    except ImportError:
        raise ZooError(
            f"{text}: names on the Hugging Face Hub need huggingface_hub: "
            "pip install 'torch-zoo[hub]'"
        ) from None

    def fetch(filename: str, limit: int | None) -> Path:
        try:
            info = hub.hf_hub_download(repo, filename, revision=revision, dry_run=True)
            if limit is not None and info.file_size is not None and info.file_size > limit:
                raise ZooError(
                    f"{text}: its {filename} has {info.file_size:,} bytes, more than it can "
                    f"honestly be ({limit:,}): not downloaded"
                )
            return Path(hub.hf_hub_download(repo, filename, revision=revision))
        except errors.LocalEntryNotFoundError as exc:
            offline = "HF_HUB_OFFLINE is set" if hub.constants.HF_HUB_OFFLINE else "no network?"
            raise ZooError(
                f"{text}: its {filename} is not in the Hub cache ({hub.constants.HF_HUB_CACHE}) "
                f"and the Hub cannot be reached ({offline}): fetch it once while online"
            ) from exc
        except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
            raise ZooError(f"{text}: no such model on the Hub ({_reason(exc)})") from exc
        except errors.EntryNotFoundError as exc:
            raise ZooError(f"{text}: the repository has no {filename}: not zoo's layout") from exc
        except (errors.HfHubHTTPError, OSError, ValueError) as exc:
            raise ZooError(f"{text}: could not get {filename}: {_reason(exc)}") from exc

    config = fetch(CONFIG, MAX_CONFIG_DOWNLOAD)
    folder = config.parent
    card = read_card_fields(folder)
    limit = max_weights(card) if max_weights is not None and card is not None else None
    fetch(WEIGHTS, limit)
    try:
        fetch(README, MAX_README)
    except ZooError:  # the card in prose is for people: the weights load without it
        pass
    return folder


def read_card_fields(folder: Path) -> Card | None:
    """The card of a downloaded config.json, before its weights are fetched (``None`` when it
    cannot be read: then :func:`read` says why once the folder is complete)."""
    try:
        data = read_bounded(folder / CONFIG, MAX_CARD, CONFIG)
        fields = parse_json(data.decode("utf-8"))
        return read_card(fields["name"], {**fields, "file": None, "urls": [PLACEHOLDER]}, None)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, ZooError):
        return None


def _reason(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split()) or type(exc).__name__, 200)
