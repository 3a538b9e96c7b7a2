import torch

import zoo


def test_lenet5_has_the_papers_layers():
    model = zoo.create_model("lenet5")
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(6, (5, 5)), (16, (5, 5))]
    linears = [m for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(400, 120), (120, 84), (84, 10)]
    assert sum(p.numel() for p in model.parameters()) == 61_706  # the paper's ~60k
    assert model(torch.rand(3, 784)).shape == (3, 10)


def test_lenet5_as_the_paper_wrote_it():
    model = zoo.create_model("lenet5", activation="tanh", pool="avg")
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Tanh", "AvgPool2d"} <= kinds and not {"ReLU", "MaxPool2d"} & kinds
