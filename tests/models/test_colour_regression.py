"""The regression baseline: one colouring per grey image (its n "colourings" are identical, so
their variance is 0), the grey image kept, and it learns colour from lightness where colour is a
function of lightness."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import tiny_bundle
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.metrics.colour import best_of_n_rmse, rmse_per_sample, sample_variance
from zoo.models.colour_regression import ColourRegression
from zoo.nn.colour import chroma, lightness
from zoo.optim import Stepper


def trained(loss: str, steps: int) -> tuple[ColourRegression, torch.Tensor]:
    torch.manual_seed(0)
    data = tiny_bundle(size=16, colour=True)
    model = ColourRegression(data.info, cond_width=8, loss=loss, lr=3e-3)
    stepper = Stepper(model)
    g = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        x, y = data.train.batch(torch.randint(0, len(data.train), (32,), generator=g))
        stepper.train_batch(x, y, step)
    return model.eval(), data.test.first(32)[0]


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_it_learns_colour_from_lightness_and_its_colourings_are_all_one(loss):
    model, xt = trained(loss, 150)
    colourings = model.colourise(lightness(xt), 8)
    assert colourings.shape == (32, 8, 3, 16, 16)
    assert torch.equal(sample_variance(colourings), torch.zeros(32))
    ab = chroma(colourings.flatten(0, 1)).view(32, 8, 2, 16, 16)
    assert torch.allclose(best_of_n_rmse(ab, chroma(xt)), rmse_per_sample(ab, chroma(xt))[:, 0])
    grey_error = chroma(xt).pow(2).mean().sqrt()
    assert rmse_per_sample(ab[:, :1], chroma(xt)).mean() < 0.5 * grey_error
    inside = (colourings[:, 0] > 0.01).all(1, keepdim=True) & (colourings[:, 0] < 0.99).all(1, keepdim=True)
    assert ((lightness(colourings[:, 0]) - lightness(xt)).abs()[inside] < 1e-3).all()


def test_a_grey_data_set_is_refused_with_the_fix():
    with pytest.raises(ZooError, match=r"colourises colour images, but mnist has 1 channel.*data=folder"):
        ColourRegression(DataInfo("mnist", 1, 28))
