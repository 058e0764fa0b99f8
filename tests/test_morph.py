"""``python -m zoo.morph``: a GIF and a strip that morph one test image into another, for every
model that can encode; the first and last frames are the reconstructions of the two ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ROOT, doodles
from zoo.errors import ZooError
from zoo.morph import interpolate, main, morph_frames, slerp
from zoo.trained import load_trained


def test_interpolation_keeps_the_endpoints_exactly():
    za, zb = torch.randn(1, 6), torch.randn(1, 6)
    for mode in ("slerp", "linear"):
        path = interpolate(za, zb, 7, mode)
        assert path.shape == (7, 6)
        assert torch.equal(path[0], za[0]) and torch.equal(path[-1], zb[0])
    levels = interpolate([za, torch.randn(1, 2, 3)], [zb, torch.randn(1, 2, 3)], 4, "slerp")
    assert [z.shape for z in levels] == [(4, 6), (4, 2, 3)]


def test_slerp_stays_on_the_sphere_where_lerp_cuts_through_it():
    za, zb = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(slerp(za, zb, t).norm(dim=1), torch.ones(5), atol=1e-6)
    assert interpolate(za, zb, 5, "linear")[2].norm() == pytest.approx(2**-0.5)


def test_bad_interpolation_requests_are_refused():
    with pytest.raises(ZooError, match="slerp or linear"):
        interpolate(torch.zeros(1, 2), torch.ones(1, 2), 4, "cubic")
    with pytest.raises(ZooError, match="at least 2"):
        interpolate(torch.zeros(1, 2), torch.ones(1, 2), 1, "linear")


def gif_frames(path: Path) -> tuple[list[np.ndarray], int]:
    """Grey frames of a GIF and its total duration in ms."""
    frames, total = [], 0
    with Image.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("L")))
            total += gif.info["duration"]
    return frames, total


@pytest.mark.parametrize("model", ["alpha_gan", "vae", "glow", "alae", "flow_matching"])
def test_morph_gif_has_the_frames_asked_for_and_starts_and_ends_at_the_reconstructions(model, trained_runs, tmp_path):
    run = trained_runs[model]
    assert main([f"run={run}", "a=0", "b=3", "frames=6", "scale=2", "fps=10", f"out={tmp_path}"]) == 0
    gif = tmp_path / "test0_to_test3_slerp_6.gif"
    assert gif.is_file() and (tmp_path / "test0_to_test3_slerp_6.png").is_file()

    trained = load_trained(run)
    x, _ = trained.data.test.batch(torch.tensor([0, 3]))
    expected = (morph_frames(trained.model, x[:1], x[1:], 6, "slerp") * 255).round().byte()[:, 0].numpy()
    recon = (trained.model.reconstruct(x) * 255).round().byte()[:, 0].numpy()  # (2, H, W)
    # the ends are the reconstructions, to a grey level: an ODE solver's float rounding differs between a
    # batch of 6 codes and one of 2
    ends = np.abs(np.stack([expected[0], expected[-1]]).astype(int) - recon.astype(int))
    assert ends.max() <= 1, ends.max()

    # GIF encoders store a run of identical frames once with the durations added: the animation
    # still lasts frames / fps, and every distinct frame is there, enlarged 2x.
    upscale = lambda a: a.repeat(2, axis=0).repeat(2, axis=1)  # noqa: E731
    distinct = [f for i, f in enumerate(expected) if i == 0 or not np.array_equal(f, expected[i - 1])]
    frames, duration = gif_frames(gif)
    assert duration == 6 * 100
    assert len(frames) == len(distinct)
    assert all(np.array_equal(got, upscale(want)) for got, want in zip(frames, distinct, strict=True))
    if model == "glow":  # an exact encoder: two different doodles give six different frames
        assert len(frames) == 6


def test_an_explicitly_chosen_checkpoint_loads_as_well_as_the_last(trained_runs, tmp_path):
    """ALAE keeps the last state of each finished level; morphing from the 4x4 one draws 4x4 images."""
    run = trained_runs["alae"]
    chosen = run / "checkpoints" / "res4.pt"
    assert main([f"run={run}", f"checkpoint={chosen}", "a=0", "b=3", "frames=4", f"out={tmp_path}"]) == 0
    assert (tmp_path / "test0_to_test3_slerp_4.gif").is_file()
    early, last = load_trained(run, chosen), load_trained(run)
    assert (early.step, last.step) == (2, 4)
    assert early.model.phase.resolution == 8 and early.model.phase.blend == 0.0  # 8x8 not yet faded in
    x, _ = early.data.test.first(2)
    image = early.model.reconstruct(x)  # (2, 1, 32, 32), made of 8x8-pixel blocks of the 4x4 image
    assert torch.equal(image, image[:, :, ::8, ::8].repeat_interleave(8, 2).repeat_interleave(8, 3))


def test_an_image_file_can_be_one_end(trained_runs, tmp_path):
    picture = tmp_path / "mine.png"
    Image.fromarray(doodles(1, 5).reshape(28, 28)).save(picture)
    assert (
        main(
            [
                f"run={trained_runs['vae']}",
                f"a={picture}",
                "b=1",
                "frames=4",
                "mode=linear",
                "fps=10",
                f"out={tmp_path}",
            ]
        )
        == 0
    )
    assert gif_frames(tmp_path / "mine_to_test1_linear_4.gif")[1] == 4 * 100


def test_models_without_an_encoder_and_bad_arguments_get_one_clear_message(trained_runs, tmp_path, capsys):
    # the command as a user runs it: exit code 2 and one line, no traceback
    args = [f"run={trained_runs['dcgan']}", "a=0", "b=1"]
    result = subprocess.run([sys.executable, "-m", "zoo.morph", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "DCGAN has no encoder" in result.stderr and "Traceback" not in result.stderr
    # the other refusals through the same entry point, in this process
    for args, message in [
        ([f"run={trained_runs['vae']}", "a=0", "b=99999"], "out of range"),
        ([f"run={tmp_path}", "a=0", "b=1"], "not a genzoo run folder"),
        ([f"run={trained_runs['vae']}", "frame=3"], "Could not override 'frame'. (the options are run, a, b, frames"),
    ]:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("frames", "fps"), [(64, 30), (16, 12), (10, 10), (7, 24)])
def test_a_gif_plays_for_frames_over_fps_seconds(frames, fps, tmp_path):
    """GIFs count hundredths of a second: 64 frames at 30 fps used to be 30 ms each, 1.92 s
    instead of 2.13 s. Every frame now ends on the hundredth nearest its true end."""
    from zoo.morph import write_gif

    path = write_gif(torch.rand(frames, 1, 8, 8), tmp_path / "m.gif", fps, scale=1)
    _, total = gif_frames(path)
    assert total == round(frames / fps * 100) * 10
