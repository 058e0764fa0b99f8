"""The alpha-GAN paper's "negative Wasserstein distance" (Rosca et al. 2017, sec. 5.1): a fresh
critic, independent of every model's own discriminator, is trained with the WGAN-GP objective
(Gulrajani et al. 2017, "Improved training of Wasserstein GANs") to separate held-out real images
from a model's samples:

    max_f  E_real f(x) - E_fake f(x~)  -  lambda E_xhat (|grad f(xhat)|_2 - 1)^2,

xhat on random lines between real and fake points. By Kantorovich-Rubinstein duality the first two
terms estimate the Wasserstein-1 distance W for a 1-Lipschitz f. The critic is trained on one
split and the estimate is read on another; reported as -W (closer to 0 is better).
"""

from __future__ import annotations

import torch
from torch import nn


def image_critic(channels: int, image_size: int, width: int = 16) -> nn.Module:
    """A small DCGAN-style critic without normalisation layers (the gradient penalty is per example)."""
    layers: list[nn.Module] = []
    c, size = channels, image_size
    while size > 4:
        layers += [nn.Conv2d(c, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c, size, width = width, size // 2, min(width * 2, 256)
    layers += [nn.Flatten(), nn.Linear(c * size * size, 1)]
    return nn.Sequential(*layers)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E (|grad f(xhat)| - 1)^2 with xhat uniformly on the line between paired real and fake points."""
    t = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    xhat = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(xhat).sum(), xhat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@torch.no_grad()
def _mean_output(critic: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> float:
    return float(torch.cat([critic(x[i : i + batch_size]).flatten() for i in range(0, len(x), batch_size)]).mean())


def negative_wasserstein(
    critic: nn.Module,
    real_train: torch.Tensor,
    fake_train: torch.Tensor,
    real_eval: torch.Tensor,
    fake_eval: torch.Tensor,
    steps: int = 500,
    batch_size: int = 64,
    lr: float = 1e-4,
    gp_weight: float = 10.0,
    seed: int = 0,
) -> float:
    """Train ``critic`` for ``steps`` WGAN-GP steps on the train splits; -(E_real f - E_fake f) on the eval splits."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))  # Gulrajani et al.'s Adam
    critic.train()
    for _ in range(steps):
        real = real_train[torch.randint(len(real_train), (batch_size,), generator=generator)]
        fake = fake_train[torch.randint(len(fake_train), (batch_size,), generator=generator)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))
            penalty = gradient_penalty(critic, real, fake)
        loss = critic(fake).mean() - critic(real).mean() + gp_weight * penalty
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    critic.eval()
    return -(_mean_output(critic, real_eval) - _mean_output(critic, fake_eval))
