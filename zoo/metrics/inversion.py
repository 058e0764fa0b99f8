"""GAN inversion: a reconstruction for a model without an encoder, by searching its latent space.

For each test image x, z* = argmin_z |G(z) - x|^2 by Adam from a prior draw (the optimisation-based
inversion of Zhu et al. 2016, "Generative visual manipulation on the natural image manifold", and
Creswell & Bharath 2018). The result says how well the generator's range covers the test images; it
is labelled as an inversion in every report, since an encoder gets one pass and no search.
"""

from __future__ import annotations

import torch

from zoo.models.base import GenerativeModel


def invert(model: GenerativeModel, x: torch.Tensor, steps: int = 200, lr: float = 0.05, seed: int = 0) -> torch.Tensor:
    """G(z*) for images ``x`` (B, C, H, W) in [0, 1]; the model must declare ``can_decode``."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    z = model.prior(len(x), generator).detach().requires_grad_(True)  # type: ignore[attr-defined]
    optimizer = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = (model.decode(z) - x).pow(2).flatten(1).mean(1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return model.decode(z).clamp(0, 1)
