"""Latent morphing: one image turning into another through a model's latent space.

    python -m zoo.morph run=runs/alpha_gan-quickdraw/<time> a=12 b=345 frames=32
    python -m zoo.morph run=<run dir> a=my_cat.png b=7 mode=linear fps=16 scale=4

``a`` and ``b`` are indices into the run's held-out test split or paths to image files. Both are
encoded, their codes interpolated (``slerp``: along the great circle, which keeps an interpolated
Gaussian code at a typical norm; ``linear``: the straight line) and every frame decoded. The first
and last frames are exactly the reconstructions of ``a`` and ``b``. Writes an animated GIF and a
PNG strip into ``<run>/morphs/`` (or ``out=``). Works for every model that can encode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import torch
from PIL import Image
from pydantic import Field

from zoo.commands import parse_config, run_command
from zoo.data.folder import load_image
from zoo.errors import ZooError
from zoo.files import atomic_write
from zoo.images import save_grid
from zoo.models.base import GenerativeModel
from zoo.options import Options
from zoo.trained import TrainedRun, load_trained

Latent = torch.Tensor | list[torch.Tensor]


class MorphOptions(Options):
    """``conf/morph.yaml``: the same Hydra configuration and override syntax as train.py and compare.py."""

    run: str
    a: int | str = 0  # a test index, or the path of an image file
    b: int | str = 1
    frames: Annotated[int, Field(ge=2, le=1000)] = 32
    mode: Literal["slerp", "linear"] = "slerp"
    fps: Annotated[int, Field(ge=1, le=100)] = 12
    scale: Annotated[int, Field(ge=1, le=64)] = 4  # nearest-neighbour enlargement of the GIF frames
    out: str | None = None  # default: <run>/morphs
    checkpoint: str | None = None  # default: <run>/checkpoints/last.pt
    data_root: str | None = None  # where the run's data lives now, if it moved


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation per example (White 2016, "Sampling Generative Networks").
    ``a``, ``b``: (1, ...); ``t``: (T,) -> (T, ...). Falls back to lerp for (anti)parallel codes."""
    fa, fb = a.flatten(), b.flatten()
    cos = torch.dot(fa, fb) / (fa.norm() * fb.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    t = t.view(-1, *([1] * (a.dim() - 1)))
    if torch.sin(omega).abs() < 1e-6:
        return a + t * (b - a)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(za: Latent, zb: Latent, frames: int, mode: str) -> Latent:
    """``frames`` codes from ``za`` to ``zb`` (endpoints exact); latents may be one tensor or one per level."""
    if mode not in ("slerp", "linear"):
        raise ZooError(f"mode must be slerp or linear, got '{mode}'")
    if frames < 2:
        raise ZooError(f"frames must be at least 2, got {frames}")
    if isinstance(za, list):
        return [interpolate(a, b, frames, mode) for a, b in zip(za, zb, strict=True)]  # type: ignore[misc]
    t = torch.linspace(0, 1, frames, device=za.device)
    out = slerp(za, zb, t) if mode == "slerp" else za + t.view(-1, *([1] * (za.dim() - 1))) * (zb - za)
    out[0], out[-1] = za[0], zb[0]
    return out


@torch.no_grad()
def morph_frames(
    model: GenerativeModel, xa: torch.Tensor, xb: torch.Tensor, frames: int, mode: str, ya=None, yb=None
) -> torch.Tensor:
    """Decoded frames (frames, C, H, W) in [0, 1] between images ``xa`` and ``xb`` (1, C, H, W)."""
    if not model.can_encode:
        raise ZooError(
            f"{type(model).__name__} has no encoder, so it cannot morph real images. "
            "Morphing works for models that encode (Glow, VAE, alpha-GAN, ALAE)."
        )
    codes = interpolate(model.encode(xa, ya), model.encode(xb, yb), frames, mode)
    labels = ya.expand(frames) if ya is not None else None  # a conditional model keeps a's class
    return model.decode(codes, labels)


def frame_durations(n: int, fps: float) -> list[int]:
    """Milliseconds per frame so that ``n`` frames play in n / fps seconds: a GIF counts time in
    hundredths of a second, so 30 fps cannot be 33.3 ms a frame; frames take 30 or 40 ms in turn, each
    ending at the hundredth nearest its true end (64 frames at 30 fps: 2.13 s, where 33 ms rounded
    down to 30 would play them in 1.92 s)."""
    ends = [round((i + 1) * 100 / fps) for i in range(n)]  # in hundredths
    return [10 * (end - start) for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def write_gif(frames: torch.Tensor, path: Path, fps: int, scale: int) -> Path:
    """An endlessly looping GIF of (T, C, H, W) frames in [0, 1]; grey images stay exact."""
    images = []
    for frame in frames:
        array = (frame.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()  # (H, W, C)
        img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        images.append(img)
    return atomic_write(
        path,
        lambda tmp: images[0].save(
            tmp,
            save_all=True,
            append_images=images[1:],
            duration=frame_durations(len(images), fps),
            loop=0,
            optimize=False,
        ),
        "animation",
        "free some space and rerun.",
    )


def pick_image(spec: int | str, trained: TrainedRun) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """An image (1, C, H, W) in [0, 1] from a test index (the run's data set is read for it) or a
    file path, its label if known, and a name."""
    spec, info = str(spec), trained.model.info
    if spec.lstrip("-").isdigit():
        index, data = int(spec), trained.data
        if not 0 <= index < len(data.test):
            raise ZooError(
                f"test index {index} is out of range: the test split has {len(data.test)} images (0..{len(data.test) - 1})"
            )
        x, y = data.test.batch(torch.tensor([index]))
        return x, y, f"test{index}"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ZooError(f"'{spec}' is neither a test index nor an image file. Pass an integer or the path of a jpg/png.")
    x = load_image(path, info.image_size, info.channels).float().unsqueeze(0) / 255
    return x, None, path.stem


def parse_options(argv: list[str]) -> MorphOptions:
    return parse_config("morph", MorphOptions, argv)


def morph(options: MorphOptions) -> dict[str, Path]:
    trained = load_trained(options.run, options.checkpoint, options.data_root)
    model = trained.model
    xa, ya, name_a = pick_image(options.a, trained)
    xb, yb, name_b = pick_image(options.b, trained)
    if model.conditional:
        ya = ya if ya is not None else torch.zeros(1, dtype=torch.long)
        yb = yb if yb is not None else ya
    frames = morph_frames(model, xa, xb, options.frames, options.mode, ya, yb)
    out = Path(options.out) if options.out else trained.run_dir / "morphs"
    stem = f"{name_a}_to_{name_b}_{options.mode}_{options.frames}"
    gif = write_gif(frames, out / f"{stem}.gif", options.fps, options.scale)
    strip = save_grid(frames, out / f"{stem}.png", nrow=options.frames)
    return {"gif": gif, "strip": strip}


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda args: morph(parse_options(args)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
