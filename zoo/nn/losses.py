"""The losses several families share, written once.

- The logistic GAN loss (Goodfellow et al. 2014) on a discriminator's logit ``a``, with
  ``-log sigmoid(a) = softplus(-a)`` and ``-log(1 - sigmoid(a)) = softplus(a)``: the discriminator
  minimises softplus(-a_real) + softplus(a_fake); the generator the non-saturating softplus(-a_fake).
- The log-density of a diagonal Gaussian, summed per example (VAE posteriors and priors, Glow's
  learned priors).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def discriminator_loss(real_logits: torch.Tensor, *fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(real) - sum over fake batches of log(1 - D(fake)), each a mean over its batch."""
    return F.softplus(-real_logits).mean() + sum(F.softplus(fake).mean() for fake in fake_logits)


def nonsaturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(fake): the generator's loss with strong gradients while D still wins."""
    return F.softplus(-fake_logits).mean()


def gaussian_log_prob(
    z: torch.Tensor, mean: torch.Tensor | float = 0.0, log_std: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """log N(z; mean, diag exp(log_std)^2) summed over every dimension but the first: (B,)."""
    log_std = torch.as_tensor(log_std, dtype=z.dtype, device=z.device)
    return (-0.5 * (LOG_2PI + 2 * log_std + (z - mean) ** 2 * torch.exp(-2 * log_std))).flatten(1).sum(1)
