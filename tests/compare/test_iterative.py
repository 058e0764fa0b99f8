"""Models whose every sample takes several network evaluations (NFE > 1) are scored for
reconstructions and likelihood on the first ``iterative_test_images`` test images, and on a CPU draw
their samples within ``max_sample_evaluations``; every other model on all of them, at its own cost."""

from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from tests.helpers import fast, fast_compare, run_compare, run_train, tiny_bundle, tiny_model
from zoo.compare.options import CompareOptions
from zoo.compare.reference import for_device
from zoo.compare.scoring import draw_samples, sampling_steps, score_reconstructions, scored_test_images
from zoo.data.base import DataInfo
from zoo.registry import MODELS

INFO = DataInfo(name="toy", channels=1, image_size=16)


def test_iterative_samplers_use_the_first_test_images_and_one_pass_models_all():
    options = CompareOptions(iterative_test_images=100)
    ddpm, flow, vae = (tiny_model(name, INFO) for name in ("ddpm", "flow_matching", "vae"))
    assert ddpm.sample_evaluations() > 1 and flow.sample_evaluations() > 1 and vae.sample_evaluations() == 1
    assert scored_test_images(ddpm, 10_000, options) == 100
    assert scored_test_images(flow, 10_000, options) == 100
    assert scored_test_images(ddpm, 50, options) == 50, "never more than there are"
    assert scored_test_images(vae, 10_000, options) == 10_000
    assert scored_test_images(ddpm, 10_000, CompareOptions(iterative_test_images=None)) == 10_000


def test_reconstructions_are_scored_without_an_autograd_graph():
    """A graph kept through 25 denoising steps of 500 images took a comparison past 24 GB (killed)."""
    data = tiny_bundle(n_test=8)
    model = tiny_model("ddpm", data.info).eval()
    grad_modes = []
    real_decode = model.decode

    def decode(z, y=None, steps=None):
        grad_modes.append(torch.is_grad_enabled())
        return real_decode(z, y, steps)

    model.decode = decode
    ref = SimpleNamespace(test_images=data.test.images.float() / 255, test_labels=data.test.labels)
    row = score_reconstructions(model, data, ref, CompareOptions(batch_size=4), torch.device("cpu"), {})
    assert row["recon_mse"] >= 0 and grad_modes and not any(grad_modes)


def test_on_a_cpu_iterative_samplers_draw_within_twelve_evaluations_and_on_cuda_at_their_own_steps():
    """compare's samples of a diffusion model at its own 25 steps took 18 minutes on 2 CPU cores: on a
    CPU (``max_sample_evaluations=auto``) each such model takes the most of its steps that fit 12
    network evaluations per sample, and draws 2,000 samples (``n_samples=auto``); a one-pass model,
    or an explicit ``None``, is never limited."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    ddpm = MODELS.get("ddpm")(INFO, **(MODELS.get("ddpm").tiny | {"sample_steps": 25}))
    heun = MODELS.get("flow_matching")(INFO, **(MODELS.get("flow_matching").tiny | {"sample_steps": 12}))
    few = MODELS.get("ddpm")(INFO, **(MODELS.get("ddpm").tiny | {"sample_steps": 8}))
    vae = tiny_model("vae", INFO)
    on_cpu, on_cuda = for_device(CompareOptions(), cpu), for_device(CompareOptions(), cuda)
    assert (on_cpu.n_samples, on_cpu.max_sample_evaluations) == (2000, 12)
    assert (on_cuda.n_samples, on_cuda.max_sample_evaluations) == (10_000, None)
    given = for_device(CompareOptions(n_samples=500, max_sample_evaluations=30), cpu)
    assert (given.n_samples, given.max_sample_evaluations) == (500, 30), "a number is kept on any device"
    assert sampling_steps(ddpm, on_cpu) == 12 and ddpm.sample_evaluations(12) == 12
    assert sampling_steps(heun, on_cpu) == 6 and heun.sample_evaluations(6) == 12  # 2 per Heun step
    assert sampling_steps(few, on_cpu) is None, "within the limit: its own steps"
    assert sampling_steps(vae, on_cpu) is None
    assert sampling_steps(ddpm, on_cuda) is None
    assert sampling_steps(heun, CompareOptions(max_sample_evaluations=1)) == 1, "never fewer than one step"

    ddpm.eval()
    drawn, _ = draw_samples(ddpm, 6, 4, seed=3, device=cpu, steps=12)
    generator = torch.Generator().manual_seed(3)
    expected = torch.cat([ddpm.sample(4, generator, steps=12), ddpm.sample(2, generator, steps=12)])
    assert torch.equal(drawn, expected)
    own, _ = draw_samples(ddpm, 6, 4, seed=3, device=cpu)
    assert not torch.equal(drawn, own), "the steps reach the sampler"


def test_the_report_says_when_a_model_drew_fewer_steps_than_its_own(quickdraw_root, tmp_path):
    """A tiny flow-matching run (2 Heun steps, 4 evaluations) compared within 2 evaluations per
    sample: its samples take 1 step, the NFE column says 2, and the report says why."""
    assert run_train(*fast(quickdraw_root, "flow_matching"), cwd=tmp_path).returncode == 0
    out = tmp_path / "cmp"
    args = ["iterative_test_images=8", "max_sample_evaluations=2"]
    result = run_compare(*fast_compare(quickdraw_root, out), *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [row] = [r for r in json.loads((out / "metrics.json").read_text())["rows"] if r["model"] == "flow_matching"]
    assert row["sample_evaluations"] == 2
    report = (out / "report.md").read_text()
    said = "flow_matching drew its samples in 1 step, 2 network evaluations per sample (its own settings take 4)"
    assert said in report, report
