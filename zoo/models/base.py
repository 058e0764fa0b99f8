"""The contract between a model and the shared trainer.

A model owns its networks, says which optimizers train them (``configure_optimizers``, with an
optional ``lr_warmup``) and knows how to take one training step; the trainer owns everything
around it (device, precision, the batch stream and the count of images seen, clipping through
``zoo.optim.Stepper``, checkpoints, logging, EMA, budgets) and never asks which model it is
training. A model with a progressive schedule declares it as data (``schedule``) and is told the
phase before each step (``enter``). What a model can do beyond sampling is declared as class
attributes, so the trainer and ``compare.py`` ask rather than guess:

- ``can_encode``: ``encode``/``decode``/``reconstruct`` are implemented;
- ``has_likelihood``: ``nll`` returns per-image negative log-likelihoods in nats;
  ``likelihood_is_bound`` says it is an upper bound (a VAE's IWAE bound, a dequantised flow's
  figure), and ``likelihood_kind`` says in words what kind of figure it is;
- ``colourises``: the model colours grey images (``Colouriser`` below): ``colourise`` is
  implemented, the data must be RGB, and ``compare.py task=colourise`` scores it (the unconditional
  table leaves it out: its samples are colourings of given grey images, not images from nothing);
  ``can_transfer``: it also puts one image's colours on another's lightness (``transfer``);
- ``sample_controls``: the keyword arguments ``sample`` takes besides ``n`` and ``generator``
  (``temperature``, ``truncation``, ``labels``, ``steps``), so a caller (the studio's sliders,
  ``compare.py``'s sampling budget) passes each one only to the models that have it;
- ``can_style_mix``: ``style_layers``, ``style_preset`` and ``style_mix`` are implemented (a
  style-based generator: each layer's style can come from another image's code).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.nn.colour import grey_rgb, lightness
from zoo.nn.progressive import Phase, ProgressiveSchedule
from zoo.optim import Stepper


class GenerativeModel(nn.Module):
    """Base class of every genzoo model. Subclasses register with ``@MODELS.register(name)``."""

    can_encode: ClassVar[bool] = False
    has_likelihood: ClassVar[bool] = False
    likelihood_is_bound: ClassVar[bool] = False
    # how the figure relates to -log p(x), for reports: "exact", "upper bound", "... estimate of ..."
    likelihood_kind: ClassVar[str] = "exact"
    # decode(z) and prior(n) exist even without an encoder (a GAN's generator): compare.py can then
    # invert the model by optimising z per image (``invert_gan=true``)
    can_decode: ClassVar[bool] = False
    ema_modules: ClassVar[tuple[str, ...]] = ()  # sub-networks the trainer may average (generators)
    # class-conditional: encode/decode/sample take the label y, and callers must pass one
    conditional: bool = False
    # the smallest options that still build every network and take every code path: the contract
    # tests (tests/models/test_contract.py) and the command-line tests train the model with them
    tiny: ClassVar[dict[str, Any]] = {}
    colourises: ClassVar[bool] = False
    # a colouriser that encodes an image's colour: ``transfer(source, target)`` (guided colourisation)
    can_transfer: ClassVar[bool] = False
    # images per row in the grids of ``extra_grids`` (a colouriser's: grey | 8 colourings | truth)
    grid_columns: ClassVar[int] = 8
    # the name of the bits figure in logs and reports: a conditional density is never called bits/dim
    bits_label: ClassVar[str] = "bits_per_dim"
    # keyword arguments of sample() beyond n and generator: "temperature", "truncation", "labels",
    # "steps" (an iterative sampler's step count; ``sample_evaluations(steps)`` says what it costs)
    sample_controls: ClassVar[tuple[str, ...]] = ()
    can_style_mix: ClassVar[bool] = False
    # state_dict keys of older checkpoints that loading ignores (e.g. a warm-up counter that
    # the Stepper now owns)
    retired_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, info: DataInfo):
        super().__init__()
        self.info = info
        self.stepper: Stepper | None = None  # attached by zoo.optim.Stepper(model, ...)
        # a progressive model's schedule (batch size and phase as a function of images seen)
        self.schedule: ProgressiveSchedule | None = None

    @property
    def sample_temperature(self) -> float:
        """The temperature ``sample()`` draws at by default (a flow's < 1 changes every sample metric)."""
        return 1.0

    def sample_evaluations(self, steps: int | None = None) -> int:
        """Network evaluations per sample (NFE): 1 for a one-pass generator; an iterative sampler's
        steps (``steps``, or its own default when None) times its evaluations per step (diffusion's
        price, in compare's cost columns)."""
        return 1

    @property
    def likelihood_data(self) -> str:
        """What the likelihood is a density of; bits/dim compare only between models that agree here."""
        return "8-bit pixels"

    # -- what each model implements ------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers (e.g. {"generator": ..., "discriminator": ...})."""
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        """One update on a batch of images ``x`` (B, C, H, W) in [0, 1] with labels ``y``; returns
        what to log, as detached 0-d tensors (the trainer reads them once per log window, so a step
        never waits for the device to report a number) or plain floats."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes from the prior, for ``decode`` (declared by ``can_decode``)."""
        raise NotImplementedError(f"{type(self).__name__} has no prior to decode from")

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot encode")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot decode")

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)); ``y``: labels, for class-conditional models."""
        return self.decode(self.encode(x, y), y)

    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-image negative log-likelihood in nats (B,); ``y``: labels, for class-conditional
        models. A model's own estimator settings (the VAE's importance samples) are its options."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    # -- style mixing (declared by ``can_style_mix``) ---------------------------------------------
    @property
    def style_layers(self) -> int:
        """How many layers take a style (for a StyleGAN generator, two per resolution; a progressive
        model counts the resolutions it has reached, not those it was configured to reach)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-layer styles")

    def style_preset(self, name: str) -> list[int]:
        """The layers of a named range: ``coarse``, ``middle`` or ``fine``."""
        raise NotImplementedError(f"{type(self).__name__} has no per-layer styles")

    def style_mix(self, w_src: torch.Tensor, w_dst: torch.Tensor, layers: list[int]) -> torch.Tensor:
        """Every destination code with the source's style in ``layers`` (B_dst * B_src images, row-major);
        with no layers, exactly ``decode(w_dst)``."""
        raise NotImplementedError(f"{type(self).__name__} has no per-layer styles")

    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Further image grids the family is known for (e.g. several temperatures), by name; the
        trainer saves them as ``<name>/step_<N>.png`` and logs them. ``x``, ``y``: a fixed test batch."""
        return {}

    def lr_warmup(self) -> dict[str, int]:
        """Optimizers (by name) whose learning rate warms up linearly, and over how many updates;
        the ``Stepper`` applies it and checkpoints carry it."""
        return {}

    # -- a training schedule (progressive growing): ``schedule`` is None for a fixed batch size --
    def enter(self, phase: Phase) -> None:
        """The trainer, before each step of a model with a ``schedule``: the phase its images seen
        are in (the level, blend and batch size of this step)."""
        raise NotImplementedError(f"{type(self).__name__} has no training schedule")

    # -- helpers -------------------------------------------------------------------------------
    def attach(self, stepper: Stepper) -> None:
        """Called by ``Stepper(model)``: the model's updates go through it from now on."""
        self.stepper = stepper

    def _stepper(self) -> Stepper:
        if self.stepper is None:
            raise RuntimeError(
                f"{type(self).__name__} has no optimizers yet: attach them with zoo.optim.Stepper(model) "
                "(the trainer does) before calling train_step"
            )
        return self.stepper

    def optimize(self, loss: torch.Tensor, *optimizers: str) -> None:
        """Backpropagate ``loss`` once and step the optimizer(s) of those names (through the
        attached ``Stepper``)."""
        self._stepper().step(loss, optimizers, term=f"{'+'.join(optimizers)} loss")

    def optimize_jointly(self, losses: dict[str, torch.Tensor]) -> None:
        """Step several optimizers (by name) on their own losses from one forward pass."""
        self._stepper().step_jointly(losses)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in self.retired_state:  # buffers of older checkpoints, now kept elsewhere
            state_dict.pop(prefix + key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def bits_per_dim(self, nll_nats: torch.Tensor) -> torch.Tensor:
        return nll_nats / (self.info.dims * math.log(2.0))


class Colouriser(GenerativeModel):
    """A model of an image's colour given its grey image (CIELAB: ab given L, ``zoo/nn/colour.py``).

    The grey input is derived from RGB training images on the fly. ``colourise(grey, n)`` is the
    task; ``sample(n)`` colours the first 64 grey training images the model saw (kept in the
    checkpoint), so the trainer's sample grid and any caller of the zoo interface get colourings
    of fixed grey images rather than an error. ``compare.py task=colourise`` uses held-out images."""

    colourises = True
    stochastic: ClassVar[bool] = True  # draws its colourings (a temperature applies); False: one answer
    grid_columns = 10
    bits_label = "bits_per_colour_dim"
    BANK = 64  # grey images kept for sample()

    def __init__(self, info: DataInfo):
        if info.channels != 3:
            raise ZooError(
                f"{type(self).__name__} colourises colour images, but {info.name} has {info.channels} channel; "
                "train it on an RGB data set: data=flowers64, catfaces64, cifar10, flowers102, "
                "or data=folder data.path=<your photos>"
            )
        super().__init__(info)
        self.register_buffer("grey_bank", torch.zeros(self.BANK, 1, info.image_size, info.image_size))
        self.register_buffer("bank_size", torch.tensor(0))
        self.bank_full = False  # a cache of bank_size == BANK, so that a full bank costs nothing

    # -- what each colouriser implements -------------------------------------------------------
    def colourise(
        self, grey: torch.Tensor, n: int, temperature: float | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` colourings (B, n, 3, H, W) in [0, 1] of grey images (B, 1, H, W) in [0, 1] (L / 100)."""
        raise NotImplementedError

    def transfer(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The colours of each ``source`` image put on the lightness of the ``target`` image of the
        same index (both (B, 3, H, W) in [0, 1]); declared by ``can_transfer``."""
        raise NotImplementedError(f"{type(self).__name__} has one answer per grey image: no colour to transfer")

    @property
    def grid_temperatures(self) -> tuple[float, ...]:
        """Temperatures of the colourisation grids (one grid each)."""
        return (1.0,)

    # -- the zoo interface, through colourise --------------------------------------------------
    @torch.no_grad()
    def remember_greys(self, x: torch.Tensor) -> None:
        """Keep the grey images of the first training batches until the bank is full (reading its
        size from the device only until then, so later steps never wait for it)."""
        if self.bank_full:
            return
        have = int(self.bank_size)
        take = lightness(x[: self.BANK - have])
        self.grey_bank[have : have + len(take)] = take
        self.bank_size += len(take)
        self.bank_full = have + len(take) >= self.BANK

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        grey = self.grey_bank[torch.arange(n, device=self.grey_bank.device) % max(1, int(self.bank_size))]
        return self.colourise(grey, 1, self.sample_temperature, generator)[:, 0]

    @property
    def colour_dims(self) -> int:
        """How many values of ab a density is of: 2 H W (fewer where chroma is subsampled)."""
        return 2 * self.info.image_size**2

    def bits_per_dim(self, nll_nats: torch.Tensor) -> torch.Tensor:
        """Bits per colour dimension: the density is of the ``colour_dims`` values of ab, given L."""
        return nll_nats / (self.colour_dims * math.log(2.0))

    @torch.no_grad()
    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One grid per temperature: a row per test image, grey input | 8 colourings | ground truth."""
        truth = x[:8]
        grey = lightness(truth)
        grids = {}
        for t in self.grid_temperatures:
            g = torch.Generator(device=generator.device).manual_seed(generator.initial_seed())
            colourings = self.colourise(grey, 8, t, g)  # (B, 8, 3, H, W)
            rows = torch.cat([grey_rgb(grey)[:, None], colourings, truth[:, None]], dim=1)  # (B, 10, 3, H, W)
            name = "colourise" if len(self.grid_temperatures) == 1 else f"colourise_t{t:g}"
            grids[name] = rows.flatten(0, 1)
        return grids


@contextlib.contextmanager
def frozen(*networks: nn.Module) -> Iterator[None]:
    """The networks' parameters take no gradient inside the block (e.g. the discriminator during
    the generator's update: it is on the loss's path but not its to update), and do again after."""
    params = [p for net in networks for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
