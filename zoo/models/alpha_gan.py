"""alpha-GAN — Rosca, Lakshminarayanan, Warde-Farley & Mohamed (2017), "Variational Approaches
for Auto-Encoding Generative Adversarial Networks".

Four networks: an encoder E: x -> z (an implicit posterior), a generator G: z -> x, an image
discriminator D (real images vs reconstructions and samples) and a code discriminator C (prior
codes vs encoded codes). The VAE's two intractable terms are replaced by discriminators
(the density-ratio trick): the KL term by C, the likelihood partly by D, plus an L1 reconstruction.

With x ~ data, z_hat = E(x), x_rec = G(z_hat), z ~ N(0, I), x_gen = G(z), and D, C giving
probabilities through a sigmoid (``a`` denotes a logit, ``log D/(1-D) = a``), Algorithm 1 reads:

    L_E = lambda * |x - x_rec|_1  -  log C(z_hat) / (1 - C(z_hat))
    L_G = lambda * |x - x_rec|_1  -  log D(x_rec) / (1 - D(x_rec))  -  log D(x_gen) / (1 - D(x_gen))
    L_D = -log D(x) - log(1 - D(x_rec)) - log(1 - D(x_gen))
    L_C = -log C(z) - log(1 - C(z_hat))

C(z) is the probability that a code came from the prior. ``adversarial=nonsaturating`` swaps the
density-ratio terms -a for the more common -log sigmoid(a). E, G, D and C each have their own Adam
optimizer; E and G are updated ``ae_steps`` times per D/C update.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, ClassVar, Literal

import torch
from einops import rearrange
from pydantic import Field
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.nn.host_state import on_host, saved_on_host, set_on_host
from zoo.nn.losses import discriminator_loss, nonsaturating_generator_loss
from zoo.nn.pixels import halvings, to_signed, to_unit
from zoo.nn.resblocks import ResBlock
from zoo.options import AdamBetas, LearningRate, Size, Weight
from zoo.registry import MODELS


def _downsamplings(image_size: int) -> int:
    """Halvings from ``image_size`` to 4x4."""
    n = halvings(image_size, 4)
    if image_size != 4 * 2**n or n < 2:
        raise ZooError(
            f"alpha-GAN needs image_size a power of two >= 16 (e.g. 32 or 64); got {image_size}. "
            "For 28x28 data use data.image_size=32."
        )
    return n


def _widths(width: int, n: int) -> list[int]:
    """Channels at each resolution from S/2 down to 4x4 (doubling, capped at 4 * width)."""
    return [min(width * 2**i, 4 * width) for i in range(n)]


class Encoder(nn.Module):
    """x (B, C, S, S) -> strided conv -> res-blocks with average pooling -> dense -> z (B, latent_dim).

    The stem halves the resolution at once: full-resolution res-blocks would cost most of a CPU
    budget for 32x32 line drawings."""

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int, activation: str = "relu"):
        super().__init__()
        ws = _widths(width, _downsamplings(image_size))
        self.stem = nn.Conv2d(channels, ws[0], 4, stride=2, padding=1)  # (B, w, S/2, S/2)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "down", activation) for a, b in itertools.pairwise(ws)))
        self.act = nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.2)
        self.head = nn.Linear(ws[-1] * 4 * 4, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.blocks(self.stem(x)))  # (B, C', 4, 4)
        return self.head(rearrange(h, "b c h w -> b (c h w)"))


class Generator(nn.Module):
    """z -> dense -> reshape to 4x4 -> res-blocks with nearest-neighbour upsampling -> conv -> tanh
    (the encoder in reverse; the last block, at full resolution, is half as wide)."""

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int):
        super().__init__()
        ws = [*_widths(width, _downsamplings(image_size))[::-1], max(width // 2, 1)]
        self.start = ws[0]
        self.project = nn.Linear(latent_dim, ws[0] * 4 * 4)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "up", "relu", norm=True) for a, b in itertools.pairwise(ws)))
        self.out = nn.Sequential(
            nn.BatchNorm2d(ws[-1]), nn.ReLU(), nn.Conv2d(ws[-1], channels, 3, padding=1), nn.Tanh()
        )
        saved_on_host(self, "bias_initialised", False)

    @torch.no_grad()
    def init_output_bias(self, real: torch.Tensor) -> None:
        """Start the output at the data's mean pixel (per channel, in tanh space).

        Doodles are mostly background: from a zero bias the L1 term first drives every pixel to
        the background and sits on that plateau for about a thousand steps. Done once, on the
        first batch; the flag is a buffer, so a resumed run does not redo it."""
        mean = real.mean(dim=(0, 2, 3)).clamp(-0.99, 0.99)  # (C,)
        self.out[2].bias.copy_(torch.atanh(mean))
        set_on_host(self, "bias_initialised", True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = rearrange(self.project(z), "b (c h w) -> b c h w", c=self.start, h=4, w=4)
        return self.out(self.blocks(h))  # (B, C, S, S) in [-1, 1]


class Discriminator(nn.Module):
    """The encoder's architecture with LeakyReLU and one real/fake logit (B,)."""

    def __init__(self, channels: int, image_size: int, width: int):
        super().__init__()
        self.net = Encoder(channels, image_size, width, 1, activation="lrelu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class CodeDiscriminator(nn.Module):
    """z (B, latent_dim) -> 3 dense layers with LeakyReLU -> logit that z came from the prior (B,).
    No batch norm: it would let the two kinds of codes in a batch see each other."""

    def __init__(self, latent_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


# -- losses ------------------------------------------------------------------------------------
def fool_loss(logit: torch.Tensor, form: str) -> torch.Tensor:
    """The encoder's or generator's term for making a discriminator say "real/prior":
    the paper's log density ratio -log D/(1-D) = -a, or the non-saturating -log D = softplus(-a)."""
    return -logit.mean() if form == "ratio" else nonsaturating_generator_loss(logit)


@MODELS.register("alpha_gan")
class AlphaGAN(GenerativeModel):
    can_encode = True
    ema_modules = ("encoder", "generator")

    tiny: ClassVar[dict[str, Any]] = {"width": 4, "latent_dim": 8, "code_hidden": 16}

    def __init__(
        self,
        info: DataInfo,
        latent_dim: Size = 64,
        width: Size = 16,
        code_hidden: Size = 750,
        recon_weight: Weight = 30.0,
        ae_steps: Annotated[int, Field(ge=1, le=100)] = 2,
        adversarial: Literal["nonsaturating", "ratio"] = "nonsaturating",
        lr: LearningRate = 2e-4,
        betas: AdamBetas = (0.5, 0.999),
    ):
        super().__init__(info)
        if adversarial not in ("ratio", "nonsaturating"):
            raise ZooError(f"model.adversarial must be ratio or nonsaturating, got '{adversarial}'")
        if ae_steps < 1:
            raise ZooError(f"model.ae_steps must be at least 1, got {ae_steps}")
        self.latent_dim, self.recon_weight, self.ae_steps = latent_dim, recon_weight, ae_steps
        self.adversarial, self.lr, self.betas = adversarial, lr, tuple(betas)
        self.encoder = Encoder(info.channels, info.image_size, width, latent_dim)
        self.generator = Generator(info.channels, info.image_size, width, latent_dim)
        self.discriminator = Discriminator(info.channels, info.image_size, width)
        self.code_discriminator = CodeDiscriminator(latent_dim, code_hidden)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        def adam(net: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(net.parameters(), lr=self.lr, betas=self.betas)

        return {
            "encoder": adam(self.encoder),
            "generator": adam(self.generator),
            "discriminator": adam(self.discriminator),
            "code_discriminator": adam(self.code_discriminator),
        }

    # -- the hybrid loss ---------------------------------------------------------------------------
    def autoencoder_losses(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_E and L_G from one forward pass, plus the pieces the discriminators reuse (detached)."""
        z_hat = self.encoder(real)
        z = torch.randn_like(z_hat)
        x_rec, x_gen = self.generator(torch.cat([z_hat, z])).chunk(2)
        recon = (real - x_rec).abs().mean()  # |x - G(E(x))|_1 per pixel
        d_rec, d_gen = self.discriminator(torch.cat([x_rec, x_gen])).chunk(2)
        code_adv = fool_loss(self.code_discriminator(z_hat), self.adversarial)
        image_adv = fool_loss(d_rec, self.adversarial) + fool_loss(d_gen, self.adversarial)
        return {
            "encoder": self.recon_weight * recon + code_adv,
            "generator": self.recon_weight * recon + image_adv,
            "recon_l1": recon,
            "code_adv": code_adv,
            "image_adv": image_adv,
            "z_hat": z_hat.detach(),
            "z": z,
            "x_rec": x_rec.detach(),
            "x_gen": x_gen.detach(),
        }

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        real = to_signed(x)  # the generator's tanh range
        if not on_host(self.generator, "bias_initialised"):
            self.generator.init_output_bias(real)
        for _ in range(self.ae_steps):  # E and G first, ae_steps times (they lag the discriminators)
            out = self.autoencoder_losses(real)
            self.optimize_jointly({"encoder": out["encoder"], "generator": out["generator"]})

        # D: real images are real; reconstructions and samples are both fake
        d_real = self.discriminator(real)
        d_rec, d_gen = self.discriminator(torch.cat([out["x_rec"], out["x_gen"]])).chunk(2)
        loss_d = discriminator_loss(d_real, d_rec, d_gen)
        self.optimize(loss_d, "discriminator")

        # C: prior codes are "real", encoded codes are "fake"
        c_prior, c_enc = self.code_discriminator(torch.cat([out["z"], out["z_hat"]])).chunk(2)
        loss_c = discriminator_loss(c_prior, c_enc)
        self.optimize(loss_c, "code_discriminator")

        code_accuracy = 0.5 * ((c_prior > 0).float().mean() + (c_enc < 0).float().mean())
        return {
            "loss_encoder": out["encoder"].detach(),
            "loss_generator": out["generator"].detach(),
            "loss_discriminator": loss_d.detach(),
            "loss_code_discriminator": loss_c.detach(),
            "recon_l1": out["recon_l1"].detach(),
            "code_adv": out["code_adv"].detach(),
            "image_adv": out["image_adv"].detach(),
            "d_real": torch.sigmoid(d_real).mean().detach(),
            "d_rec": torch.sigmoid(d_rec).mean().detach(),
            "d_gen": torch.sigmoid(d_gen).mean().detach(),
            "code_disc_accuracy": code_accuracy.detach(),  # 0.5: encoded codes look like the prior
        }

    # -- encoding, decoding, sampling ------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(to_signed(x))

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return to_unit(self.generator(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode(torch.randn(n, self.latent_dim, device=self.device, generator=generator))
