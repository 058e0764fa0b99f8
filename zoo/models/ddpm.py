"""Denoising diffusion — Ho, Jain & Abbeel (2020), "Denoising Diffusion Probabilistic Models";
sampling and inversion by DDIM (Song, Meng & Ermon 2021); the cosine schedule of Nichol & Dhariwal
(2021). The U-Net and the schedulers are diffusers' (``zoo/nn/unet.py``).

Forward process, with alpha_t = 1 - beta_t and abar_t = prod_{s<=t} alpha_s (t = 1..T, T = 1000):

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),  so  x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps

The network predicts the noise, and training minimises the paper's simple objective (eq. 14):

    L_simple = E_{t, x_0, eps} || eps - eps_theta(x_t, t) ||^2

Likelihood: the variational bound (eq. 5), in nats, on 8-bit pixels scaled to [-1, 1]:

    L = KL(q(x_T|x_0) || N(0, I)) + sum_{t=2}^T KL(q(x_{t-1}|x_t, x_0) || p(x_{t-1}|x_t)) - log p(x_0|x_1)

with the posterior q(x_{t-1}|x_t, x_0) = N(mu~_t, beta~_t I) (eq. 6-7), the reverse step
p(x_{t-1}|x_t) = N(mu_theta, sigma_t^2 I), mu_theta = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t)
(eq. 11) and sigma_t^2 = beta~_t, and the discretised Gaussian decoder p(x_0|x_1) (eq. 13) with
sigma_1^2 = beta_1. The T - 1 middle terms cost a network evaluation each, and their sizes span four
orders of magnitude: the last one (t = T, where abar_T is nearly 0) alone holds about 40% of a
trained network's bound, the first few most of the rest, the middle hundreds almost nothing. So
``nll`` evaluates the last term exactly and estimates the sum of the others by stratified sampling:
``nll_timesteps`` strata of t = 2..T-1 with geometrically growing widths, one uniformly drawn
timestep in each, weighted by its stratum's width (unbiased). The figure is a Monte-Carlo estimate of
an upper bound, with a spread about 60 times smaller than that of uniformly drawn timesteps at the same cost
(MNIST model, README "DDPM"); with ``nll_timesteps >= T - 1`` every term is evaluated once.

Sampling uses DDIM's subsequence of ``sample_steps`` timesteps with ``eta`` = 1 by default: each
step draws x_{t'} from the DDPM posterior q(x_{t'} | x_t, x_0 = x_0-estimate), the paper's ancestral
sampler (Algorithm 2) over skipped steps. With a small, briefly trained network it draws far
cleaner pictures than eta = 0, whose errors are never washed out by fresh noise (measured on
Quick, Draw!: README, "DDPM").

Encoding is DDIM's deterministic map (eta = 0) run forwards, image -> x_t near T, and decoding
runs it back: reconstructions are not exact. With an exact denoiser they get closer as
``sample_steps`` grows; with a trained one they need not (the network's error accumulates over the
steps), and the round trip stops short of t = T, whose step (abar_T nearly 0 in the cosine
schedule) amplified that error (README, "Measured results").
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field

from zoo.data.base import DataInfo
from zoo.models.base import GenerativeModel
from zoo.nn.pixels import to_signed, to_unit
from zoo.nn.unet import TINY as TINY_UNET
from zoo.nn.unet import SamplerSteps, TimeUNet, Widths
from zoo.options import Layers, LearningRate, Probability, Size
from zoo.registry import MODELS

SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}  # our names -> diffusers' beta_schedule


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def discretised_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) per element for 8-bit values x in [-1, 1] (bins 2/255 wide, the end bins reaching to
    -inf and +inf) under N(mean, exp(log_scale)^2): the paper's decoder, eq. 13."""
    half_bin = 1.0 / 255.0
    inv_scale = torch.exp(-log_scale)
    cdf_upper = normal_cdf(inv_scale * (x - mean + half_bin))
    cdf_lower = normal_cdf(inv_scale * (x - mean - half_bin))
    mass = torch.where(x < -0.999, cdf_upper, torch.where(x > 0.999, 1.0 - cdf_lower, cdf_upper - cdf_lower))
    return torch.log(mass.clamp(min=1e-12))


@MODELS.register("ddpm")
class DDPM(GenerativeModel):
    can_encode = True
    can_decode = True
    has_likelihood = True
    likelihood_is_bound = True
    ema_modules = ("unet",)
    sample_controls = ("steps",)

    tiny: ClassVar[dict[str, Any]] = {
        **TINY_UNET,
        "sample_steps": 2,
        "grid_steps": 1,
        "nll_timesteps": 2,
    }

    def __init__(
        self,
        info: DataInfo,
        widths: Widths = (16, 32, 64),
        attention_resolutions: tuple[Size, ...] | None = None,
        layers_per_block: Layers = 1,
        timesteps: Annotated[int, Field(ge=2, le=100_000)] = 1000,
        schedule: Literal["linear", "cosine"] = "cosine",
        sample_steps: SamplerSteps = 25,
        grid_steps: SamplerSteps = 10,
        eta: Probability = 1.0,
        nll_timesteps: SamplerSteps = 8,
        lr: LearningRate = 1e-3,
        warmup_steps: Annotated[int, Field(ge=0, le=1_000_000)] = 200,
    ):
        super().__init__(info)
        from diffusers import DDIMInverseScheduler, DDIMScheduler, DDPMScheduler

        self.T, self.sample_steps, self.grid_steps, self.eta = timesteps, sample_steps, grid_steps, eta
        self.nll_timesteps, self.lr, self.warmup_steps = nll_timesteps, lr, warmup_steps
        self.unet = TimeUNet(info.channels, info.image_size, list(widths), attention_resolutions, layers_per_block)
        # the forward process: beta_t from diffusers' training scheduler (index t - 1 holds the paper's t)
        self.noising = DDPMScheduler(num_train_timesteps=timesteps, beta_schedule=SCHEDULES[schedule])
        # sampling: DDIM with the last step landing on abar = 1 and "trailing" timesteps (the first
        # step starts at t = T from pure noise), x_0 estimates clipped to the pixel range: both
        # matter when there are few steps
        sampling = dict(timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=True)
        self.ddim = DDIMScheduler.from_config(self.noising.config, **sampling)
        # encoding and decoding (eta = 0): a round trip that inverts itself as closely as it can.
        # "Leading" timesteps stop short of t = T (at T - T/steps), where the cosine schedule's
        # abar is nearly 0 and inverting the last step would amplify the network's error; and no
        # clipping, which the inverse run cannot undo. On a 30-minute quickdraw checkpoint this took
        # the round trip's MSE from 0.0195 / 0.0781 to 0.0042 / 0.0091 (10 / 25 steps).
        round_trip = dict(timestep_spacing="leading", set_alpha_to_one=True, clip_sample=False)
        self.ddim_decode = DDIMScheduler.from_config(self.noising.config, **round_trip)
        self.ddim_inverse = DDIMInverseScheduler.from_config(self.noising.config, **round_trip)
        # float64 tables for the bound's terms (abar_T is about 4e-5: 1 - abar in float32 loses digits)
        betas = self.noising.betas.double()
        abar = torch.cumprod(1 - betas, 0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        self.beta, self.abar, self.abar_prev = betas, abar, abar_prev
        self.posterior_var = betas * (1 - abar_prev) / (1 - abar)  # beta~_t, eq. 7

    @property
    def likelihood_kind(self) -> str:
        if self.nll_timesteps >= self.T - 1:
            return "upper bound (variational bound, every timestep once)"
        return (
            "Monte-Carlo estimate of an upper bound (variational bound: its last timestep exactly, "
            f"one sampled timestep in each of {self.nll_timesteps} strata of the others)"
        )

    def sample_evaluations(self, steps: int | None = None) -> int:
        """Network evaluations per sample (NFE): diffusion's price, one per DDIM step."""
        return steps or self.sample_steps

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"unet": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def lr_warmup(self) -> dict[str, int]:
        return {"unet": self.warmup_steps} if self.warmup_steps else {}

    # -- the network and the forward process ---------------------------------------------------
    def denoise(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """eps_theta(x_t, t) for timestep indices t (B,) in 0..T-1 (the paper's t - 1)."""
        return self.unet(x_t, t)

    def diffuse(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, for timestep indices t (B,)."""
        abar = self._at(self.abar, t).to(x0.dtype)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        x0 = to_signed(x)
        t = torch.randint(0, self.T, (len(x0),), device=x0.device)
        eps = torch.randn_like(x0)
        loss = (self.denoise(self.diffuse(x0, eps, t), t) - eps).pow(2).mean()  # L_simple
        self.optimize(loss, "unet")
        return {"loss": loss.detach()}

    # -- sampling, encoding and decoding with DDIM ---------------------------------------------
    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        shape = (n, self.info.channels, self.info.image_size, self.info.image_size)
        return torch.randn(shape, device=self.device, generator=generator)

    def _run(
        self, scheduler, x: torch.Tensor, steps: int, eta: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        scheduler.set_timesteps(steps, device=x.device)
        extra = {"eta": eta, "generator": generator} if eta else {}
        for t in scheduler.timesteps:
            eps = self.denoise(x, t.expand(len(x)).to(x.device))
            x = scheduler.step(eps, t, x, **extra).prev_sample
        return x

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None, steps: int | None = None) -> torch.Tensor:
        """A code (see ``encode``) -> image in [0, 1] by DDIM with eta = 0 in ``steps`` (default ``sample_steps``) steps;
        differentiable in z (as every ``can_decode`` model's decode is) unless called under no_grad."""
        return to_unit(self._run(self.ddim_decode, z, steps or self.sample_steps))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None, steps: int | None = None) -> torch.Tensor:
        """Image in [0, 1] -> its code (x_t at the last of the "leading" timesteps, near T) by DDIM run
        forwards (eta = 0): the code that ``decode`` maps back."""
        return self._run(self.ddim_inverse, to_signed(x), steps or self.sample_steps)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int | None = None) -> torch.Tensor:
        z = self.prior(n, generator)
        return to_unit(self._run(self.ddim, z, steps or self.sample_steps, self.eta, generator))

    @torch.no_grad()
    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Samples in ``grid_steps`` steps (the main grid uses ``sample_steps``), and a denoising strip:
        per test image, a row of x_t at eight times from t = 1 to T and under it a row of the
        network's estimate of x_0 from each."""
        seed = generator.initial_seed()
        few = self.sample(64, torch.Generator(device=generator.device).manual_seed(seed), steps=self.grid_steps)
        x0 = to_signed(x[:4])
        eps = torch.randn(x0.shape, device=x.device, generator=generator)
        noisy, estimates = [], []
        for t in torch.linspace(0, self.T - 1, self.grid_columns).round().long().to(x.device):
            tt = t.expand(len(x0))
            x_t = self.diffuse(x0, eps, tt)
            abar = self.abar.to(x.device, x.dtype)[t]
            estimates.append(to_unit((x_t - (1 - abar).sqrt() * self.denoise(x_t, tt)) / abar.sqrt()))
            noisy.append(to_unit(x_t))
        rows = torch.stack([torch.stack(noisy, 1), torch.stack(estimates, 1)], 1)  # (4, 2, 8, C, H, W)
        return {f"samples_{self.grid_steps}_steps": few, "denoising": rows.flatten(0, 2)}

    # -- the variational bound ---------------------------------------------------------------
    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """KL(q(x_T|x_0) || N(0, I)) per image (B,), in closed form."""
        abar_T = self.abar[-1]
        mean_sq = abar_T * x0.double().pow(2)
        var = 1 - abar_T
        return (0.5 * (mean_sq + var - 1 - torch.log(var))).flatten(1).sum(1)

    def reverse_mean(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """mu_theta(x_t, t) from a noise estimate (eq. 11); t: timestep indices (B,)."""
        beta, abar = self._at(self.beta, t), self._at(self.abar, t)
        return (x_t - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()

    def posterior_mean(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """mu~_t(x_t, x_0) of q(x_{t-1} | x_t, x_0) (eq. 7); t: timestep indices (B,) >= 1."""
        beta, abar, abar_prev = self._at(self.beta, t), self._at(self.abar, t), self._at(self.abar_prev, t)
        return (abar_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - abar_prev) * x_t) / (1 - abar)

    def middle_term(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """KL(q(x_{t-1}|x_t, x_0) || p(x_{t-1}|x_t)) per image (B,) at timestep indices t >= 1, for
        x_t drawn with noise ``eps``: equal variances beta~_t, so it is ||mu~ - mu_theta||^2 / (2 beta~_t)."""
        x_t = self.diffuse(x0, eps, t)
        eps_hat = self.denoise(x_t.float(), t).double()
        gap = self.posterior_mean(x0, x_t, t) - self.reverse_mean(x_t, t, eps_hat)
        return (gap.pow(2) / (2 * self._at(self.posterior_var, t))).flatten(1).sum(1)

    def decoder_term(self, x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """-log p(x_0 | x_1) per image (B,): the discretised Gaussian N(mu_theta(x_1, 1), beta_1)."""
        t = torch.zeros(len(x0), dtype=torch.long, device=x0.device)
        x_1 = self.diffuse(x0, eps, t)
        mean = self.reverse_mean(x_1, t, self.denoise(x_1.float(), t).double())
        log_scale = 0.5 * torch.log(self.beta[0]).to(x0.device)
        return -discretised_gaussian_log_prob(x0, mean, log_scale).flatten(1).sum(1)

    def strata(self) -> list[tuple[int, int]]:
        """``nll_timesteps`` ranges [a, b) of the middle timestep indices 1..T-2 (the last, T-1, is
        evaluated exactly), widths growing geometrically (1, 4, 7, 19, ..., 578 for T = 1000 and 8 strata)."""
        k, top = self.nll_timesteps, self.T - 1
        edges = [1]
        for i in range(1, k + 1):
            geometric = round(top ** (i / k))
            edges.append(min(max(edges[-1] + 1, geometric), top - (k - i)))  # strictly growing, ends at top
        return list(itertools.pairwise(edges))

    @torch.no_grad()
    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The variational bound L in nats per image (B,): the prior, decoder and last middle terms
        exactly, the sum of the other T - 2 middle terms from one uniformly drawn timestep in each of
        ``strata()``, weighted by its width (every term once when ``nll_timesteps >= T - 1``)."""
        x0 = to_signed(x).double()
        self._move_tables(x0.device)
        draw = lambda: torch.randn(x0.shape, device=x0.device, generator=generator, dtype=x0.dtype)  # noqa: E731
        at = lambda t: torch.full((len(x0),), t, device=x0.device)  # noqa: E731
        bound = self.prior_term(x0) + self.decoder_term(x0, draw())
        if self.nll_timesteps >= self.T - 1:
            for t in range(1, self.T):
                bound = bound + self.middle_term(x0, at(t), draw())
            return bound.float()
        bound = bound + self.middle_term(x0, at(self.T - 1), draw())
        for a, b in self.strata():
            t = torch.randint(a, b, (len(x0),), device=x0.device, generator=generator)
            bound = bound + (b - a) * self.middle_term(x0, t, draw())
        return bound.float()

    # -- helpers -------------------------------------------------------------------------------
    def _move_tables(self, device: torch.device) -> None:
        self.beta, self.abar = self.beta.to(device), self.abar.to(device)
        self.abar_prev, self.posterior_var = self.abar_prev.to(device), self.posterior_var.to(device)

    @staticmethod
    def _at(table: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """table[t] shaped to broadcast over images (B, 1, 1, 1)."""
        return table.to(t.device)[t].view(-1, 1, 1, 1)
