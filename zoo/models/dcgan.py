"""DCGAN — Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks".

The paper's architecture guidelines: strided convolutions instead of pooling (transposed in
the generator), batch norm in both networks except the generator's output and the
discriminator's input layer, ReLU in the generator with tanh at the output, LeakyReLU(0.2) in
the discriminator, weights drawn from N(0, 0.02), Adam with lr 2e-4 and beta1 = 0.5.

Losses (Goodfellow et al. 2014, with the non-saturating generator loss):

    L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]
    L_G = -E_z[log D(G(z))]

Both use ``-log sigmoid(a) = softplus(-a)`` on the discriminator's logit ``a``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel, frozen
from zoo.nn.losses import discriminator_loss, nonsaturating_generator_loss
from zoo.nn.pixels import halvings, to_signed, to_unit
from zoo.options import AdamBetas, LearningRate, Size
from zoo.registry import MODELS


def dcgan_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _levels(image_size: int) -> int:
    """Number of 2x resolution steps between 4x4 and ``image_size``."""
    levels = halvings(image_size, 4)
    if image_size < 16 or 4 * 2**levels != image_size:
        raise ZooError(
            f"DCGAN needs image_size a power of two >= 16 (e.g. 32 or 64); got {image_size}. "
            "For 28x28 data use data.image_size=32 (the digits are padded, not stretched)."
        )
    return levels


class Generator(nn.Module):
    """z (B, latent_dim) -> 4x4 -> ... -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int):
        super().__init__()
        levels = _levels(image_size)
        ch = width * 2 ** (levels - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(levels - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # (B, Z) -> (B, Z, 1, 1)


class Discriminator(nn.Module):
    """image (B, C, S, S) -> ... -> 4x4 -> real/fake logit (B,)."""

    def __init__(self, channels: int, image_size: int, width: int):
        super().__init__()
        levels = _levels(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no BN on input
        ch = width
        for _ in range(levels - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0)]  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


@MODELS.register("dcgan")
class DCGAN(GenerativeModel):
    can_decode = True  # no encoder, but codes can be searched for (GAN inversion in compare.py)
    ema_modules = ("generator",)

    tiny: ClassVar[dict[str, Any]] = {"width": 4, "latent_dim": 8}

    def __init__(
        self,
        info: DataInfo,
        latent_dim: Size = 100,
        width: Size = 64,
        lr: LearningRate = 2e-4,
        betas: AdamBetas = (0.5, 0.999),
    ):
        super().__init__(info)
        self.latent_dim, self.lr, self.betas = latent_dim, lr, tuple(betas)
        self.generator = Generator(latent_dim, info.channels, info.image_size, width)
        self.discriminator = Discriminator(info.channels, info.image_size, width)
        self.apply(dcgan_init)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=self.betas),
            "generator": torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=self.betas),
        }

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        real = to_signed(x)  # the range of the generator's tanh
        z = torch.randn(len(x), self.latent_dim, device=x.device)
        fake = self.generator(z)

        # L_D = -log D(x) - log(1 - D(G(z)))
        d_real, d_fake = self.discriminator(real), self.discriminator(fake.detach())
        loss_d = discriminator_loss(d_real, d_fake)
        self.optimize(loss_d, "discriminator")

        # L_G = -log D(G(z)) (non-saturating); D is frozen so no gradient is spent on it
        with frozen(self.discriminator):
            loss_g = nonsaturating_generator_loss(self.discriminator(fake))
            self.optimize(loss_g, "generator")

        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(d_real).mean().detach(),  # D's belief that real images are real
            "d_fake": torch.sigmoid(d_fake).mean().detach(),
        }

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1]; differentiable in z (GAN inversion needs the gradient)."""
        return to_unit(self.generator(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode(self.prior(n, generator)).clamp_(0, 1)
