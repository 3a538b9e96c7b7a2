import math

import torch

import zoo


def test_logistic_is_one_linear_layer():
    model = zoo.create_model("logistic")
    assert [type(m).__name__ for m in model.children()] == ["Linear"]
    assert model.linear.in_features == 784 and model.linear.out_features == 10


def test_logistic_scratch_uses_the_seeds_initialisation():
    torch.manual_seed(0)
    model = zoo.create_model("logistic_scratch")
    assert model.weights.shape == (784, 10) and not model.bias.any()
    assert abs(model.weights.std().item() - 1 / math.sqrt(784)) < 0.002
    x = torch.rand(4, 784)
    torch.testing.assert_close(model(x), x @ model.weights + model.bias)
