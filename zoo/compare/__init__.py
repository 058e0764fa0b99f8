"""``python compare.py data=<name>``: every trained model on the same held-out data, side by side.

For each registered model, the newest finished run on that data under ``runs/`` (or the folders in
``runs=[...]``) is loaded with its EMA weights; each draws ``n_samples`` images with a fixed seed
and is scored with the same metrics against the same real images:

- sample quality and coverage: FID and KID in every available feature space, sliced Wasserstein
  distance, the critic's negative Wasserstein distance, precision/recall, class coverage;
- models that encode: reconstruction MSE, PSNR, SSIM of the test images;
- models with a likelihood: test bits/dim (a bound where the model says so);
- cost: parameters, training time and images seen, sampling speed, peak memory (CUDA).

The first row is the real-data reference: the held-out test images scored against the training
images, the floor every other row should be read against. Capabilities are asked of the model
(``can_encode``, ``has_likelihood``); a missing one is "n/a" with the reason, never a number.

The package: ``options`` (the schemas), ``na`` (a missing value and its reason), ``discovery``
(which run of each model), ``reference`` (the real images and their cached features), ``scoring``
(one row per model: samples, reconstructions, likelihood, cost), ``report`` (table, reasons,
files) and ``command`` (``compare`` and ``main``).
"""

from zoo.compare.command import compare, main, output_folder
from zoo.compare.discovery import Picked, pick_runs
from zoo.compare.options import CompareOptions, MetricOptions, check_compare_config
from zoo.compare.reference import Reference, build_reference, data_key

__all__ = [
    "CompareOptions",
    "MetricOptions",
    "Picked",
    "Reference",
    "build_reference",
    "check_compare_config",
    "compare",
    "data_key",
    "main",
    "output_folder",
    "pick_runs",
]
