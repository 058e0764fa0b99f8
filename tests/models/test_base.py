"""The model contract's update helpers: joint steps keep each loss on its own optimizer."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import Params
from zoo.errors import NonFiniteLossError
from zoo.optim import Stepper


def test_joint_step_gives_each_optimizer_the_gradient_of_its_own_loss_only():
    a, b = torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)
    opt_a, opt_b = torch.optim.SGD([a], lr=0.1), torch.optim.SGD([b], lr=0.1)
    shared = a * b  # one forward graph both losses use
    loss_a, loss_b = shared**2, 3 * shared  # d loss_a/da = 2ab^2 = 8, d loss_b/db = 3a = 3
    Stepper(Params(a=opt_a, b=opt_b)).step_jointly({"a": loss_a, "b": loss_b})
    assert a.item() == pytest.approx(1.0 - 0.1 * 8)  # not touched by loss_b's d/da = 6
    assert b.item() == pytest.approx(2.0 - 0.1 * 3)  # gradients taken before a moved


def test_joint_step_refuses_a_non_finite_loss_before_touching_anything():
    a = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)
    with pytest.raises(NonFiniteLossError, match="bad"):
        Stepper(Params(good=opt, bad=opt)).step_jointly({"good": a.sum(), "bad": a.sum() * float("nan")})
    assert a.item() == 1.0


def test_joint_step_clips_each_optimizers_gradient():
    a = torch.tensor([3.0], requires_grad=True)
    opt = torch.optim.SGD([a], lr=1.0)
    Stepper(Params(a=opt), grad_clip=0.5).step_jointly({"a": 100 * a})
    assert a.item() == pytest.approx(2.5)
