"""Train the weights the built-in plugins ship, measure each on its dataset's test split with
``zoo.evaluate``, and write the card and the file into the plugin's ``weights/`` folder.

    python plugins/ship_weights.py [--mnist data/mnist] [--out runs/shipped] [NAME ...]

MNIST comes from the official IDX files (``python benchmarks/mnist_idx.py`` puts them in
data/mnist, checked against torchvision's MD5s); Fashion-MNIST from Debian's
dataset-fashion-mnist package (the dataset's default system_dir). The recipe a card records is
the run's resolved config without where the data was on this machine (``dataset.path``), so
``zoo reproduce`` reads it from wherever a user has it (``--set dataset.path=...``).

    python plugins/ship_weights.py --measure NAME ...

adds the parameter count and FLOPs to cards written before cards recorded them, without
training (their training time and hardware stay unknown: that run is gone).

    python plugins/ship_weights.py --test-loss [--mnist data/mnist] NAME ...

measures each card's test split again with ``zoo.evaluate`` and writes its loss (the plain
negative log-likelihood, whatever loss the run trained with) into the card; its accuracy is
checked to be the card's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import zoo
from zoo.files import write_atomic
from zoo.runs.trained import measure
from zoo.runs.weights import write_card

HERE = Path(__file__).parent
#: name -> (the run in zoo.yaml, the plugin's package folder, the dataset).
SHIPPED = {
    "logistic.mnist": ("logistic", HERE / "logistic" / "zoo_logistic", "mnist"),
    "cnn.mnist": ("cnn", HERE / "cnn" / "zoo_cnn", "mnist"),
    "sequential_cnn.mnist": (
        "sequential_cnn",
        HERE / "sequential_cnn" / "zoo_sequential_cnn",
        "mnist",
    ),
    "cnn.fashion_mnist": ("cnn", HERE / "cnn" / "zoo_cnn", "fashion_mnist"),
    "mlp.mnist": ("mlp", HERE / "mlp" / "zoo_mlp", "mnist"),
    "mlp.fashion_mnist": ("mlp", HERE / "mlp" / "zoo_mlp", "fashion_mnist"),
    "lenet5.mnist": ("lenet5", HERE / "lenet" / "zoo_lenet", "mnist"),
    "lenet5.fashion_mnist": ("lenet5", HERE / "lenet" / "zoo_lenet", "fashion_mnist"),
    "bn_cnn.mnist": ("bn_cnn", HERE / "bn_cnn" / "zoo_bn_cnn", "mnist"),
    "bn_cnn.fashion_mnist": ("bn_cnn_fashion", HERE / "bn_cnn" / "zoo_bn_cnn", "fashion_mnist"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=list(SHIPPED), help=", ".join(SHIPPED))
    parser.add_argument("--mnist", default="data/mnist", help="folder of MNIST's IDX files")
    parser.add_argument("--out", default="runs/shipped", help="where the runs are kept")
    parser.add_argument("--measure", action="store_true", help="only measure existing cards")
    parser.add_argument(
        "--test-loss", action="store_true", help="only measure the cards' test loss again"
    )
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in SHIPPED]
    if unknown:
        parser.error(f"unknown weights {', '.join(unknown)}: expected some of {', '.join(SHIPPED)}")
    if args.measure:
        for name in args.names:
            measure_card(name, SHIPPED[name][1] / "weights" / f"{name}.json")
        return
    if args.test_loss:
        for name in args.names:
            path = SHIPPED[name][1] / "weights" / f"{name}.json"
            test_loss(name, path, data_of(SHIPPED[name][2], args.mnist))
        return
    for name in args.names:
        run_name, package, dataset = SHIPPED[name]
        data = data_of(dataset, args.mnist)
        out = Path(args.out) / name
        run = zoo.train(run_name, overrides=data, out=out, verbose=True)
        where = {k: v for k, v in data.items() if k != "dataset.name"}
        test = zoo.evaluate(run.dir, split="test", which="best", overrides=where)
        card = write_card(run.dir, name, package / "weights", test)
        print(f"{name}: test loss {test['loss']:.4f}, accuracy {test['acc']:.2%} -> {card}")


def data_of(dataset: str, mnist: str) -> dict[str, str]:
    """The overrides that say where a dataset is here."""
    if dataset == "fashion_mnist":
        return {"dataset.name": "fashion_mnist"}
    return {"dataset.format": "idx", "dataset.path": mnist}


def test_loss(name: str, path: Path, data: dict[str, str]) -> None:
    """The card at ``path`` with its test loss measured again (nothing else changes)."""
    where = {k: v for k, v in data.items() if k != "dataset.name"}
    test = zoo.evaluate(name, split="test", overrides=where)
    fields = json.loads(path.read_text(encoding="utf-8"))
    metrics = fields["metrics"]
    if metrics.get("test_acc") != test["acc"]:
        raise SystemExit(
            f"{name}: test accuracy {test['acc']} here, {metrics['test_acc']} on its card"
        )
    before, metrics["test_loss"] = metrics.get("test_loss"), test["loss"]
    write_atomic(path, (json.dumps(fields, indent=2) + "\n").encode())
    print(f"{name}: test loss {before} -> {test['loss']} ({test['acc']:.2%}) -> {path}")


def measure_card(name: str, path: Path) -> None:
    """The card at ``path`` with its model's parameters and FLOPs added (nothing else changes)."""
    card = zoo.get_weights(name)
    counted = measure(zoo.create_model(name), card.input_shape)
    fields = json.loads(path.read_text(encoding="utf-8"))
    ordered = {}
    for key, value in fields.items():
        if key == "metrics":
            ordered |= counted
        if key not in counted:
            ordered[key] = value
    write_atomic(path, (json.dumps(ordered, indent=2) + "\n").encode())
    print(f"{name}: {counted['parameters']:,} parameters, {counted['flops']:,} FLOPs -> {path}")


if __name__ == "__main__":
    main()
