"""How invertible is a trained Glow, in numbers? Prints, for a run's test split:

- reconstruction: images decoded back to exactly their 8-bit values, MSE in [0, 1] units, and the largest
  error before quantisation (|f^-1(f(x)) - x| in the flow's input space);
- the 1x1 convolutions: condition numbers of W = P L (U + diag(s)) (invertible by construction; a large
  condition number would amplify float error);
- the affine couplings: the smallest scale s met on the test images (dividing by s in the inverse
  amplifies error by 1/s).

    python bench/glow_invertibility.py runs/glow-mnist/<timestamp> [n_test]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo.nn.flows import AffineCoupling, InvConv2dLU
from zoo.trained import load_trained


@torch.no_grad()
def main(run: str, n_test: int | None = None) -> None:
    trained = load_trained(run)
    model, test = trained.model, trained.data.test
    n = min(n_test or len(test), len(test))
    conds = [torch.linalg.cond(m.weight().double()).item() for m in model.modules() if isinstance(m, InvConv2dLU)]
    min_scale = [float("inf")]

    def track(module, inputs, output):
        x_a = inputs[0].chunk(2, dim=1)[0]
        _, scale = module._shift_scale(x_a, inputs[1] if len(inputs) > 1 else None)
        if scale is not None:
            min_scale[0] = min(min_scale[0], scale.min().item())

    hooks = [m.register_forward_hook(track) for m in model.modules() if isinstance(m, AffineCoupling)]
    exact = nonfinite = 0
    sq_err, max_err = 0.0, 0.0
    for start in range(0, n, 250):
        x, y = test.batch(torch.arange(start, min(start + 250, n)))
        x_pre = model.preprocess(x, noise=False)
        zs = model.flow(x_pre, y)[0]
        back = model.inverse_flow(zs, y)
        finite = torch.isfinite(back.flatten(1)).all(1)
        nonfinite += int((~finite).sum())
        max_err = max(max_err, (back[finite] - x_pre[finite]).abs().max().item() if finite.any() else 0.0)
        recon = model.postprocess(back)
        exact += int((recon == x).flatten(1).all(1).sum())
        sq_err += (recon - x).pow(2).flatten(1).mean(1).sum().item()
    for h in hooks:
        h.remove()
    print(f"run {trained.run_dir} (step {trained.step}), {n} test images")
    print(f"  reconstructed exactly (all 8-bit values): {exact}/{n}; non-finite: {nonfinite}")
    print(f"  reconstruction MSE [0,1] units: {sq_err / n:.3g}; max |f^-1(f(x)) - x| before quantising: {max_err:.3g}")
    print(f"  1x1 conv condition numbers: min {min(conds):.3g}, max {max(conds):.3g} ({len(conds)} layers)")
    print(f"  smallest affine coupling scale on these images: {min_scale[0]:.3g}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
