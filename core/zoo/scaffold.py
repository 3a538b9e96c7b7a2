"""``zoo new-plugin NAME``: a ready-to-install plugin distribution, ``zoo-NAME``: a model,
dataset, optimizer, scheduler or callback to start from (``--kind``), or (``--from-run``) a run's
best weights and their card, to publish."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, ZooError
from .files import check_name
from .hookspecs import HOOKSPEC_VERSION
from .plugins.cards import TAG
from .plugins.registry import plural
from .text import printable, shown

#: A plugin's name becomes a distribution ``zoo-NAME``, a module ``zoo_NAME`` and an entry point:
#: lowercase letters, digits and ``_`` (matched whole: a trailing newline is not a name).
NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
#: A distribution a generated plugin may depend on (PEP 508's name).
DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")

# The templates (zoo/templates/) are filled with values only as quoted literals: ``{name!r}`` in
# Python (a ``repr``), ``{..._toml}`` in TOML (a JSON string, which TOML reads alike), never as
# code or as an identifier. The functions they define have fixed names, so no plugin name can
# shadow zoo, ``register`` or a keyword.


#: ``zoo new-plugin NAME --kind KIND``: each has a module and a test among the templates.
PLUGIN_KINDS = (
    "model",
    "dataset",
    "optimizer",
    "scheduler",
    "callback",
    "metric",
    "loss",
    "transform",
)


KIND_USE = {
    "model": "zoo run {name}              # train it on MNIST with zoo's defaults\n"
    "zoo run {name} --set model.hidden=32",
    "dataset": "zoo run logistic --set dataset.name={name}",
    "optimizer": "zoo run cnn --set optimizer.name={name} --set optimizer.lr=0.1",
    "scheduler": "zoo run cnn --set scheduler.name={name} --set scheduler.gamma=0.7",
    "callback": "zoo run cnn --set 'callbacks=[{{name: {name}, target: 0.95}}]'",
    "metric": "zoo run cnn --set 'metrics=[{name}]'",
    "loss": "zoo run cnn --set loss.name={name} --set loss.gamma=1.0",
    "transform": "zoo run cnn --set 'augment=[{{name: {name}, sigma: 0.2}}]'",
}


# A weights plugin holds no value of the run in its code: the module registers every card it
# finds beside it and the test reads the names from the cards (data read at run time, checked as
# any card is).


#: The files ``zoo new-plugin`` writes, as templates (``str.format`` fields such as ``{name}``;
#: ``{{`` is a brace): KIND.py and KIND_test.py for each kind, pyproject.toml and README.md.
TEMPLATES = Path(__file__).parent / "templates"


def _template(name: str) -> str:
    return (TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8")


def target(name: str, folder: Path | None = None) -> Path:
    """The folder ``zoo-NAME`` will be written to, once ``name`` and the folder are checked."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(
            f"plugin name {shown(name)}: use lowercase letters, digits and _, starting with a "
            "letter, at most 50 (it becomes the module zoo_NAME)"
        )
    folder = Path(folder) if folder is not None else Path(f"zoo-{name.replace('_', '-')}")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another --dir")
    return folder


def _toml(value: Any) -> str:
    """A TOML value written as JSON: strings and lists of strings read the same in both."""
    return json.dumps(value)


def new_plugin(
    name: str,
    folder: Path | None = None,
    *,
    kind: str = "model",
    card: Callable[[Path], Path] | None = None,
    weights: str | None = None,
    model: str | None = None,
    model_distribution: str | None = None,
    metrics: str = "",
    dataset: str = "",
) -> Path:
    """Write the distribution ``zoo-NAME`` into ``folder`` (default ``./zoo-NAME``): a working,
    tested template of one ``kind`` (model, dataset, optimizer, scheduler, callback), or with
    ``card`` (a function writing the weights and their card into the folder it
    is given) a plugin that registers the trained ``weights`` of ``model``."""
    folder = target(name, folder)
    if kind not in PLUGIN_KINDS:
        raise ConfigError(f"--kind {kind}: expected one of {', '.join(PLUGIN_KINDS)}")
    distribution, module = f"zoo-{name.replace('_', '-')}", f"zoo_{name}"
    needs = ["torch-zoo"]
    if card is not None and model_distribution and model_distribution not in needs:
        if not DISTRIBUTION.fullmatch(model_distribution):
            raise ConfigError(
                f"the model's distribution {shown(model_distribution)} is not a name pip "
                "installs: a weights plugin cannot depend on it"
            )
        needs.append(model_distribution)
    description = (
        f"A zoo plugin: the {kind} {name}."
        if card is None
        else (f"A zoo plugin: the trained weights {weights}.")
    )
    values = {
        "name": name,
        "module": module,
        "distribution": distribution,
        "version": HOOKSPEC_VERSION,
        "kind": kind,
        "kinds": plural(kind),
        "use": KIND_USE[kind].format(name=name),
        "module_toml": _toml(module),
        "distribution_toml": _toml(distribution),
        "description_toml": _toml(description),
        "dependencies_toml": _toml(needs),
        "package_data": "",
    }
    template = "weights" if card is not None else kind
    module_text, test = _template(f"{template}.py"), _template(f"{template}_test.py")
    if card is not None:
        values |= {  # README text only (Markdown, printed safely): the code holds none of these
            "weights": printable(weights),
            "model": printable(model),
            "dataset": printable(dataset),
            "metrics": printable(metrics),
            "package_data": _template("weights_package_data.toml").format(module=module),
        }
    readme = _template("weights_README.md" if card is not None else "README.md")
    written = {
        "pyproject.toml": _template("pyproject.toml").format(**values),
        f"{module}/__init__.py": module_text.format(**values),
        f"tests/test_{name}.py": test.format(**values),
        "README.md": readme.format(**values),
    }
    for relative in ("pyproject.toml", f"{module}/__init__.py", f"tests/test_{name}.py"):
        _check_generated(relative, written[relative], values)
    created = not folder.exists()
    try:
        if card is not None:
            card(folder / module / "weights")
        for relative, text in written.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except BaseException:  # the folder was new or empty: everything in it is ours to take back
        for entry in [folder] if created else list(folder.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        raise
    return folder


def _check_generated(relative: str, text: str, values: dict[str, Any]) -> None:
    """What was generated parses, and holds the values it was given as values: a last guard that
    no input became code (failing it would be zoo's bug, never the user's)."""
    import ast

    if relative.endswith(".py"):
        tree = ast.parse(text)
        names = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "NAME" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        if names not in ([], [values["name"]]):
            raise ZooError(f"zoo generated a broken {relative}: please report this bug")
        return
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library
        return
    project = tomllib.loads(text)["project"]
    read = [
        project["name"],
        json.dumps(project["dependencies"]),
        json.dumps(project["description"]),
    ]
    given = [values["distribution"], values["dependencies_toml"], values["description_toml"]]
    if read != given:
        raise ZooError(f"zoo generated a broken {relative}: please report this bug")


def weights_plugin(
    name: str,
    run_dir: Path,
    folder: Path | None,
    tag: str | None,
    test: dict[str, Any] | None,
    model_entry: Any,
    seeds: list[dict[str, Any]] | None = None,
) -> tuple[Path, str]:
    """``zoo new-plugin NAME --from-run RUN_DIR``: the distribution ``zoo-NAME`` carrying the
    run's best weights as ``MODEL.TAG`` (``tag`` defaults to the run's dataset) and their card,
    with the ``test`` split's loss and accuracy when measured. Returns (folder, weights name)."""
    from .plugins.declarative import PLUGIN_NAME
    from .runs.rundir import RunDir
    from .runs.weights import write_card

    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    info = run.model_info
    if model_entry.plugin == PLUGIN_NAME:
        raise ConfigError(
            f"model '{model_entry.name}' is written in {model_entry.distribution}, not in an "
            "installed plugin: a weights plugin needs a model pip can install (make it a plugin "
            "first: zoo new-plugin NAME --kind model)"
        )
    tag = tag if tag is not None else str(info.get("dataset") or "trained")
    if not isinstance(tag, str) or not TAG.fullmatch(tag):
        raise ConfigError(f"--tag {shown(tag)}: use letters, digits, _ and - (e.g. mnist)")
    weights = check_name(f"{model_entry.name}.{tag}", "the weights name")  # bare, never PLUGIN:
    best = run.config.best(run.history())  # by the run's monitor
    metrics = f"best val accuracy {best['val_acc']:.2%}" if best else "no finished epoch"
    if test is not None:
        if not all(math.isfinite(test[k]) for k in ("loss", "acc")):
            raise ZooError(
                f"the test split gives loss {test['loss']} and accuracy {test['acc']}: these "
                "weights are broken (not numbers); nothing was written"
            )
        metrics += f", test accuracy {test['acc']:.2%}"
    written = new_plugin(
        name,
        folder,
        card=lambda into: write_card(
            run_dir, weights, into, test, model=model_entry.name, seeds=seeds
        ),  # fmt: skip
        weights=weights,
        model=model_entry.name,
        model_distribution=model_entry.distribution,
        metrics=metrics,
        dataset=str(info.get("dataset")),
    )
    return written, weights
