import torch

import zoo


def test_sequential_cnn_takes_its_lambda_layers_from_the_registry():
    from zoo_lambda_layer.layers import Lambda, View

    model = zoo.create_model("sequential_cnn")
    assert isinstance(model, torch.nn.Sequential)
    assert isinstance(model[0], View) and isinstance(model[-1], Lambda)


def test_sequential_cnn_computes_what_cnn_computes():
    cnn = zoo.create_model("cnn")
    seq = zoo.create_model("sequential_cnn")
    convs = [m for m in seq if isinstance(m, torch.nn.Conv2d)]
    for target, source in zip(convs, (cnn.conv1, cnn.conv2, cnn.conv3), strict=True):
        target.load_state_dict(source.state_dict())
    x = torch.rand(4, 784)
    torch.testing.assert_close(seq(x), cnn(x))
