"""Reconstruction error of test images: MSE, PSNR and SSIM, in [0, 1] pixel units.

- MSE: mean over pixels and images of (x - x_rec)^2.
- PSNR = 10 log10(1 / MSE) for a data range of 1, from the set's mean MSE (so an exact
  reconstruction, as a flow gives, is +inf dB rather than an average of infinities).
- SSIM: Wang, Bovik, Sheikh & Simoncelli (2004), "Image quality assessment: from error visibility to
  structural similarity", 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, through
  torchmetrics; averaged over images.
"""

from __future__ import annotations

import math

import torch
from torchmetrics.functional.image import structural_similarity_index_measure


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB for data in [0, 1]; +inf for an exact reconstruction."""
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ssim(originals: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (B,) of images (B, C, H, W) in [0, 1]."""
    return structural_similarity_index_measure(
        reconstructions.double(), originals.double(), data_range=1.0, reduction="none"
    ).float()


class ReconstructionScores:
    """Accumulates batches of (original, reconstruction); ``result()`` gives mse, psnr and ssim."""

    def __init__(self) -> None:
        self.sq_err, self.ssim_sum, self.count = 0.0, 0.0, 0

    def update(self, originals: torch.Tensor, reconstructions: torch.Tensor) -> None:
        originals, reconstructions = originals.float().cpu(), reconstructions.float().cpu()
        self.sq_err += (originals - reconstructions).pow(2).flatten(1).mean(1).sum().item()
        self.ssim_sum += ssim(originals, reconstructions).sum().item()
        self.count += len(originals)

    def result(self) -> dict[str, float]:
        mse = self.sq_err / self.count
        return {"mse": mse, "psnr": psnr(mse), "ssim": self.ssim_sum / self.count}
