import torch

import zoo


def test_bn_cnn_is_batch_norm_convolutions_and_a_linear_head():
    model = zoo.create_model("bn_cnn")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [c.out_channels for c in convs] == [16, 32, 32, 64, 64]
    assert len(norms) == len(convs) and all(c.bias is None for c in convs)
    assert isinstance(model.dropout, torch.nn.Dropout)
    assert isinstance(model.classifier, torch.nn.Linear)  # no ReLU on the logits
    assert sum(p.numel() for p in model.parameters()) == 70_330
    model.eval()
    scores = model(torch.rand(4, 784))
    assert scores.shape == (4, 10) and (scores < 0).any()
    wide = zoo.create_model("bn_cnn", width=24, num_classes=3)
    assert wide(torch.rand(2, 1, 28, 28)).shape == (2, 3)


def test_bn_cnn_gives_the_same_scores_for_rows_and_images():
    model = zoo.create_model("bn_cnn").eval()
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(x), model(x.reshape(3, 784)))
