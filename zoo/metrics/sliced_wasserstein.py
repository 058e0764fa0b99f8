"""Sliced Wasserstein distance between image sets, as in progressive GAN (Karras, Aila, Laine &
Lehtinen 2018, "Progressive growing of GANs for improved quality, stability, and variation", sec. 5):

1. a Laplacian pyramid of every image, from full resolution down to 16x16 (the coarsest level is
   the Gaussian image itself);
2. random 7x7 neighbourhoods ("descriptors") from every level of every image;
3. each set's descriptors normalised per channel (zero mean, unit standard deviation);
4. the sliced Wasserstein distance: project both sets on random unit directions, sort each
   projection, and average |sorted_a - sorted_b| (the 1-D Wasserstein-1 distance per direction).

Reported per level and averaged, multiplied by 1e3 as in the paper. Fine levels measure
stroke-level detail, the coarse level the overall layout.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from zoo.nn.pixels import to_signed

_KERNEL_1D = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    """5x5 binomial blur per channel, reflect-padded (B, C, H, W) -> (B, C, H, W)."""
    c = x.shape[1]
    kernel = torch.outer(_KERNEL_1D, _KERNEL_1D).to(x).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=c)


def pyramid_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]  # (B, C, H/2, W/2)


def pyramid_up(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    up = torch.zeros(b, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    up[:, :, ::2, ::2] = x  # zero-stuffed (B, C, 2H, 2W); the blur times 4 interpolates
    return _blur(up) * 4


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from full resolution down to ``min_size``; the last level is low-pass."""
    levels = []
    while x.shape[-1] > min_size:
        down = pyramid_down(x)
        levels.append(x - pyramid_up(down))
        x = down
    levels.append(x)
    return levels


def random_patches(x: torch.Tensor, per_image: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``per_image`` random (size x size) neighbourhoods of each image: (B * per_image, C, size, size)."""
    b, c, h, w = x.shape
    ys = torch.randint(0, h - size + 1, (b, per_image), generator=generator)
    xs = torch.randint(0, w - size + 1, (b, per_image), generator=generator)
    offsets = torch.arange(size)
    rows = (ys[..., None] + offsets)[..., :, None]  # (B, P, size, 1)
    cols = (xs[..., None] + offsets)[..., None, :]  # (B, P, 1, size)
    batch = torch.arange(b)[:, None, None, None]
    patches = x.permute(0, 2, 3, 1)[batch, rows, cols]  # (B, P, size, size, C)
    return patches.reshape(b * per_image, size, size, c).permute(0, 3, 1, 2)


def normalise(descriptors: torch.Tensor) -> torch.Tensor:
    """Per-channel zero mean and unit standard deviation over the whole set, flattened (N, C*7*7)."""
    mean = descriptors.mean(dim=(0, 2, 3), keepdim=True)
    std = descriptors.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return ((descriptors - mean) / std).flatten(1)


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, directions: int = 128, repeats: int = 4, generator: torch.Generator | None = None
) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the projections
    of point sets ``a`` and ``b`` (N, D) (equal N: sorted projections are matched one to one)."""
    if len(a) != len(b):
        raise ValueError(f"sliced_wasserstein needs sets of equal size, got {len(a)} and {len(b)}")
    results = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=generator, dtype=a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # (directions, N), sorted by numpy: several times faster than torch.sort on the CPU
        pa, pb = (np.sort((dirs.T @ p.T).numpy(), axis=1) for p in (a, b))
        results.append(np.abs(pa - pb).mean(dtype=np.float64))
    return float(np.mean(results))


def pyramid_descriptors(
    images: torch.Tensor, per_image: int, generator: torch.Generator, batch_size: int = 500
) -> list[torch.Tensor]:
    """Normalised 7x7 descriptors per pyramid level for images (N, C, H, W) in [0, 1]."""
    per_level: list[list[torch.Tensor]] = []
    for start in range(0, len(images), batch_size):
        x = to_signed(images[start : start + batch_size].float())
        for i, level in enumerate(laplacian_pyramid(x)):
            if i == len(per_level):
                per_level.append([])
            per_level[i].append(random_patches(level, per_image, 7, generator))
    return [normalise(torch.cat(chunks)) for chunks in per_level]


def swd(
    reference: torch.Tensor,
    candidate: torch.Tensor,
    per_image: int = 32,
    directions: int = 128,
    repeats: int = 4,
    seed: int = 0,
) -> dict[str, float]:
    """SWD x 1e3 per pyramid level (keys ``swd_<size>``) and their mean (``swd``).

    Both sets must hold the same number of images (N, C, H, W) in [0, 1]."""
    if len(reference) != len(candidate):
        raise ValueError(f"swd needs image sets of equal size, got {len(reference)} and {len(candidate)}")
    # The same seed for both sets: image i of each set gives its patches at the same places, so
    # identical sets are at distance exactly 0 and the sampling noise of the positions cancels.
    ref = pyramid_descriptors(reference, per_image, torch.Generator().manual_seed(seed))
    cand = pyramid_descriptors(candidate, per_image, torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed(seed + 1)
    sizes = [reference.shape[-1] >> i for i in range(len(ref))]
    results = {
        f"swd_{size}": 1e3 * sliced_wasserstein(r, c, directions, repeats, generator)
        for size, r, c in zip(sizes, ref, cand, strict=True)
    }
    results["swd"] = sum(results.values()) / len(results)
    return results
