"""Coverage: does a model draw all of the data, or a few modes of it well?

- Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved
  precision and recall metric for assessing generative models"): each set's manifold is the union
  of balls around its points, each ball reaching the point's k-th nearest neighbour in the same set.
  Precision = share of generated points inside the real manifold (quality); recall = share of real
  points inside the generated manifold (coverage).
- For labelled data, a classifier's predicted classes of the samples: the share of classes that
  are generated at all (at least ``min_share`` of their data frequency) and
  KL(predicted class histogram || data class histogram) in nats (0: the right mix of classes).
"""

from __future__ import annotations

import math

import torch


def _kth_neighbour_radii(x: torch.Tensor, k: int, chunk: int = 2000) -> torch.Tensor:
    """Distance of each point (N, D) to its k-th nearest other point in the same set (N,)."""
    radii = []
    for start in range(0, len(x), chunk):
        d = torch.cdist(x[start : start + chunk], x)  # (chunk, N); the point itself is at distance 0
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2000) -> torch.Tensor:
    """For each point (M, D): is it within radius of at least one centre (N, D)? (M,) bool."""
    inside = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start : start + chunk], centres)  # (chunk, N)
        inside.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall of feature sets ``real`` (N, D) and ``fake`` (M, D)."""
    real, fake = real.double(), fake.double()
    precision = _inside(fake, real, _kth_neighbour_radii(real, k)).double().mean()
    recall = _inside(real, fake, _kth_neighbour_radii(fake, k)).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def class_coverage(
    predicted: torch.Tensor, data_labels: torch.Tensor, num_classes: int, min_share: float = 0.1
) -> dict[str, float]:
    """Share of classes generated and KL(generated || data) of the class histograms.

    A class counts as generated when its share of the samples is at least ``min_share`` times its
    share of the data. The generated histogram is smoothed by one count per class so that the KL
    stays finite when a class is never drawn."""
    data = torch.bincount(data_labels, minlength=num_classes).double()
    data = data / data.sum()
    counts = torch.bincount(predicted, minlength=num_classes).double()
    generated_share = counts / counts.sum()
    covered = (generated_share >= min_share * data).double().mean()
    smoothed = (counts + 1) / (counts.sum() + num_classes)
    kl = float((smoothed * (smoothed / data).log()).sum())
    return {"classes_covered": float(covered), "class_kl": kl if math.isfinite(kl) else math.inf}
