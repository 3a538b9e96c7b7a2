import pytest
import torch

import zoo


def test_mlp_is_fully_connected_layers_ending_in_the_classes():
    model = zoo.create_model("mlp", hidden=64, layers=3)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (784, 64),
        (64, 64),
        (64, 64),
        (64, 10),
    ]
    assert isinstance(model[-1], torch.nn.Linear)  # the scores are not squashed by a ReLU
    assert model(torch.rand(5, 784)).shape == (5, 10)
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert sum(p.numel() for p in zoo.create_model("mlp").parameters()) == 669_706


def test_mlp_refuses_options_out_of_range():
    with pytest.raises(zoo.ConfigError, match="layers must be 1-16"):
        zoo.create_model("mlp", layers=0)
