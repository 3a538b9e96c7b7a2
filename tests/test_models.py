"""Everything registered, whoever registered it: every model does forward + backward on a tiny
batch, every layer builds, every optimizer steps."""

from __future__ import annotations

import pytest
import torch

import zoo

MODELS = zoo.list_models()
OPTIMIZERS = zoo.list_optimizers()


def test_the_seed_plugins_are_installed():
    assert {"logistic", "logistic_scratch", "cnn", "sequential_cnn"} <= set(MODELS)
    assert {"lambda", "view"} <= set(zoo.list_layers())
    assert "mnist" in zoo.list_datasets()
    assert {"sgd", "adam", "adamw"} <= set(OPTIMIZERS)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_does_forward_and_backward(name):
    torch.manual_seed(0)
    model = zoo.get_model(name).create(context={"num_classes": 10, "input_shape": (1, 28, 28)})
    assert isinstance(model, torch.nn.Module)
    x = torch.rand(3, 784)
    out = model(x)
    assert out.shape == (3, 10)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward()
    grads = [p.grad for p in model.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_takes_num_classes(name):
    model = zoo.get_model(name).create(context={"num_classes": 3, "input_shape": (1, 28, 28)})
    assert model(torch.rand(2, 784)).shape == (2, 3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_steps(name):
    param = torch.nn.Parameter(torch.ones(3))
    opt = zoo.create_optimizer(name, [param])
    (param**2).sum().backward()
    opt.step()
    assert (param < 1).all()
