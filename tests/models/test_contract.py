"""The model contract, checked for every registered model at its own ``tiny`` options, so a new
model is tested the moment it registers: a training step returns finite numbers and moves the
weights; samples have the data's shape and lie in [0, 1]; each declared capability has its methods
and they behave; a checkpoint round-trips. A deliberately broken model fails the check."""

from __future__ import annotations

import math

import pytest
import torch

import zoo
from tests.helpers import tiny_data_for
from zoo import artefact
from zoo.checkpoint import load_checkpoint, save_checkpoint
from zoo.data.base import DataInfo
from zoo.export import write_export
from zoo.models.base import GenerativeModel
from zoo.nn.colour import lightness
from zoo.optim import Stepper
from zoo.registry import MODELS


def check_contract(name: str, tmp_path) -> None:
    """Every promise of ``zoo/models/base.py`` that the model ``name`` makes; an AssertionError names the first broken one."""
    cls, family = MODELS.get(name), name
    torch.manual_seed(0)
    data = tiny_data_for(name)
    shape = (data.info.channels, data.info.image_size, data.info.image_size)
    model = cls(info=data.info, **cls.tiny)
    stepper = Stepper(model)
    assert stepper.optimizers, "configure_optimizers() returned no optimizer"
    before = [p.detach().clone() for p in model.parameters()]
    x, y = data.train.batch(torch.arange(16))
    model.train()
    for step in (1, 2):
        metrics = stepper.train_batch(x, y, step)
    for name, value in metrics.items():  # detached 0-d tensors (read once per log window) or floats
        if torch.is_tensor(value):
            assert value.dim() == 0 and not value.requires_grad, f"logged value {name} must be a detached 0-d tensor"
        assert math.isfinite(float(value)), (name, value)
    assert metrics, "train_step logged nothing"
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True)), "no weight moved"

    model.eval()
    with torch.no_grad():
        samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, *shape), samples.shape
    assert samples.min() >= 0 and samples.max() <= 1, "samples leave [0, 1]"
    controls = {"temperature": 0.5, "truncation": 0.5, "labels": torch.zeros(5, dtype=torch.long), "steps": 1}
    for control in cls.sample_controls:
        if control == "labels" and not model.conditional:
            continue
        with torch.no_grad():
            controlled = model.sample(5, torch.Generator().manual_seed(0), **{control: controls[control]})
        assert controlled.shape == samples.shape, f"sample({control}=...) declared in sample_controls"
        assert not torch.equal(controlled, samples), f"sample({control}=...) must change the samples"
    xt, yt = data.test.batch(torch.arange(6))
    if cls.can_style_mix:
        with torch.no_grad():
            w = model.encode(xt[:3])
            layers = model.style_preset("coarse")
            assert layers and all(0 <= i < model.style_layers for i in layers), "style_preset('coarse')"
            same = model.style_mix(w[:2], w[2:], [])
            mixed = model.style_mix(w[:2], w[2:], list(range(model.style_layers)))
            assert torch.allclose(same, model.decode(w[2:]).expand_as(same), atol=1e-5), (
                "style_mix with no source layers must be the destination's decode"
            )
            assert torch.allclose(mixed, model.decode(w[:2]), atol=1e-5), "every layer from the source: its decode"
    if cls.can_encode:
        with torch.no_grad():
            recon = model.reconstruct(xt, yt)
        assert recon.shape == xt.shape and recon.min() >= 0 and recon.max() <= 1, "reconstruct()"
    if cls.has_likelihood:
        with torch.no_grad():
            nll = model.nll(xt, generator=torch.Generator().manual_seed(0), y=yt)
        assert nll.shape == (6,) and torch.isfinite(nll).all(), "nll() must give one finite value per image"
        assert cls.likelihood_kind and model.likelihood_data
    if cls.can_decode:
        z = model.prior(3, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
        out = model.decode(z)
        assert out.shape == (3, *shape), "decode(prior(n))"
        (grad,) = torch.autograd.grad(out.sum(), z)
        assert grad.abs().sum() > 0, "decode() must be differentiable in z"

    if cls.colourises:
        grey = lightness(xt)
        with torch.no_grad():
            colourings = model.colourise(grey, 3, generator=torch.Generator().manual_seed(0))
        assert colourings.shape == (6, 3, *shape), "colourise() must give (B, n, 3, H, W)"
        assert colourings.min() >= 0 and colourings.max() <= 1, "colourings leave [0, 1]"
        kept = (lightness(colourings.flatten(0, 1)) - grey.repeat_interleave(3, dim=0)).abs().mean()
        assert kept < 0.02, f"a colouring must keep the grey image it colours (mean |L difference| {kept:.3f})"
        if cls.can_transfer:
            with torch.no_grad():
                own, recon = model.transfer(xt, xt), model.reconstruct(xt, yt)
            assert (own - recon).abs().max() < 1e-3, "transfer(x, x): an image's own colours on its own lightness"
    for grid_name, grid in model.extra_grids(xt, yt, torch.Generator().manual_seed(0)).items():
        assert grid.shape[1:] == shape and grid.min() >= 0 and grid.max() <= 1, f"extra grid {grid_name}"

    save_checkpoint({"model": model.state_dict(), "step": 2}, tmp_path / "contract.pt")
    again = cls(info=data.info, **cls.tiny)
    again.load_state_dict(load_checkpoint(tmp_path / "contract.pt")["model"])
    again.eval()
    with torch.no_grad():
        assert torch.equal(again.sample(5, generator=torch.Generator().manual_seed(0)), samples), "checkpoint"

    # a portable export (safetensors + config.json), loaded by zoo.load with no data set anywhere
    about = artefact.describe({"model": {"name": family, **cls.tiny}}, data.info, family)
    write_export(model, {"library": artefact.LIBRARY, **about}, "", {}, tmp_path / "export")
    loaded = zoo.load(tmp_path / "export")
    assert not loaded.training, "zoo.load returns a model in eval mode"
    with torch.no_grad():
        assert torch.equal(loaded.sample(5, generator=torch.Generator().manual_seed(0)), samples), "export"


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_keeps_the_contract(name, tmp_path):
    check_contract(name, tmp_path)


class SamplesOutOfRange(GenerativeModel):
    """Trains, but its samples are in [-1, 1]: the mistake every new GAN makes once."""

    tiny = {}  # noqa: RUF012

    def __init__(self, info: DataInfo):
        super().__init__(info)
        self.net = torch.nn.Linear(4, info.dims)

    def configure_optimizers(self):
        return {"net": torch.optim.SGD(self.net.parameters(), lr=0.1)}

    def train_step(self, x, y):
        loss = (self.net(torch.randn(len(x), 4)) - x.flatten(1)).pow(2).mean()
        self.optimize(loss, "net")
        return {"loss": loss.item()}

    def sample(self, n, generator=None):
        out = torch.tanh(self.net(torch.randn(n, 4, generator=generator)))
        return out.view(n, self.info.channels, self.info.image_size, self.info.image_size)


def test_a_broken_model_registered_under_a_temporary_name_fails_the_contract(tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS._items, "broken_toy", SamplesOutOfRange)
    assert "broken_toy" in MODELS.names()  # a registered model is in the parametrization above
    with pytest.raises(AssertionError, match=r"samples leave \[0, 1\]"):
        check_contract("broken_toy", tmp_path)
