"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs"), as a schedule a model owns.

Training starts at 4x4 and doubles the resolution level by level up to the image size. A new
level first fades in: its output is blended with the upsampled output of the level below, the
blend going linearly from 0 to 1 over ``fade_images`` images, then the level trains on its own.
The schedule is a pure function of the number of images seen, so a resumed run picks up the same
level and blend; the last level trains until the run's budget ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zoo.errors import ZooError
from zoo.nn.pixels import halvings


@dataclass(frozen=True)
class Phase:
    level: int  # 0: 4x4
    resolution: int
    blend: float  # weight of the new level (1: faded in)
    batch_size: int
    images_in_level: int
    images_seen: int  # the schedule's input: training images before this step, over all processes

    @property
    def name(self) -> str:
        return f"res{self.resolution}"

    def progress(self) -> dict[str, float]:
        """Where the schedule stands, as recorded in checkpoints and the run's status."""
        return {
            "level": self.level,
            "resolution": self.resolution,
            "blend": self.blend,
            "images_in_level": self.images_in_level,
        }


def level_count(image_size: int) -> int:
    """Levels from 4x4 up to ``image_size``, which must be a power of two >= 4."""
    levels = halvings(image_size, 4) + 1
    if image_size != 4 * 2 ** (levels - 1):
        choices = ", ".join(str(4 * 2**i) for i in range(6))
        raise ZooError(
            f"progressive growing doubles from 4x4, so image_size must be a power of two; got {image_size}. "
            f"Valid choices: {choices}, ... (set data.image_size)"
        )
    return levels


def _per_level(name: str, values: int | Sequence[int], count: int, pad: bool = False) -> tuple[int, ...]:
    """One value per level; with ``pad``, a shorter list's last entry also applies to the levels
    beyond it (batch sizes [64, 64, 32] serve 32x32 and 64x64 models alike)."""
    values = (values,) * count if isinstance(values, int) else tuple(int(v) for v in values)
    if pad and 0 < len(values) < count:
        values += (values[-1],) * (count - len(values))
    if len(values) != count:
        raise ZooError(
            f"model.{name} has {len(values)} entries but the schedule has {count}; give {count} (or one number)"
        )
    if any(v < 1 for v in values):
        raise ZooError(f"model.{name} entries must be positive, got {list(values)}")
    return values


class ProgressiveSchedule:
    """Which level, blend and batch size apply after ``images_seen`` training images.

    ``images_per_level``: images shown at each level before the next begins (one entry per level
    but the last, which runs until training stops); ``fade_images``: the first images of every
    level above 4x4 spent fading it in; ``batch_sizes``: one per level (the last entry of a shorter
    list repeats)."""

    def __init__(
        self,
        image_size: int,
        images_per_level: int | Sequence[int],
        fade_images: int,
        batch_sizes: int | Sequence[int],
        levels: int | None = None,
    ):
        fitting = level_count(image_size)
        self.levels = fitting if levels is None else levels
        if self.levels != fitting:
            raise ZooError(
                f"model.levels={levels} does not fit image_size {image_size}: 4x4 to {image_size}x{image_size} is "
                f"{fitting} levels. Set model.levels={fitting} (or null), or change data.image_size."
            )
        self.images_per_level = _per_level("images_per_level", images_per_level, self.levels - 1)
        self.batch_sizes = _per_level("batch_sizes", batch_sizes, self.levels, pad=True)
        if fade_images < 0:
            raise ZooError(f"model.fade_images must be >= 0, got {fade_images}")
        if any(fade_images > n for n in self.images_per_level[1:]):
            raise ZooError(f"model.fade_images={fade_images} is longer than a level (images_per_level)")
        self.fade_images = fade_images

    def at(self, images_seen: int) -> Phase:
        level, start = 0, 0
        while level < self.levels - 1 and images_seen >= start + self.images_per_level[level]:
            start += self.images_per_level[level]
            level += 1
        inside = images_seen - start
        blend = 1.0 if level == 0 or self.fade_images == 0 else min(1.0, inside / self.fade_images)
        return Phase(level, 4 * 2**level, blend, self.batch_sizes[level], inside, images_seen)


def downsample(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Average-pool a (B, C, S, S) batch down to ``resolution`` (S a power-of-two multiple of it)."""
    factor = x.shape[-1] // resolution
    return F.avg_pool2d(x, factor) if factor > 1 else x


def upsample_to(x: torch.Tensor, size: int) -> torch.Tensor:
    factor = size // x.shape[-1]
    return F.interpolate(x, scale_factor=factor, mode="nearest") if factor > 1 else x


def blend_real(x: torch.Tensor, phase: Phase) -> torch.Tensor:
    """Real images at the phase's resolution; while a level fades in they are blended with their
    upsampled half-resolution version by the same factor as the generator's output."""
    x = downsample(x, phase.resolution)
    if phase.blend < 1.0:
        x = torch.lerp(upsample_to(F.avg_pool2d(x, 2), phase.resolution), x, phase.blend)
    return x
