"""Pixel likelihoods p(x | params) for decoders, summed over pixels to one log-probability per image.

- ``BernoulliLikelihood``: binary pixels (binarised doodles and digits); the decoder emits logits.
- ``DiscretizedLogisticLikelihood``: 8-bit pixels; each pixel's probability is the mass of a
  logistic distribution over its 1/255-wide bin (Salimans et al. 2017, PixelCNN++, with one
  mixture component), so log-likelihoods are proper discrete ones and bits/dim are comparable
  with flows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from zoo.nn.pixels import to_signed, to_unit


class BernoulliLikelihood:
    params_per_channel = 1

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """params: logits (B, C, H, W); x in {0, 1}. Returns (B,)."""
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none").flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params)


class DiscretizedLogisticLikelihood:
    params_per_channel = 2  # location and log-scale per channel
    bin_half_width = 1.0 / 255.0  # in [-1, 1] units, bins are 2/255 wide

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, log_scale = params.chunk(2, dim=1)
        return torch.tanh(loc), log_scale.clamp(min=-7.0)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """params: (B, 2C, H, W); x in [0, 1] on the 1/255 grid. Returns (B,)."""
        loc, log_scale = self._split(params)
        x = to_signed(x)
        inv_scale = torch.exp(-log_scale)
        centred = x - loc
        upper = inv_scale * (centred + self.bin_half_width)
        lower = inv_scale * (centred - self.bin_half_width)
        log_cdf_upper = upper - F.softplus(upper)  # log sigmoid(upper): the mass below 0's upper edge
        log_one_minus_cdf_lower = -F.softplus(lower)  # mass above 255's lower edge
        mass = torch.sigmoid(upper) - torch.sigmoid(lower)
        mid = inv_scale * centred
        log_density_mid = mid - log_scale - 2 * F.softplus(mid) + math.log(2 * self.bin_half_width)
        log_mass = torch.where(mass > 1e-5, torch.log(mass.clamp(min=1e-12)), log_density_mid)
        log_p = torch.where(x < -0.999, log_cdf_upper, torch.where(x > 0.999, log_one_minus_cdf_lower, log_mass))
        return log_p.flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        loc, _ = self._split(params)
        return to_unit(loc)


LIKELIHOODS = {"bernoulli": BernoulliLikelihood, "logistic": DiscretizedLogisticLikelihood}
