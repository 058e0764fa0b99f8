"""Fréchet distance (FID; Heusel et al. 2017, "GANs trained by a two time-scale update rule
converge to a local Nash equilibrium") and kernel distance (KID; Bińkowski et al. 2018,
"Demystifying MMD GANs") between two sets of features, through torchmetrics.

    FID = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))
    KID = unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, averaged over random subsets

The features are computed elsewhere (``zoo.metrics.features``: Inception-v3 or genzoo's own
network) and cached; torchmetrics receives them through an identity "feature extractor", so the
distances are exactly torchmetrics' formulas on the features given.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class GivenFeatures(nn.Module):
    """Passes precomputed features (B, D) through unchanged; tells torchmetrics their width."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def _finite(*features: torch.Tensor) -> None:
    """LAPACK crashes the process on a NaN matrix (MKL: "Parameter 3 was incorrect on entry to DGEBAL")."""
    if not all(bool(torch.isfinite(f).all()) for f in features):
        raise ValueError("features with NaN or infinite values have no Fréchet or kernel distance")


def frechet_distance(reference: torch.Tensor, candidate: torch.Tensor) -> float:
    """FID between feature sets (N, D) and (M, D)."""
    _finite(reference, candidate)
    metric = FrechetInceptionDistance(feature=GivenFeatures(reference.shape[1]))
    metric.update(reference.double(), real=True)
    metric.update(candidate.double(), real=False)
    return float(metric.compute())


def kernel_distance(
    reference: torch.Tensor, candidate: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, standard deviation over ``subsets`` random subsets) between feature sets."""
    _finite(reference, candidate)
    size = min(subset_size, len(reference), len(candidate))
    with warnings.catch_warnings():  # "will save all extracted features": that is the point here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(feature=GivenFeatures(reference.shape[1]), subsets=subsets, subset_size=size)
    metric.update(reference.double(), real=True)
    metric.update(candidate.double(), real=False)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws the subsets from the global RNG
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)
