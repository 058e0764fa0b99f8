"""The registries: models and data sources are found by name; unknown names list the known ones."""

import pytest

from zoo.errors import ZooError
from zoo.registry import DATASETS, MODELS, Registry


def test_every_shipped_model_and_data_source_is_registered():
    assert {"dcgan", "vae"} <= set(MODELS.names())
    assert {"quickdraw", "mnist", "fashion_mnist", "cifar10", "flowers102", "folder"} <= set(DATASETS.names())


def test_unknown_name_fails_with_the_registered_names_and_a_close_match():
    with pytest.raises(ZooError) as err:
        MODELS.get("dcgna")
    message = str(err.value)
    assert "unknown model 'dcgna'" in message
    assert "dcgan" in message and "vae" in message
    assert "Did you mean 'dcgan'" in message


def test_register_returns_the_class_and_refuses_a_second_owner_of_a_name():
    registry = Registry("thing")

    @registry.register("a")
    class A:
        pass

    assert registry.get("a") is A
    with pytest.raises(ValueError):
        registry.register("a")(type("B", (), {}))
