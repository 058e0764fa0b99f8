"""Splits, resizing and the deterministic, resumable batch stream."""

import numpy as np
import torch

from zoo.data.base import BatchStream, ImageDataset, fit_to_size, seeded_split


def test_seeded_split_is_deterministic_disjoint_and_complete():
    train, test = seeded_split(1000, 0.1, seed=3)
    again_train, again_test = seeded_split(1000, 0.1, seed=3)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    assert len(test) == 100 and len(set(train) | set(test)) == 1000 and not set(train) & set(test)
    assert not np.array_equal(seeded_split(1000, 0.1, seed=4)[1], test)


def test_pad_centres_28_pixel_images_in_32_without_changing_them():
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    padded = fit_to_size(images, 32, "pad")
    assert padded.shape == (3, 1, 32, 32)
    assert torch.equal(padded[:, :, 2:30, 2:30], images)
    assert padded[:, :, :2].sum() == 0 and padded[:, :, :, 30:].sum() == 0


def test_resize_changes_size_and_keeps_uint8():
    images = torch.full((2, 3, 64, 64), 200, dtype=torch.uint8)
    out = fit_to_size(images, 32, "resize")
    assert out.shape == (2, 3, 32, 32) and out.dtype == torch.uint8 and (out == 200).all()


def _stream(start=0, seed=0):
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    return BatchStream(ImageDataset(images, torch.arange(10)), seed=seed, start=start)


def batches(stream: BatchStream, n: int, size: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [stream.take(size) for _ in range(n)]


def test_batch_stream_visits_each_image_once_per_epoch_and_drops_the_partial_batch():
    first_epoch = batches(_stream(), 3)  # 10 // 3 = 3 batches per epoch
    labels = torch.cat([y for _, y in first_epoch])
    assert len(labels) == 9 and len(set(labels.tolist())) == 9


def test_batch_stream_started_at_a_saved_position_yields_exactly_the_batches_after_it():
    s = _stream()
    straight = [y for _, y in batches(s, 5)]
    saved = s.position
    straight += [y for _, y in batches(s, 3)]
    resumed = [y for _, y in batches(_stream(start=saved), 3)]
    for a, b in zip(straight[5:], resumed, strict=True):
        assert torch.equal(a, b)


def test_batch_stream_takes_batches_of_changing_size_without_straddling_epochs():
    s = _stream()
    sizes = [4, 4, 4, 2, 5]  # 4 + 4 fit in the first epoch of 10; the third 4 starts epoch 2
    labels = [s.take(b)[1] for b in sizes]
    assert [len(y) for y in labels] == sizes
    assert len(set(torch.cat(labels[:2]).tolist())) == 8
    assert len(set(torch.cat(labels[2:4]).tolist())) == 6  # epoch 2: 4 + 2, all distinct
    assert s.position == 20 + 5  # epoch 2 ended exactly at 20; the 5 begin epoch 3


def test_position_after_batches_of_any_sizes_matches_the_stream():
    s = _stream()
    batches(s, 7)
    assert s.position == BatchStream.position_after([3] * 7, 10)
    sizes = [4, 4, 4, 2, 5, 1, 6]
    s = _stream()
    for b in sizes:
        s.take(b)
    assert s.position == BatchStream.position_after(sizes, 10)


def test_batch_stream_order_depends_on_the_seed():
    a = [y for _, y in batches(_stream(seed=0), 3)]
    b = [y for _, y in batches(_stream(seed=1), 3)]
    assert any(not torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_batches_are_floats_in_unit_range():
    x, _ = _stream().take(3)
    assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 9 / 255 + 1e-6


def test_spread_shows_every_class_of_a_class_ordered_split():
    labels = torch.arange(10).repeat_interleave(30)  # stored class by class, as the test splits are
    data = ImageDataset(torch.zeros(300, 1, 4, 4, dtype=torch.uint8), labels)
    _, y = data.spread(20)
    assert len(y) == 20 and set(y.tolist()) == set(range(10))
    assert set(data.first(20)[1].tolist()) == {0}
    assert len(data.spread(500)[1]) == 300
