"""Style-ALAE: the networks at every level, the fade-in, the progressive schedule and its resume,
style mixing, and which networks each of Algorithm 1's three losses may reach."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import tiny_bundle
from zoo.checkpoint import load_checkpoint
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig
from zoo.models.alae import ALAE, named_layers
from zoo.nn.progressive import ProgressiveSchedule
from zoo.nn.style import NoiseInput
from zoo.optim import Stepper
from zoo.tracking import Tracker
from zoo.trainer import Trainer, TrainerConfig


def alae(size: int = 16, **kw) -> ALAE:
    torch.manual_seed(0)
    options = dict(
        latent_dim=8,
        w_dim=8,
        mapping_layers=2,
        channel_base=64,
        max_channels=8,
        images_per_level=32,
        fade_images=16,
        batch_sizes=8,
    )
    model = ALAE(DataInfo("x", 1, size, 2), **(options | kw))
    Stepper(model)
    return model


def at_level(model: ALAE, level: int, blend: float = 1.0) -> ALAE:
    """Move the schedule to ``level`` with ``blend`` (fade_images=16 per level of 32 images)."""
    model.enter(model.schedule.at(32 * level + (int(16 * blend) if level else 0)))
    assert (model.phase.level, model.phase.blend) == (level, blend)
    return model


# -- networks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0, 1, 2])
def test_shapes_at_every_level(level):
    model = at_level(alae(size=16), level)
    resolution = 4 * 2**level
    w = model.mapping(torch.randn(3, 8))
    assert w.shape == (3, 8)
    assert model.generate(w, model.phase).shape == (3, 1, resolution, resolution)
    assert model.encoder(torch.randn(3, 1, resolution, resolution), level, 1.0).shape == (3, 8)
    assert model.discriminator(w).shape == (3,)
    # what users and compare.py see is always at the data's size, in [0, 1]
    x = torch.rand(3, 1, 16, 16)
    for images in (model.sample(3), model.reconstruct(x), model.decode(model.encode(x))):
        assert images.shape == (3, 1, 16, 16) and images.min() >= 0 and images.max() <= 1


def test_with_blend_zero_the_generator_shows_the_upsampled_previous_level():
    model = alae(size=16)
    styles = model.styles(model.mapping(torch.randn(4, 8)))
    fading = model.generator(styles, level=2, blend=0.0, generator=torch.Generator().manual_seed(1))
    below = model.generator(styles, level=1, blend=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(fading, F.interpolate(below, scale_factor=2, mode="nearest"), atol=1e-6)
    halfway = model.generator(styles, level=2, blend=0.5, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(halfway, fading, atol=1e-3)


def test_with_blend_zero_the_encoder_reads_the_pooled_image_with_the_previous_level():
    model = alae(size=16)
    x = torch.randn(4, 1, 16, 16)
    fading = model.encoder(x, level=2, blend=0.0)
    assert torch.allclose(fading, model.encoder(F.avg_pool2d(x, 2), level=1, blend=1.0), atol=1e-5)


# -- the schedule -------------------------------------------------------------------------------
def test_level_and_blend_as_a_function_of_images_seen():
    schedule = ProgressiveSchedule(16, images_per_level=[100, 200], fade_images=50, batch_sizes=[64, 32, 16])
    at = lambda n: (schedule.at(n).level, schedule.at(n).blend, schedule.at(n).batch_size)  # noqa: E731
    assert at(0) == (0, 1.0, 64)  # 4x4 has nothing to fade from
    assert at(99) == (0, 1.0, 64)
    assert at(100) == (1, 0.0, 32)  # 8x8 starts fading in
    assert at(125) == (1, 0.5, 32)
    assert at(150) == (1, 1.0, 32)
    assert at(300) == (2, 0.0, 16)
    assert at(10**9) == (2, 1.0, 16)  # the last level trains until the budget ends
    assert schedule.at(125).resolution == 8 and schedule.at(300).name == "res16"


def test_real_images_are_pooled_and_blended_like_the_generator():
    from zoo.nn.progressive import blend_real

    schedule = ProgressiveSchedule(16, images_per_level=[10, 10], fade_images=10, batch_sizes=4)
    x = torch.rand(2, 1, 16, 16)
    assert torch.allclose(blend_real(x, schedule.at(0)), F.avg_pool2d(x, 4))
    start = blend_real(x, schedule.at(10))  # 8x8 at blend 0: the 4x4 image, upsampled
    assert torch.allclose(start, F.interpolate(F.avg_pool2d(x, 4), scale_factor=2, mode="nearest"), atol=1e-6)


def make_trainer(tmp_path, model: ALAE, max_steps: int, **options) -> Trainer:
    data = tiny_bundle(size=16)
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = TrainerConfig(
        max_steps=max_steps,
        batch_size=999,  # ignored: the schedule sets the batch size
        log_every=1,
        sample_every=1000,
        checkpoint_every=1000,
        progress=False,
        n_samples=4,
        **options,
    )
    tracker = Tracker("disabled", "test", run_dir, "t", "g", [], {})
    config = {"model": {"name": "alae"}}
    return Trainer(model, data, cfg, run_dir, tracker, 0, EvalConfig(n_test=16, batch_size=16), config)


def test_the_trainer_follows_the_schedules_batch_sizes_and_keeps_each_finished_level(tmp_path):
    trainer = make_trainer(tmp_path, alae(batch_sizes=[16, 8, 4]), max_steps=7)
    trainer.fit()
    assert trainer.images_seen == 16 + 16 + 8 * 4 + 4  # two steps at 4x4, four at 8x8, one at 16x16
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.pt", "res4.pt", "res8.pt"]
    # the state at the end of 8x8: 16x16 has not begun to fade in, so the model draws its 8x8 images
    assert load_checkpoint(checkpoints / "res8.pt")["schedule"] == {
        "level": 2,
        "resolution": 16,
        "blend": 0.0,
        "images_in_level": 0,
    }
    last = load_checkpoint(checkpoints / "last.pt")
    assert last["schedule"]["level"] == 2 and last["schedule"]["blend"] == pytest.approx(4 / 16)


def test_a_run_resumed_mid_fade_continues_the_same_blend_and_weights(tmp_path):
    straight = make_trainer(tmp_path / "a", alae(), max_steps=8)  # 4 steps at 4x4, then fading 8x8
    straight.fit()
    interrupted = make_trainer(tmp_path / "b", alae(), max_steps=5)
    interrupted.fit()
    state = load_checkpoint(interrupted.checkpoint_path)
    assert state["schedule"]["level"] == 1 and 0 < state["schedule"]["blend"] < 1  # stopped mid-fade
    torch.manual_seed(123)  # another process's random state; the checkpoint restores it
    resumed = make_trainer(tmp_path / "b", alae(), max_steps=8)
    resumed.load_state_dict(state)
    resumed.fit()
    assert resumed.model.phase == straight.model.phase
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


# -- style mixing ---------------------------------------------------------------------------------
def test_style_mixing_ranges_adapt_to_the_number_of_levels():
    assert named_layers("coarse", 4) == [0, 1, 2, 3]  # 4x4, 8x8
    assert named_layers("middle", 4) == [4, 5]  # 16x16
    assert named_layers("fine", 4) == [6, 7]  # 32x32, the last level
    assert named_layers("middle", 5) == [4, 5, 6, 7]  # 16x16, 32x32
    assert named_layers("fine", 5) == [8, 9]  # 64x64
    assert named_layers("fine", 9) == list(range(8, 18))  # 64 to 1024, as in StyleGAN
    with pytest.raises(ZooError, match="unknown style-mixing range"):
        named_layers("medium", 4)


def test_only_the_levels_trained_so_far_offer_styles():
    """A run stopped at 8x8 (of 16x16) has four style layers to mix, not six: the 16x16 layers
    never shaped an image, so mixing them would change nothing (identical 8x8 blocks)."""
    assert alae(16).style_layers == 2 and alae(16).style_preset("coarse") == [0, 1]  # 4x4 only, yet
    model = at_level(alae(16), 1)
    assert model.style_layers == 4 and model.style_preset("fine") == [2, 3]  # 8x8, the last level reached
    assert at_level(model, 2).style_layers == 6 and model.style_preset("fine") == [4, 5]


def test_style_mixing_with_no_source_layers_is_the_destination_and_with_all_is_the_source():
    model = at_level(alae(size=16), 2)
    with torch.no_grad():  # noise inputs on: a cell must still not depend on its batch neighbours
        for name, p in model.generator.named_parameters():
            if name.endswith("strength"):
                p.fill_(0.5)
    w_src, w_dst = model.mapping(torch.randn(3, 8)), model.mapping(torch.randn(2, 8))
    kept = model.style_mix(w_src, w_dst, layers=[]).unflatten(0, (2, 3))
    taken = model.style_mix(w_src, w_dst, layers=range(model.n_styles)).unflatten(0, (2, 3))
    for i in range(2):
        for j in range(3):
            assert torch.allclose(kept[i, j], model.decode(w_dst[i : i + 1])[0], atol=1e-5)
            assert torch.allclose(taken[i, j], model.decode(w_src[j : j + 1])[0], atol=1e-5)
    assert not torch.allclose(kept[0, 0], taken[0, 0], atol=1e-2)


def test_the_style_mixing_grid_has_a_source_row_and_a_row_per_destination_and_range():
    model = at_level(alae(size=16), 2)
    x = torch.rand(32, 1, 16, 16)
    grids = model.extra_grids(x, torch.zeros(32, dtype=torch.long), torch.Generator().manual_seed(0))
    assert grids["style_mixing"].shape == ((1 + 2 * 3) * 8, 1, 16, 16)  # saved 8 per row
    assert grids["samples_psi0.7"].shape == (32, 1, 16, 16)


# -- losses: which networks each term may reach ------------------------------------------------------
def networks_with_gradients(model: ALAE) -> set[str]:
    return {
        name
        for name in ("mapping", "generator", "encoder", "discriminator")
        if any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, name).parameters())
    }


def test_each_loss_reaches_only_the_networks_it_updates():
    model = at_level(alae(size=16), 1)
    phase, real = model.phase, torch.rand(8, 1, 8, 8) * 2 - 1

    model.zero_grad()
    step_i = model.step_i_losses(real, phase, with_r1=True)
    (step_i["adv"] + step_i["r1"]).backward()
    assert step_i["r1"] > 0
    assert networks_with_gradients(model) == {"encoder", "discriminator"}  # G(F(z)) is a constant here

    model.zero_grad()
    model.step_ii_loss(8, phase).backward()
    # E and D sit on step II's path; train_step freezes them (next test)
    assert {"mapping", "generator"} <= networks_with_gradients(model)

    model.zero_grad()
    model.step_iii_loss(8, phase).backward()
    assert networks_with_gradients(model) == {"encoder", "generator"}  # F(z) is the fixed target


def test_train_step_changes_each_network_only_in_its_own_steps(monkeypatch):
    """Step II must leave E and D untouched: their parameters are frozen while F and G step."""
    model = at_level(alae(size=16), 0)
    seen = []
    original = model.optimize

    def spy(loss, *names):
        before = {n: [p.clone() for p in getattr(model, n).parameters()] for n in ("encoder", "discriminator")}
        original(loss, *names)
        changed = {
            n
            for n, ps in before.items()
            if any(not torch.equal(a, b) for a, b in zip(ps, getattr(model, n).parameters(), strict=True))
        }
        seen.append((names, changed))

    monkeypatch.setattr(model, "optimize", spy)
    model.train_step(torch.rand(8, 1, 16, 16), torch.zeros(8, dtype=torch.long))
    assert [names for names, _ in seen] == [
        ("encoder", "discriminator"),
        ("mapping", "generator"),
        ("encoder", "generator"),
    ]
    assert seen[1][1] == set()  # step II moved neither E nor D
    assert seen[0][1] == {"encoder", "discriminator"}


def test_lazy_r1_is_applied_every_r1_every_steps_only():
    model = at_level(alae(size=16, r1_every=2), 0)
    r1 = [model.train_step(torch.rand(8, 1, 16, 16), torch.zeros(8, dtype=torch.long))["r1"] for _ in range(4)]
    assert r1[0] > 0 and r1[2] > 0 and r1[1] == 0 and r1[3] == 0


# -- errors ------------------------------------------------------------------------------------------
def test_image_sizes_and_level_counts_that_do_not_fit_are_refused_with_the_choices():
    with pytest.raises(ZooError, match=r"power of two.*Valid choices: 4, 8, 16, 32, 64"):
        alae(size=28)
    with pytest.raises(ZooError, match=r"model.levels=5 does not fit image_size 16.*Set model.levels=3"):
        alae(size=16, levels=5)
    with pytest.raises(ZooError, match=r"batch_sizes has 4 entries but the schedule has 3"):
        alae(size=16, batch_sizes=[8, 8, 8, 8])


def test_a_short_batch_size_list_serves_the_levels_above_with_its_last_entry():
    """The default [64, 64, 32] fits 32x32 doodles (4 levels) and 64x64 cats (5 levels) alike."""
    schedule = ProgressiveSchedule(64, images_per_level=10, fade_images=5, batch_sizes=[64, 64, 32])
    assert schedule.batch_sizes == (64, 64, 32, 32, 32)


def test_a_checkpoint_of_another_resolution_is_refused_with_a_message():
    small, large = alae(size=16), alae(size=32)
    with pytest.raises(ZooError, match=r"3-level ALAE .* this one has 4 levels"):
        large.load_state_dict(small.state_dict())


def test_the_generator_starts_at_the_data_mean_once():
    model = at_level(alae(size=16), 0)
    x = torch.full((8, 1, 16, 16), 0.1)  # dark images: -0.8 in the generator's [-1, 1] range
    model.train_step(x, torch.zeros(8, dtype=torch.long))
    assert bool(model.generator.bias_initialised)
    assert all(torch.allclose(rgb.bias, torch.tensor([-0.8])) for rgb in model.generator.to_rgb[1:])  # untrained yet
    model.train_step(x + 0.5, torch.zeros(8, dtype=torch.long))
    assert torch.allclose(model.generator.to_rgb[2].bias, torch.tensor([-0.8]))  # not redone


def test_samples_of_one_batch_draw_their_own_noise_and_reconstructions_share_one():
    """Two images of one batch with the same styles differ only by their noise maps: sampling
    gives each its own (seeded), decoding shares one so an image never depends on its batch."""
    model = at_level(alae(), 2).eval()
    with torch.no_grad():
        for module in model.generator.modules():
            if isinstance(module, NoiseInput):
                module.strength.fill_(1.0)  # trained strengths; zero at initialisation
    w = torch.randn(1, 8).expand(2, -1)
    styles = model.styles(w, mix=False)
    with torch.no_grad():
        own = model.generator(styles, 2, 1.0, torch.Generator().manual_seed(3))
        again = model.generator(styles, 2, 1.0, torch.Generator().manual_seed(3))
        shared = model.generator(styles, 2, 1.0, torch.Generator().manual_seed(3), shared_noise=True)
    assert not torch.allclose(own[0], own[1])  # independent samples
    assert torch.equal(own, again)  # and reproducible from the seed
    assert torch.equal(shared[0], shared[1])
    decoded = model.decode(w)
    assert torch.equal(decoded[0], decoded[1])
    samples = model.sample(4, torch.Generator().manual_seed(0))
    assert torch.equal(samples, model.sample(4, torch.Generator().manual_seed(0)))


def test_a_checkpoint_from_before_the_stream_position_was_saved_resumes_by_replaying_the_schedule(tmp_path):
    """Older checkpoints have no ``stream_position``: the trainer replays the schedule's batch sizes
    (16, 16, 8, ...) to find where the batch stream stood, and the run continues the same run."""
    straight = make_trainer(tmp_path / "a", alae(batch_sizes=[16, 8, 4]), max_steps=8)
    straight.fit()
    interrupted = make_trainer(tmp_path / "b", alae(batch_sizes=[16, 8, 4]), max_steps=5)
    interrupted.fit()
    state = load_checkpoint(interrupted.checkpoint_path)
    saved = state.pop("stream_position")
    resumed = make_trainer(tmp_path / "b", alae(batch_sizes=[16, 8, 4]), max_steps=8)
    resumed.load_state_dict(state)
    assert resumed.stream.position == saved
    resumed.fit()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
