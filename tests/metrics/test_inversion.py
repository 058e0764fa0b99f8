"""GAN inversion finds codes whose images approach the target."""

from __future__ import annotations

import torch

from zoo.data.base import DataInfo
from zoo.metrics.inversion import invert
from zoo.models.dcgan import DCGAN


def test_inversion_recovers_an_image_the_generator_can_draw():
    torch.manual_seed(0)
    model = DCGAN(DataInfo("x", 1, 16), latent_dim=8, width=8).eval()
    with torch.no_grad():
        target = model.decode(model.prior(4))  # certainly in the generator's range
        start = model.decode(model.prior(4, torch.Generator().manual_seed(0)))
    found = invert(model, target, steps=150, lr=0.05, seed=0)
    before = (start - target).pow(2).mean()
    after = (found - target).pow(2).mean()
    assert after < 0.1 * before
