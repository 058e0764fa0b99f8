"""MNIST and friends through torchvision, read from the data root into memory."""

import pytest
import torch

from zoo.data import build_data
from zoo.errors import ZooError


def test_mnist_from_the_data_folder(real_data):
    data = build_data("mnist", name="mnist", root=str(real_data), download=False)
    assert (len(data.train), len(data.test)) == (60000, 10000)
    assert data.train.images.shape[1:] == (1, 28, 28) and data.train.images.dtype == torch.uint8
    assert data.info.num_classes == 10 and data.info.binary and data.info.dims == 784
    assert sorted(data.test.labels.unique().tolist()) == list(range(10))


def test_mnist_padded_to_32_keeps_the_digits(real_data):
    native = build_data("mnist", name="mnist", root=str(real_data), download=False)
    padded = build_data("mnist", name="mnist", root=str(real_data), image_size=32, download=False)
    assert torch.equal(padded.test.images[:5, :, 2:30, 2:30], native.test.images[:5])


def test_missing_mnist_without_download_says_how_to_get_it(tmp_path):
    with pytest.raises(ZooError, match=r"MNIST not found in .*data.download=true"):
        build_data("mnist", name="mnist", root=str(tmp_path), download=False)
