"""Models whose every sample takes several network evaluations (NFE > 1) are scored for
reconstructions and likelihood on the first ``iterative_test_images`` test images; every other model
on all of them."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from tests.helpers import tiny_bundle, tiny_model
from zoo.compare.options import CompareOptions
from zoo.compare.scoring import score_reconstructions, scored_test_images
from zoo.data.base import DataInfo

INFO = DataInfo(name="toy", channels=1, image_size=16)


def test_iterative_samplers_use_the_first_test_images_and_one_pass_models_all():
    options = CompareOptions(iterative_test_images=100)
    ddpm, flow, vae = (tiny_model(name, INFO) for name in ("ddpm", "flow_matching", "vae"))
    assert ddpm.sample_evaluations > 1 and flow.sample_evaluations > 1 and vae.sample_evaluations == 1
    assert scored_test_images(ddpm, 10_000, options) == 100
    assert scored_test_images(flow, 10_000, options) == 100
    assert scored_test_images(ddpm, 50, options) == 50, "never more than there are"
    assert scored_test_images(vae, 10_000, options) == 10_000
    assert scored_test_images(ddpm, 10_000, CompareOptions(iterative_test_images=None)) == 10_000


def test_reconstructions_are_scored_without_an_autograd_graph():
    """A graph kept through 25 denoising steps of 500 images took a comparison past 24 GB (killed)."""
    data = tiny_bundle(n_test=8)
    model = tiny_model("ddpm", data.info).eval()
    grad_modes = []
    real_decode = model.decode

    def decode(z, y=None, steps=None):
        grad_modes.append(torch.is_grad_enabled())
        return real_decode(z, y, steps)

    model.decode = decode
    ref = SimpleNamespace(test_images=data.test.images.float() / 255, test_labels=data.test.labels)
    row = score_reconstructions(model, data, ref, CompareOptions(batch_size=4), torch.device("cpu"), {})
    assert row["recon_mse"] >= 0 and grad_modes and not any(grad_modes)
