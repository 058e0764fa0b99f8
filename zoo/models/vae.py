"""Variational auto-encoder — Kingma & Welling (2014), "Auto-Encoding Variational Bayes"; test
likelihood by the importance-weighted bound of Burda, Grosse & Salakhutdinov (2016).

Encoder q(z|x) = N(mu(x), diag sigma^2(x)), prior p(z) = N(0, I), decoder p(x|z) a pixel
likelihood (Bernoulli for binarised doodles and digits, discretised logistic for 8-bit colour).
Training maximises the (beta-weighted) evidence lower bound, with the reparameterisation
z = mu + sigma * eps, eps ~ N(0, I):

    ELBO(x) = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))
    KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

Test NLL is reported through the k-sample importance-weighted bound (an upper bound on -log p(x)
that tightens as k grows):

    -log p(x) <= -log (1/k) sum_i p(x, z_i) / q(z_i|x),   z_i ~ q(z|x)

Binarised data follows the usual "dynamic binarisation": every training step draws
x ~ Bernoulli(intensity) afresh; the test set is binarised once with a fixed seed.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import torch
from einops import rearrange
from pydantic import Field
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.nn.likelihoods import LIKELIHOODS
from zoo.nn.losses import gaussian_log_prob
from zoo.nn.pixels import halvings
from zoo.options import LearningRate, Size, Weight
from zoo.registry import MODELS


def feature_sizes(image_size: int) -> list[int]:
    """Spatial sizes through the stride-2 stack: halve while the size is even and above 8 (28 -> 14 -> 7)."""
    sizes = [image_size // 2**i for i in range(halvings(image_size, 8) + 1)]
    if len(sizes) < 2:
        raise ZooError(f"the VAE needs an even image_size of at least 16, got {image_size}")
    return sizes


class Encoder(nn.Module):
    """x (B, C, S, S) -> stride-2 convolutions -> dense -> mu, log-variance (B, latent_dim)."""

    def __init__(self, channels: int, image_size: int, width: int, hidden: int, latent_dim: int):
        super().__init__()
        sizes = feature_sizes(image_size)
        layers: list[nn.Module] = []
        ch_in, ch = channels, width
        for _ in sizes[1:]:
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.SiLU()]
            ch_in, ch = ch, ch * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(ch_in * sizes[-1] ** 2, hidden), nn.SiLU(), nn.Linear(hidden, 2 * latent_dim)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = rearrange(self.features(x), "b c h w -> b (c h w)")
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """z (B, latent_dim) -> dense -> transposed convolutions -> likelihood parameters
    (B, C * params_per_channel, S, S); the mirror of the encoder."""

    def __init__(self, channels: int, image_size: int, width: int, hidden: int, latent_dim: int, out_per_channel: int):
        super().__init__()
        sizes = feature_sizes(image_size)
        ch = width * 2 ** (len(sizes) - 2)
        self.start = (ch, sizes[-1])
        self.project = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, ch * sizes[-1] ** 2), nn.SiLU()
        )
        layers: list[nn.Module] = []
        for _ in sizes[2:]:
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.SiLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels * out_per_channel, 4, 2, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        ch, size = self.start
        h = rearrange(self.project(z), "b (c h w) -> b c h w", c=ch, h=size, w=size)
        return self.net(h)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over latent dimensions: (B,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)


@MODELS.register("vae")
class VAE(GenerativeModel):
    can_encode = True
    has_likelihood = True
    likelihood_is_bound = True  # the IWAE estimate bounds -log p(x) from above
    likelihood_kind = "upper bound"
    ema_modules = ("encoder", "decoder")

    tiny: ClassVar[dict[str, Any]] = {"width": 4, "hidden": 16, "latent_dim": 4, "iw_samples": 2}

    def __init__(
        self,
        info: DataInfo,
        latent_dim: Size = 32,
        width: Size = 32,
        hidden: Size = 512,
        beta: Weight = 1.0,
        likelihood: Literal["auto", "bernoulli", "logistic"] = "auto",
        lr: LearningRate = 1e-3,
        iw_samples: Annotated[int, Field(ge=1, le=10_000)] = 100,
    ):
        super().__init__(info)
        if likelihood == "auto":
            likelihood = "bernoulli" if info.binary else "logistic"
        if likelihood not in LIKELIHOODS:
            raise ZooError(f"model.likelihood must be auto, {' or '.join(LIKELIHOODS)}; got '{likelihood}'")
        self.likelihood_name = likelihood
        self.likelihood = LIKELIHOODS[likelihood]()
        self.latent_dim, self.beta, self.lr, self.iw_samples = latent_dim, beta, lr, iw_samples
        self.encoder = Encoder(info.channels, info.image_size, width, hidden, latent_dim)
        self.decoder = Decoder(
            info.channels, info.image_size, width, hidden, latent_dim, self.likelihood.params_per_channel
        )

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.lr)}

    @property
    def likelihood_data(self) -> str:
        return (
            "binarised pixels (Bernoulli)"
            if self.likelihood_name == "bernoulli"
            else "8-bit pixels (discretised logistic)"
        )

    def prepare(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The data the likelihood is defined on: binarised draws for Bernoulli, 8-bit values otherwise."""
        if self.likelihood_name == "bernoulli":
            return torch.bernoulli(x, generator=generator)
        return x

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction log-likelihood E_q[log p(x|z)] (one sample) and KL, each (B,)."""
        mu, logvar = self.encoder(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.likelihood.log_prob(self.decoder(z), x), gaussian_kl(mu, logvar)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        x = self.prepare(x)
        log_px, kl = self.elbo_terms(x)
        elbo = log_px - kl
        loss = -(log_px - self.beta * kl).mean()
        self.optimize(loss, "vae")
        return {
            "loss": loss.detach(),
            "elbo": elbo.mean().detach(),
            "recon_nll": -log_px.mean().detach(),
            "kl": kl.mean().detach(),
        }

    # -- encoding, decoding, sampling ----------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean (B, latent_dim)."""
        return self.encoder(x)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean image in [0, 1]."""
        return self.likelihood.mean(self.decoder(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode(torch.randn(n, self.latent_dim, device=self.device, generator=generator))

    # -- likelihood ----------------------------------------------------------------------------
    @torch.no_grad()
    def nll(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        y: torch.Tensor | None = None,
        k: int | None = None,
        chunk: int = 25,
    ) -> torch.Tensor:
        """-log p(x) through the k-sample IWAE bound (``k`` defaults to the model's ``iw_samples``),
        in nats per image (B,). ``x`` is binarised (Bernoulli likelihood) with ``generator`` so
        repeated evaluations score the same data."""
        k = k or self.iw_samples
        x = self.prepare(x, generator)
        mu, logvar = self.encoder(x)
        std = torch.exp(0.5 * logvar)
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), device=x.device, generator=generator)
            z = rearrange(mu + std * eps, "m b z -> (m b) z")  # (m * B, Z), sample-major
            log_px = self.likelihood.log_prob(self.decoder(z), x.repeat(m, 1, 1, 1))
            log_pz = gaussian_log_prob(z)  # N(0, I)
            log_qz = gaussian_log_prob(z, mu.repeat(m, 1), 0.5 * logvar.repeat(m, 1))
            log_w.append((log_px + log_pz - log_qz).view(m, -1))
        log_w = torch.cat(log_w)  # (k, B)
        return -(torch.logsumexp(log_w, dim=0) - math.log(k))
