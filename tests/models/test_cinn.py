"""The cINN (Ardizzone et al. 2019) as a colouriser: the whole conditional flow inverts and its
log-det is autograd's with the condition held fixed; z changes only the colour, the grey image
changes the map; colour transfer with an image's own z and own L gives the image back; it learns
colour from lightness on data where that is possible; grey data is refused at start."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import run_train, tiny_bundle
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.cinn import CINN
from zoo.nn.colour import chroma, lightness, to_rgb
from zoo.optim import Stepper

SMALL = {"K": 2, "hidden_channels": 8, "cond_width": 4, "ab_subsampling": 1}  # ab at full resolution: exact


def perturbed(model: CINN, scale: float = 0.05) -> CINN:
    """Away from the zero-initialised identity (and ActNorm initialised), as after some training."""
    torch.manual_seed(1)
    x = torch.rand(8, 3, 8, 8)
    model.flow(model.modelled_ab(x), lightness(x))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


def test_the_conditional_flow_inverts_and_its_logdet_matches_autograd_with_the_condition_fixed():
    model = perturbed(CINN(DataInfo("rgb8", 3, 8), L=2, **SMALL), scale=0.2).double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    ab, grey = chroma(x).double(), lightness(x).double()
    zs, logdet = model.flow(ab, grey)
    assert [z.shape[1:] for z in zs] == [s for s in model.z_shapes]
    assert torch.allclose(model.inverse_flow(zs, grey), ab, atol=1e-6)
    for i in range(2):
        g = grey[i : i + 1]

        def f(v, g=g):
            return torch.cat([z.flatten(1) for z in model.flow(v.view(1, 2, 8, 8), g)[0]], dim=1).flatten()

        jac = torch.autograd.functional.jacobian(f, ab[i].flatten())  # (128, 128)
        assert logdet[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-6)


def test_z_changes_only_the_colour_and_the_condition_changes_the_map():
    model = perturbed(CINN(DataInfo("rgb8", 3, 8), L=2, **SMALL), scale=0.2).eval()
    x = torch.rand(3, 3, 8, 8)
    grey = lightness(x)
    z1 = [torch.randn(3, *s, generator=torch.Generator().manual_seed(1)) for s in model.z_shapes]
    z2 = [torch.randn(3, *s, generator=torch.Generator().manual_seed(2)) for s in model.z_shapes]
    ab1, ab2 = model.inverse_flow(z1, grey), model.inverse_flow(z2, grey)
    assert ab1.shape == (3, 2, 8, 8)  # the flow outputs colour only: L is the input, untouched
    assert (ab1 - ab2).abs().max() > 1e-2
    out1, out2 = model.decode([grey, *z1]), model.decode([grey, *z2])
    assert (out1 - out2).abs().max() > 1e-2
    inside = (out1 > 0.01).all(1, keepdim=True) & (out1 < 0.99).all(1, keepdim=True)  # clipping aside
    assert ((lightness(out1) - grey).abs()[inside] < 1e-3).all()
    other = model.inverse_flow(z1, lightness(torch.rand(3, 3, 8, 8)))
    assert (other - ab1).abs().max() > 1e-2  # the same z under another grey image: another colouring


def test_colour_transfer_with_an_images_own_z_and_own_l_reconstructs_it():
    model = perturbed(CINN(DataInfo("rgb8", 3, 8), L=2, **SMALL)).eval()
    x = torch.rand(4, 3, 8, 8)
    assert (model.transfer(x, x) - x).abs().max() < 1e-4
    assert (model.reconstruct(x) - x).abs().max() < 1e-4
    moved = model.transfer(x, x.flip(0))  # image 0's colours under image 3's lightness
    inside = (moved > 0.01).all(1, keepdim=True) & (moved < 0.99).all(1, keepdim=True)
    assert ((lightness(moved) - lightness(x.flip(0))).abs()[inside] < 1e-3).all()


def test_with_chroma_subsampling_the_flow_models_ab_at_half_resolution_and_keeps_l_exact():
    """4:2:0: ab is the mean of each 2x2 block; the flow inverts on it exactly, a reconstruction is
    the image with its chroma subsampled and upsampled (its lightness unchanged), and the density
    counts the 2 (H/2) (W/2) modelled values."""
    model = perturbed(CINN(DataInfo("rgb8", 3, 16), L=2, **{**SMALL, "ab_subsampling": 2})).eval()
    assert model.z_shapes == [(4, 4, 4), (16, 2, 2)]
    x = torch.rand(3, 3, 16, 16)
    ab = model.modelled_ab(x)
    assert ab.shape == (3, 2, 8, 8)
    assert torch.allclose(ab, chroma(x).unfold(2, 2, 2).unfold(3, 2, 2).mean((-1, -2)), atol=1e-6)
    zs, _ = model.flow(ab, lightness(x))
    assert (model.inverse_flow(zs, lightness(x)) - ab).abs().max() < 1e-5
    recon = model.reconstruct(x)
    up = torch.nn.functional.interpolate(ab, size=16, mode="bilinear", align_corners=False)
    assert (recon - to_rgb(lightness(x), up)).abs().max() < 1e-4
    inside = (recon > 0.01).all(1, keepdim=True) & (recon < 0.99).all(1, keepdim=True)
    assert ((lightness(recon) - lightness(x)).abs()[inside] < 1e-3).all()
    nll = model.nll_terms(x, noise=False)
    assert model.bits_per_dim(nll).tolist() == pytest.approx((nll / (128 * math.log(2))).tolist())


def test_nll_is_a_conditional_density_of_ab_in_cielab_units_per_colour_dimension():
    model = CINN(DataInfo("rgb8", 3, 8), L=2, **SMALL).eval()
    x = torch.rand(2, 3, 8, 8)
    x = torch.round(x * 255) / 255
    # a fresh flow is the identity after ActNorm's first-batch initialisation: check the constant
    nll = model.nll_terms(x, noise=False)
    x_mid = (torch.round(x * 255) + 0.5) / 256
    zs, logdet = model.flow(chroma(x_mid), lightness(x_mid))
    by_hand = sum(0.5 * z.pow(2).flatten(1).sum(1) + 0.5 * math.log(2 * math.pi) * z[0].numel() for z in zs)
    assert torch.allclose(nll, by_hand - logdet + 128 * math.log(110.0), rtol=1e-5)
    assert model.bits_per_dim(nll).tolist() == pytest.approx((nll / (128 * math.log(2))).tolist())
    assert model.bits_label == "bits_per_colour_dim" and "given L" in model.likelihood_data


def test_a_grey_data_set_is_refused_with_the_fix():
    with pytest.raises(ZooError, match=r"colourises colour images.*data=flowers64"):
        CINN(DataInfo("quickdraw", 1, 32))


def test_through_train_py_a_grey_data_set_fails_at_start_and_writes_no_run(quickdraw_root, tmp_path):
    result = run_train(
        "model=cinn",
        "data=quickdraw",
        f"data.root={quickdraw_root}",
        "data.categories=[cat,smiley_face]",
        "logger.mode=disabled",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "colourises colour images, but quickdraw has 1 channel" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.yaml"))


def test_it_learns_which_colour_goes_with_which_lightness():
    """Colour squares whose colour is fixed by their lightness (red, green and yellow on dark
    backgrounds differ in L): after 200 steps the colourings of held-out images at temperature 0
    are far closer to the truth than the grey image (ab = 0) is, and the density is much higher."""
    torch.manual_seed(0)
    data = tiny_bundle(size=16, colour=True)
    model = CINN(data.info, K=2, hidden_channels=16, cond_width=8, warmup_steps=1, lr=3e-3)
    stepper = Stepper(model)
    xt, _ = data.test.first(32)
    g = torch.Generator().manual_seed(0)
    grey_error = chroma(xt).pow(2).mean().sqrt().item() * 110  # the grey image's: ab = 0
    before_nll = model.nll(xt, generator=g).mean()
    for step in range(1, 200 + 1):
        x, y = data.train.batch(torch.randint(0, len(data.train), (32,), generator=g))
        stepper.train_batch(x, y, step)
    model.eval()
    colourings = model.colourise(lightness(xt), 1, temperature=0.0, generator=g)[:, 0]
    error = (chroma(colourings) - chroma(xt)).pow(2).mean().sqrt().item() * 110
    assert error < 0.75 * grey_error, (error, grey_error)
    gain = model.bits_per_dim(before_nll - model.nll(xt, generator=g).mean()).item()
    assert gain > 1.5, gain  # bits per colour dimension
