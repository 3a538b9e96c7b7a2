import torch

import zoo


def test_cnn_is_three_stride_two_convs_ending_in_the_classes():
    model = zoo.create_model("cnn", num_classes=10)
    convs = [model.conv1, model.conv2, model.conv3]
    assert [c.stride for c in convs] == [(2, 2)] * 3
    assert [c.kernel_size for c in convs] == [(3, 3)] * 3
    assert convs[-1].out_channels == 10
    assert model(torch.rand(5, 784)).shape == (5, 10)
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)  # images work as well as rows
