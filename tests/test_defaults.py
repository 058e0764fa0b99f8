"""One source of defaults: the YAML in ``conf/``. Where the code gives an option a default too (a
model's or data source's signature, the trainer's and compare's schemas), it is the same value, so
that a model built in Python behaves like the one ``train.py`` builds."""

from __future__ import annotations

import inspect

import pytest
from omegaconf import OmegaConf

from tests.helpers import ROOT
from zoo.compare import CompareOptions, MetricOptions
from zoo.evaluation import EvalConfig
from zoo.registry import DATASETS, MODELS
from zoo.trainer import TrainerConfig


def code_defaults(fn, skip=("self", "info")) -> dict:
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in inspect.signature(fn).parameters.values()
        if p.name not in skip and p.default is not p.empty
    }


def differences(yaml: dict, code: dict) -> list[str]:
    return [f"{k}: yaml {yaml[k]!r}, code {code[k]!r}" for k in sorted(set(yaml) & set(code)) if yaml[k] != code[k]]


@pytest.mark.parametrize("name", MODELS.names())
def test_a_models_code_defaults_are_its_yaml(name):
    yaml = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "model" / f"{name}.yaml"))["model"]
    code = code_defaults(MODELS.get(name).__init__)
    assert not differences(yaml, code)
    assert set(code) <= set(yaml), f"options only the code knows: {sorted(set(code) - set(yaml))}"


@pytest.mark.parametrize("path", sorted((ROOT / "conf" / "data").glob("*.yaml")), ids=lambda p: p.stem)
def test_a_data_sources_code_defaults_are_its_yaml(path):
    with __import__("hydra").initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = __import__("hydra").compose("config", overrides=[f"data={path.stem}"])
    yaml = OmegaConf.to_container(cfg.data, resolve=False)
    assert not differences(yaml, code_defaults(DATASETS.get(yaml["source"])))


@pytest.mark.parametrize(
    ("config", "group", "schema"),
    [
        ("config", "trainer", TrainerConfig),
        ("config", "eval", EvalConfig),
        ("compare", None, CompareOptions),
        ("compare", "metrics", MetricOptions),
    ],
)
def test_the_schemas_defaults_are_the_yaml(config, group, schema):
    yaml = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / f"{config}.yaml"), resolve=False)
    yaml = yaml[group] if group else yaml
    code = {k: f.get_default(call_default_factory=True) for k, f in schema.model_fields.items()}
    code = {k: v for k, v in code.items() if not isinstance(v, dict | MetricOptions)}
    interpolated = {k for k, v in yaml.items() if isinstance(v, str) and v.startswith("${")}
    assert not differences({k: v for k, v in yaml.items() if k not in interpolated}, code)
