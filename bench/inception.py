"""How fast is the standard FID network here? Images/s of the Inception pass exactly as
``compare.py`` runs it (uint8, TF-compatible resize to 299x299, 2048-d pool3 features), for
contiguous and channels_last weights, on 28x28 grey and 64x64 colour inputs.

    python bench/inception.py [--images 200] [--batch-size 50] [--threads N] [--device cpu|cuda]

The weights are found or converted as ``compare.py`` does (``python -m zoo.metrics.inception``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from torchmetrics.image.fid import NoTrainInceptionV3

from zoo.metrics import inception


def images_per_second(net, images: torch.Tensor, batch_size: int, device: torch.device) -> float:
    with torch.inference_mode():
        net(images[:2].to(device))  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(images), batch_size):
            net(images[i : i + batch_size].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    weights = inception.locate(progress=True)
    if isinstance(weights, str):
        raise SystemExit(weights)
    net = NoTrainInceptionV3(
        name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(weights)
    )
    net = net.to(device)
    generator = torch.Generator().manual_seed(0)
    inputs = {
        "28x28 grey": torch.randint(0, 256, (args.images, 1, 28, 28), generator=generator, dtype=torch.uint8),
        "64x64 colour": torch.randint(0, 256, (args.images, 3, 64, 64), generator=generator, dtype=torch.uint8),
    }
    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.images} images each")
    for name, images in inputs.items():
        images = images.expand(-1, 3, -1, -1).contiguous()
        for layout in (torch.contiguous_format, torch.channels_last):
            net = net.to(memory_format=layout)
            speed = images_per_second(net, images, args.batch_size, device)
            print(f"{name:13s} {str(layout).removeprefix('torch.'):18s} {speed:7.1f} images/s")


if __name__ == "__main__":
    main()
