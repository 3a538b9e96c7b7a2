"""The ``zoo`` command. The only place where errors become exit codes: a :class:`ZooError` is
printed as one line (``ZOO_DEBUG=1`` shows the traceback) and exits with status 1.

Nothing imported at the top of these modules imports torch: ``zoo --help``, ``zoo list`` and
``zoo plugins`` stay fast. Training imports it when it starts.
"""

from __future__ import annotations

import warnings

import click

from ..hookspecs import DISTRIBUTION
from .authoring import new_plugin
from .catalog import list_, plugins, show
from .common import CONTEXT, ZooGroup, show_warning
from .data import data
from .results import eval_, export, plot, predict, runs_, show_samples
from .training import lr_find, reproduce, resume, run, sweep
from .tuning import tune
from .ui import ui


@click.group(cls=ZooGroup, context_settings=CONTEXT)
@click.version_option(package_name=DISTRIBUTION, prog_name="zoo")
def cli() -> None:
    """zoo: a plugin-based model zoo for PyTorch.

    \b
      zoo run logistic          train the tutorial's logistic regression on MNIST
      zoo list                  every model, dataset, optimizer, layer, weights and run
      zoo show cnn              the resolved config of a run, as YAML
      zoo predict cnn.mnist x.png   trained weights, right after install
      zoo runs                  past runs, with their best results
      zoo plugins               installed plugins and what each registered
      zoo ui                    the catalog, your runs and a model to try, in a browser
    """


for command in (
    run,
    resume,
    sweep,
    tune,
    lr_find,
    eval_,
    predict,
    reproduce,
    export,
    runs_,
    plot,
    show_samples,
    list_,
    show,
    plugins,
    data,
    new_plugin,
    ui,
):
    cli.add_command(command)


def main() -> None:
    warnings.showwarning = show_warning
    cli(prog_name="zoo")
