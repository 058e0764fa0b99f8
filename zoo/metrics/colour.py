"""The colourisation measures of the cINN paper (Ardizzone et al. 2019, table 2), per image.

- best-of-n RMSE: of n colourings of one grey image, the error of the closest to the ground truth
  (a diverse model is not punished for proposing other plausible colours; a regression's n are one);
- variance: the per-pixel variance of the n colourings, averaged over pixels and channels (0 for a
  deterministic model, by construction);
- colourfulness (Hasler & Süsstrunk 2003, "Measuring colourfulness in natural images", eq. 3):
  rg = R - G, yb = (R + G) / 2 - B on 8-bit values, M = sigma_rgyb + 0.3 mu_rgyb with
  sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2), mu_rgyb = sqrt(mu_rg^2 + mu_yb^2) over the image.
  A washed-out colouriser scores far below the ground truth; a grey image scores 0.
"""

from __future__ import annotations

import torch


def rmse_per_sample(samples: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Root-mean-square error of each of n samples (B, n, C, H, W) against the truth (B, C, H, W): (B, n)."""
    return (samples - truth[:, None]).pow(2).flatten(2).mean(2).sqrt()


def best_of_n_rmse(samples: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """The smallest RMSE among each image's n samples (B,)."""
    return rmse_per_sample(samples, truth).min(dim=1).values


def sample_variance(samples: torch.Tensor) -> torch.Tensor:
    """Variance over the n samples (B, n, C, H, W) per pixel and channel (the 1/n form), averaged: (B,)."""
    return samples.var(dim=1, unbiased=False).flatten(1).mean(1)


def colourfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk's M of each RGB image (B, 3, H, W) in [0, 1], on the 0-255 scale: (B,)."""
    r, g, b = (rgb.float() * 255).unbind(dim=1)  # (B, H, W) each
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mu = (rg.mean(dim=1).pow(2) + yb.mean(dim=1).pow(2)).sqrt()
    return sigma + 0.3 * mu
