"""Pixel likelihoods are normalised distributions over the values they model."""

import torch

from zoo.nn.likelihoods import BernoulliLikelihood, DiscretizedLogisticLikelihood


def test_discretized_logistic_sums_to_one_over_the_256_pixel_values():
    lik = DiscretizedLogisticLikelihood()
    values = torch.arange(256).float().div(255).view(256, 1, 1, 1)  # every 8-bit value, one pixel each
    for loc, log_scale in [(0.0, -2.0), (0.6, -4.0), (-0.99, -1.0), (0.3, -6.5)]:
        params = torch.tensor([loc, log_scale]).view(1, 2, 1, 1).expand(256, 2, 1, 1)
        total = lik.log_prob(params, values).exp().sum()
        assert abs(total.item() - 1.0) < 1e-3, (loc, log_scale, total)


def test_discretized_logistic_peaks_at_its_location():
    lik = DiscretizedLogisticLikelihood()
    values = torch.arange(256).float().div(255).view(256, 1, 1, 1)
    params = torch.tensor([0.0, -3.0]).view(1, 2, 1, 1).expand(256, 2, 1, 1)
    best = lik.log_prob(params, values).argmax().item()
    assert best in (127, 128)  # tanh(0) = 0 -> the middle of [0, 255]


def test_bernoulli_matches_the_closed_form():
    lik = BernoulliLikelihood()
    logits = torch.tensor([[[[0.0, 2.0]]]])
    x = torch.tensor([[[[1.0, 0.0]]]])
    expected = torch.log(torch.sigmoid(torch.tensor(0.0))) + torch.log(1 - torch.sigmoid(torch.tensor(2.0)))
    assert torch.allclose(lik.log_prob(logits, x), expected.view(1))
