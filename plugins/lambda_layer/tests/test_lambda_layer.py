import pytest
import torch

import zoo


def test_lambda_wraps_any_function():
    layer = zoo.create_layer("lambda", lambda x: x + 1)
    assert isinstance(layer, torch.nn.Module)
    assert layer(torch.zeros(2)).tolist() == [1.0, 1.0]
    assert isinstance(torch.nn.Sequential(layer, torch.nn.ReLU())(torch.zeros(1)), torch.Tensor)


def test_view_reshapes_like_the_seeds_preprocess():
    for layer in (
        zoo.create_layer("view", -1, 1, 28, 28),
        zoo.create_layer("view", shape=[-1, 1, 28, 28]),
    ):
        assert layer(torch.zeros(3, 784)).shape == (3, 1, 28, 28)
        assert "shape=(-1, 1, 28, 28)" in repr(layer)


def test_view_needs_a_shape_of_integers():
    with pytest.raises(zoo.ConfigError, match="view needs a shape of integers"):
        zoo.create_layer("view", "wide")
    with pytest.raises(zoo.ConfigError, match="not both"):
        zoo.create_layer("view", -1, shape=[-1])
