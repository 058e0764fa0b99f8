"""``python -m zoo.colourise run=<run> image=<photo>``: colour a grey photo with a trained colouriser.

The photo is resized and centre-cropped to the model's size and made grey (its CIELAB lightness;
a grey photo stays as it is). Writes ``<stem>_colourised.png``: the grey input and ``n`` colourings
side by side. With ``reference=<colour photo>`` and a cINN, also ``<stem>_from_<ref>.png``: the grey
input, the reference, and the reference's colour latent decoded under the input's lightness (the
paper's guided colourisation). Same option syntax as ``train.py``, ``compare.py`` and ``zoo.morph``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
from pydantic import Field

from zoo.commands import parse_config, run_command
from zoo.errors import ZooError
from zoo.files import atomic_write
from zoo.images import to_image
from zoo.morph import pick_image
from zoo.nn.colour import grey_rgb, lightness
from zoo.options import Options, Seed
from zoo.trained import load_trained


class ColouriseOptions(Options):
    """``conf/colourise.yaml``."""

    run: str
    image: int | str
    n: Annotated[int, Field(ge=1, le=64)] = 8
    temperature: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    seed: Seed = 0
    reference: int | str | None = None
    scale: Annotated[int, Field(ge=1, le=64)] = 4
    out: str | None = None
    checkpoint: str | None = None
    data_root: str | None = None


def strip(images: torch.Tensor, path: Path, scale: int) -> Path:
    """Images (N, 3, H, W) in [0, 1] side by side in one PNG, enlarged ``scale`` times."""
    picture = to_image(images, scale)
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"), "image", "free some space.")


@torch.no_grad()
def colourise(options: ColouriseOptions) -> dict[str, Path]:
    trained = load_trained(options.run, options.checkpoint, options.data_root)
    model = trained.model
    if not model.colourises:
        raise ZooError(
            f"{options.run} holds a {type(model).__name__}, which does not colourise; "
            "pass a cinn or colour_regression run (python train.py model=cinn data=flowers64)"
        )
    x, _, name = pick_image(options.image, trained)
    grey = lightness(x)
    generator = torch.Generator().manual_seed(options.seed)
    colourings = model.colourise(grey, options.n, options.temperature, generator)[0]  # (n, 3, H, W)
    out = Path(options.out) if options.out else trained.run_dir / "colourised"
    written = {
        "colourised": strip(torch.cat([grey_rgb(grey), colourings]), out / f"{name}_colourised.png", options.scale)
    }
    if options.reference is not None:
        if not model.can_transfer:
            raise ZooError(
                f"colour transfer needs a model that encodes colour into a latent (cinn); "
                f"{type(model).__name__} has one answer per grey image"
            )
        ref, _, ref_name = pick_image(options.reference, trained)
        moved = model.transfer(ref, x)
        written["transfer"] = strip(
            torch.cat([grey_rgb(grey), ref, moved]), out / f"{name}_from_{ref_name}.png", options.scale
        )
    return written


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda args: colourise(parse_config("colourise", ColouriseOptions, args)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
