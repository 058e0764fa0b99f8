"""Style-ALAE — Pidhorskyi, Adjeroh & Doretto (2020), "Adversarial Latent Autoencoders".

Four networks around a latent space W (section 3):

    F: z -> w          mapping network (an MLP, 8 layers), z ~ N(0, I)
    G: w -> x          style generator: learned 4x4 constant, per-layer AdaIN styles from w, noise
    E: x -> w          style encoder: collects instance-norm statistics at every layer (G's mirror)
    D: w -> real/fake  latent discriminator (an MLP)

The GAN is played in W (the discriminator sees E(x) and E(G(F(z))), never pixels), and the
autoencoder reciprocity is imposed in W too, not on pixels. With softplus(t) = log(1 + e^t) and
R1 = gamma/2 E||grad_x D(E(x))||^2 (Mescheder et al. 2018), Algorithm 1 updates, on each batch:

    step I   (E, D):  L_adv^{E,D} = softplus(D(E(G(F(z))))) + softplus(-D(E(x))) + R1
    step II  (F, G):  L_adv^{F,G} = softplus(-D(E(G(F(z)))))
    step III (E, G):  L_err^{E,G} = || F(z) - E(G(F(z))) ||_2^2         (F(z) held fixed)

Training grows progressively from 4x4 (``zoo/nn/progressive.py``): this model declares the
schedule (level, fade-in blend and batch size as a function of images seen) and the trainer, which
counts the images, tells it the phase before each step; lower resolutions are average-pooled from
the same images. Steps I and II use style mixing (two codes, a random crossover layer; StyleGAN section
3.1); sampling may use the truncation trick towards the running mean of w. For CPU budgets R1 is
applied lazily (every ``r1_every`` D steps, scaled by the interval; StyleGAN2, Karras et al. 2020,
section 3.1); ``r1_every=1`` is the paper's every-step penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel, frozen
from zoo.nn.host_state import on_host, saved_on_host, set_on_host
from zoo.nn.losses import discriminator_loss, nonsaturating_generator_loss
from zoo.nn.pixels import to_signed, to_unit
from zoo.nn.progressive import Phase, ProgressiveSchedule, blend_real, downsample, upsample_to
from zoo.nn.style import MLP, EncoderBlock, EqualizedConv2d, GeneratorBlock, pixel_norm
from zoo.options import AdamBetas, Count, Decay, Layers, LearningRate, Probability, Size, Weight
from zoo.registry import MODELS


def level_channels(levels: int, channel_base: int, max_channels: int) -> list[int]:
    """Channels at 4x4, 8x8, ...: channel_base / resolution, capped at ``max_channels``."""
    return [max(1, min(max_channels, channel_base // (4 * 2**i))) for i in range(levels)]


# -- the four networks ---------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    """F: z -> w, pixel-normalised z through ``layers`` dense layers (slowed by ``lr_mul``)."""

    def __init__(self, latent_dim: int, w_dim: int, layers: int, lr_mul: float):
        super().__init__()
        self.net = MLP(latent_dim, w_dim, w_dim, layers, lr_mul=lr_mul)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))


class StyleGenerator(nn.Module):
    """G: per-layer styles (B, 2 * levels, w_dim) -> image at the level's resolution, in [-1, 1]-ish."""

    def __init__(self, channels: int, widths: list[int], w_dim: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            GeneratorBlock(widths[max(i - 1, 0)], widths[i], w_dim, first=i == 0) for i in range(len(widths))
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, channels, 1, gain=1.0) for c in widths)
        saved_on_host(self, "bias_initialised", False)

    @torch.no_grad()
    def init_output_bias(self, real: torch.Tensor) -> None:
        """Start every level's output at the data's mean pixel (per channel), once, on the first
        batch: line drawings are mostly background, which a zero bias (mid-grey) is far from."""
        for to_rgb in self.to_rgb:
            to_rgb.bias.copy_(real.mean(dim=(0, 2, 3)))
        set_on_host(self, "bias_initialised", True)

    def forward(
        self,
        styles: torch.Tensor,
        level: int,
        blend: float,
        generator: torch.Generator | None = None,
        shared_noise: bool = False,
    ) -> torch.Tensor:
        x = previous = None
        for i in range(level + 1):
            if i == level and blend < 1.0:
                previous = self.to_rgb[i - 1](x)  # the level below's image, to fade from
            x = self.blocks[i](x, styles[:, 2 * i], styles[:, 2 * i + 1], generator, shared_noise)
        image = self.to_rgb[level](x)  # (B, C, 4 * 2^level, same)
        if previous is not None:
            image = torch.lerp(F.interpolate(previous, scale_factor=2, mode="nearest"), image, blend)
        return image


class StyleEncoder(nn.Module):
    """E: image at the level's resolution -> w = sum of every layer's style contribution."""

    def __init__(self, channels: int, widths: list[int], w_dim: int):
        super().__init__()
        # block i works at 4 * 2^i and hands widths[i - 1] channels to the block below
        self.blocks = nn.ModuleList(
            EncoderBlock(widths[i], widths[max(i - 1, 0)], w_dim, last=i == 0) for i in range(len(widths))
        )
        self.from_rgb = nn.ModuleList(EqualizedConv2d(channels, c, 1) for c in widths)

    def forward(self, x: torch.Tensor, level: int, blend: float) -> torch.Tensor:
        h = F.leaky_relu(self.from_rgb[level](x), 0.2)
        h, w0, w1 = self.blocks[level](h)
        w = (w0 + w1) * blend  # a fading-in level's styles count by its blend
        if blend < 1.0:
            below = F.leaky_relu(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), 0.2)
            h = torch.lerp(below, h, blend)
        for i in range(level - 1, -1, -1):
            h, w0, w1 = self.blocks[i](h)
            w = w + w0 + w1
        return w  # (B, w_dim)


class LatentDiscriminator(nn.Module):
    """D: w -> one real/fake logit (B,)."""

    def __init__(self, w_dim: int, layers: int):
        super().__init__()
        self.net = MLP(w_dim, w_dim, 1, layers)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.net(w).squeeze(1)


# -- losses (Algorithm 1) --------------------------------------------------------------------------
# L_adv^{E,D} is zoo.nn.losses.discriminator_loss(D(E(x)), D(E(G(F(z))))); L_adv^{F,G} is
# nonsaturating_generator_loss(D(E(G(F(z))))): the logistic loss every GAN here shares.
def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E ||grad_x D(E(x))||^2 on real images (``real`` must require grad)."""
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def latent_reconstruction_loss(w: torch.Tensor, w_rec: torch.Tensor) -> torch.Tensor:
    """||F(z) - E(G(F(z)))||^2, with F(z) a constant target (F is not updated by it)."""
    return (w.detach() - w_rec).pow(2).mean()


# -- style mixing schedules ----------------------------------------------------------------------
def named_layers(name: str, levels: int) -> list[int]:
    """Style layers (two per level) of a StyleGAN range, adapted to the number of levels:
    coarse = 4x4 and 8x8 (at least the first level), fine = 64x64 and up (at least the last
    level), middle = the rest. A model that has reached only 4x4 has one level, both coarse and fine."""
    resolutions = [4 * 2**i for i in range(levels)]
    fine = [i for i, r in enumerate(resolutions) if r >= 64] or [levels - 1]
    coarse = [i for i, r in enumerate(resolutions) if r <= 8 and i not in fine] or [0]  # 4x4 alone: all three
    middle = [i for i in range(levels) if i not in fine and i not in coarse]
    chosen = {"coarse": coarse, "middle": middle, "fine": fine}.get(name)
    if chosen is None:
        raise ZooError(f"unknown style-mixing range '{name}'; use coarse, middle, fine or a list of layer indices")
    return [2 * i + k for i in chosen for k in (0, 1)]


@MODELS.register("alae")
class ALAE(GenerativeModel):
    can_encode = True
    can_style_mix = True
    sample_controls = ("truncation",)
    ema_modules = ("mapping", "generator")

    tiny: ClassVar[dict[str, Any]] = {  # 2 steps of batch 8 per level: 4 steps reach 16x16
        "latent_dim": 8,
        "w_dim": 8,
        "mapping_layers": 2,
        "channel_base": 64,
        "max_channels": 8,
        "images_per_level": 16,
        "fade_images": 8,
        "batch_sizes": 8,
    }

    def __init__(
        self,
        info: DataInfo,
        latent_dim: Size = 128,
        w_dim: Size = 128,
        mapping_layers: Layers = 8,
        mapping_lr_mul: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1,
        discriminator_layers: Layers = 3,
        channel_base: Annotated[int, Field(ge=4, le=65536)] = 512,
        max_channels: Size = 64,
        levels: Annotated[int, Field(ge=1, le=9)] | None = None,
        images_per_level: Count | list[Count] = 30_000,
        fade_images: Annotated[int, Field(ge=0)] = 15_000,
        batch_sizes: Annotated[int, Field(ge=1, le=65536)] | list[Annotated[int, Field(ge=1, le=65536)]] = (64, 64, 32),
        r1_gamma: Weight = 10.0,
        r1_every: Annotated[int, Field(ge=1, le=1000)] = 4,
        mixing_prob: Probability = 0.9,
        truncation_psi: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7,
        w_avg_decay: Decay = 0.995,
        mixing_schedule: Sequence[Literal["coarse", "middle", "fine"] | list[Annotated[int, Field(ge=0)]]] = (
            "coarse",
            "middle",
            "fine",
        ),
        lr: LearningRate = 0.002,
        betas: AdamBetas = (0.0, 0.99),
    ):
        super().__init__(info)
        self.schedule = schedule = ProgressiveSchedule(
            info.image_size, images_per_level, fade_images, batch_sizes, levels
        )
        n = schedule.levels
        self.n_styles = 2 * n
        self.latent_dim, self.w_dim = latent_dim, w_dim
        self.r1_gamma, self.r1_every = r1_gamma, r1_every
        self.mixing_prob, self.truncation_psi = mixing_prob, truncation_psi
        self.w_avg_decay, self.lr, self.betas = w_avg_decay, lr, tuple(betas)
        self.mixing_layers = [self._layers(entry) for entry in mixing_schedule]
        widths = level_channels(n, channel_base, max_channels)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.generator = StyleGenerator(info.channels, widths, w_dim)
        self.encoder = StyleEncoder(info.channels, widths, w_dim)
        self.discriminator = LatentDiscriminator(w_dim, discriminator_layers)
        self.register_buffer("w_avg", torch.zeros(w_dim))  # running mean of F(z), for truncation
        # the trainer's count of images seen when it last told this model (``enter``): the phase
        # the weights are in, also for whoever loads them
        saved_on_host(self, "images_seen", 0)
        self.register_buffer("level_count", torch.tensor(n))
        saved_on_host(self, "d_steps", 0)  # discriminator updates so far, for the lazy R1 interval

    def _layers(self, entry: str | Sequence[int]) -> list[int]:
        if isinstance(entry, str):
            return named_layers(entry, self.schedule.levels)
        layers = [int(i) for i in entry]
        if any(not 0 <= i < self.n_styles for i in layers):
            raise ZooError(f"style-mixing layers {layers} out of range: this model has layers 0..{self.n_styles - 1}")
        return layers

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        theirs = state_dict.get(prefix + "level_count")
        if theirs is not None and int(theirs) != self.schedule.levels:
            raise ZooError(
                f"the checkpoint is a {int(theirs)}-level ALAE (4x4 to {4 * 2 ** (int(theirs) - 1)}px) and this one has "
                f"{self.schedule.levels} levels (to {self.info.image_size}px): use a checkpoint of the same image size"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- the schedule, as the trainer sees it ----------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self.schedule.at(on_host(self, "images_seen"))

    def enter(self, phase: Phase) -> None:
        set_on_host(self, "images_seen", phase.images_seen)

    # -- networks as the paper composes them -----------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        def adam(net: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(net.parameters(), lr=self.lr, betas=self.betas)

        return {name: adam(getattr(self, name)) for name in ("encoder", "discriminator", "mapping", "generator")}

    def styles(self, w: torch.Tensor, mix: bool = False) -> torch.Tensor:
        """w (B, w_dim) -> per-layer styles (B, n_styles, w_dim); with ``mix``, layers from a random
        crossover on take a second code's w (probability ``mixing_prob``)."""
        styles = w[:, None].expand(-1, self.n_styles, -1)
        active = 2 * (self.phase.level + 1)
        if mix and active > 1 and torch.rand(()) < self.mixing_prob:
            w2 = self.mapping(torch.randn(len(w), self.latent_dim, device=w.device))
            cutoff = int(torch.randint(1, active, ()))
            layer = torch.arange(self.n_styles, device=w.device)[None, :, None]
            styles = torch.where(layer < cutoff, styles, w2[:, None])
        return styles

    def generate(
        self, w: torch.Tensor, phase: Phase, mix: bool = False, generator=None, shared_noise: bool = False
    ) -> torch.Tensor:
        return self.generator(self.styles(w, mix), phase.level, phase.blend, generator, shared_noise)

    def fake_batch(self, n: int, phase: Phase, mix: bool) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.mapping(torch.randn(n, self.latent_dim, device=self.device))
        return w, self.generate(w, phase, mix)

    # -- training (Algorithm 1) --------------------------------------------------------------------
    def step_i_losses(self, real: torch.Tensor, phase: Phase, with_r1: bool) -> dict[str, torch.Tensor]:
        """Step I (E, D): E(x) is real, E(G(F(z))) fake; R1 on the real images."""
        with torch.no_grad():
            _, fake = self.fake_batch(len(real), phase, mix=True)
        real = real.detach().requires_grad_(with_r1)
        d_real = self.discriminator(self.encoder(real, phase.level, phase.blend))
        d_fake = self.discriminator(self.encoder(fake, phase.level, phase.blend))
        r1 = r1_penalty(d_real, real) if with_r1 else real.new_zeros(())
        return {"adv": discriminator_loss(d_real, d_fake), "r1": r1, "d_real": d_real, "d_fake": d_fake}

    def step_ii_loss(self, n: int, phase: Phase) -> torch.Tensor:
        """Step II (F, G): make D call E(G(F(z))) real."""
        _, fake = self.fake_batch(n, phase, mix=True)
        return nonsaturating_generator_loss(self.discriminator(self.encoder(fake, phase.level, phase.blend)))

    def step_iii_loss(self, n: int, phase: Phase) -> torch.Tensor:
        """Step III (E, G): w -> G -> E gives w back; F(z) is a fixed target (no gradient to F)."""
        with torch.no_grad():
            w = self.mapping(torch.randn(n, self.latent_dim, device=self.device))
            self.w_avg.lerp_(w.mean(0).to(self.w_avg.dtype), 1 - self.w_avg_decay)  # w is bf16 under autocast
        return latent_reconstruction_loss(w, self.encoder(self.generate(w, phase), phase.level, phase.blend))

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        phase = self.phase
        real = blend_real(to_signed(x), phase)  # (B, C, r, r) at the level's resolution
        n = len(real)
        if not on_host(self.generator, "bias_initialised"):
            self.generator.init_output_bias(real)

        d_steps = on_host(self, "d_steps")
        with_r1 = self.r1_gamma > 0 and d_steps % self.r1_every == 0  # lazy R1
        i = self.step_i_losses(real, phase, with_r1)
        self.optimize(i["adv"] + 0.5 * self.r1_gamma * self.r1_every * i["r1"], "encoder", "discriminator")
        set_on_host(self, "d_steps", d_steps + 1)

        with frozen(self.encoder, self.discriminator):  # on step II's path but not its to update
            loss_adv_g = self.step_ii_loss(n, phase)
            self.optimize(loss_adv_g, "mapping", "generator")

        loss_ae = self.step_iii_loss(n, phase)
        self.optimize(loss_ae, "encoder", "generator")

        return {
            "loss_adv_d": i["adv"].detach(),
            "r1": i["r1"].detach(),
            "loss_adv_g": loss_adv_g.detach(),
            "loss_latent_ae": loss_ae.detach(),
            "d_real": torch.sigmoid(i["d_real"]).mean().detach(),
            "d_fake": torch.sigmoid(i["d_fake"]).mean().detach(),
            "level": float(phase.level),
            "blend": phase.blend,
        }

    # -- encoding, decoding, sampling ------------------------------------------------------------
    def _full_size(self, image: torch.Tensor) -> torch.Tensor:
        """[-1, 1] image at the current level -> [0, 1] at the data's size (nearest upsampling)."""
        return to_unit(upsample_to(image, self.info.image_size))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        phase = self.phase
        return self.encoder(downsample(to_signed(x), phase.resolution), phase.level, phase.blend)

    @torch.no_grad()
    def decode(
        self, w: torch.Tensor, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """w -> image; one noise map shared by the batch, from ``generator`` (by default a fixed
        seed), so that a reconstruction or morph frame is the same whatever else is in its batch."""
        generator = generator or torch.Generator(device=w.device).manual_seed(0)
        return self._full_size(self.generate(w, self.phase, generator=generator, shared_noise=True))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, truncation: float = 1.0) -> torch.Tensor:
        """``n`` independent images, each with its own noise maps (from ``generator``, so that a seed
        gives the same samples); ``truncation`` < 1 pulls w towards its running mean (the truncation trick)."""
        w = self.mapping(torch.randn(n, self.latent_dim, device=self.device, generator=generator))
        w = torch.lerp(self.w_avg.expand_as(w).to(w.dtype), w, truncation)
        return self._full_size(self.generate(w, self.phase, generator=generator))

    @property
    def style_layers(self) -> int:
        """Two per level reached so far: a run stopped at 16x16 has no 32x32 styles to mix."""
        return 2 * (self.phase.level + 1)

    def style_preset(self, name: str) -> list[int]:
        return named_layers(name, self.phase.level + 1)

    @torch.no_grad()
    def style_mix(
        self, w_src: torch.Tensor, w_dst: torch.Tensor, layers: Sequence[int], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Every destination with the source's style in ``layers`` (B_dst, B_src images, row-major)."""
        s, d = len(w_src), len(w_dst)
        styles = w_dst[:, None, None].expand(d, s, self.n_styles, -1).clone()  # (D, S, layers, w)
        for layer in layers:
            styles[:, :, layer] = w_src[None, :]
        styles = styles.flatten(0, 1)  # (D * S, layers, w)
        generator = generator or torch.Generator(device=w_dst.device).manual_seed(0)
        return self._full_size(self.generator(styles, self.phase.level, self.phase.blend, generator, shared_noise=True))

    @torch.no_grad()
    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Truncated samples, and the style-mixing grid: the top row shows 7 sources (encoded test
        images), each later row a destination followed by the destination with the sources'
        styles in one range of ``mixing_schedule`` (one row per destination and range)."""
        grids = {f"samples_psi{self.truncation_psi:g}": self.sample(32, generator, self.truncation_psi)}
        src, dst = x[:7], x[7:9] if len(x) >= 9 else x[:2]
        w_src, w_dst = self.encode(src), self.encode(dst)
        blank = torch.zeros_like(x[:1])
        rows = [torch.cat([blank, self.decode(w_src)])]
        for layers in self.mixing_layers:
            mixed = self.style_mix(w_src, w_dst, layers).unflatten(0, (len(w_dst), len(w_src)))
            for i in range(len(w_dst)):
                rows.append(torch.cat([self.decode(w_dst[i : i + 1]), mixed[i]]))
        grids["style_mixing"] = torch.cat(rows)  # saved 8 per row
        return grids
