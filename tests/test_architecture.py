"""The layers of docs/architecture.md, as rules on imports and on how models are asked:

entry points (train.py, compare.py, zoo.morph, zoo.app, zoo.studio) -> build -> trainer / compare -> models ->
nn, data, metrics. A lower layer never imports a higher one; nothing but the entry points imports
``zoo.app``; outside ``zoo/models/`` nothing discovers what a model can do with ``getattr``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

ZOO = ROOT / "zoo"
# module prefix -> modules it must never import
FORBIDDEN = {
    "zoo.nn": ("zoo.models", "zoo.trainer", "zoo.build", "zoo.compare", "zoo.app", "zoo.data", "zoo.metrics"),
    "zoo.data": ("zoo.models", "zoo.trainer", "zoo.build", "zoo.compare", "zoo.app", "zoo.metrics"),
    "zoo.metrics": ("zoo.trainer", "zoo.build", "zoo.compare", "zoo.app"),
    "zoo.models": ("zoo.trainer", "zoo.build", "zoo.compare", "zoo.app", "zoo.runs", "zoo.tracking"),
    "zoo.trainer": ("zoo.build", "zoo.compare", "zoo.app"),
    "zoo.build": ("zoo.compare", "zoo.app"),
}
# the studio is an entry point (a page over every layer below it): nothing else imports it
FORBIDDEN = {layer: (*banned, "zoo.studio") for layer, banned in FORBIDDEN.items()} | {
    "zoo.compare": ("zoo.studio", "zoo.app"),
    "zoo.trained": ("zoo.studio",),
    "zoo.morph": ("zoo.studio",),
}


def modules() -> list[tuple[str, Path]]:
    return [(".".join(p.relative_to(ROOT).with_suffix("").parts), p) for p in sorted(ZOO.rglob("*.py"))]


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize(("name", "path"), modules(), ids=[m for m, _ in modules()])
def test_no_module_imports_a_layer_above_its_own(name, path):
    for layer, banned in FORBIDDEN.items():
        if name == layer or name.startswith(layer + "."):
            bad = sorted(i for i in imports(path) for b in banned if i == b or i.startswith(b + "."))
            assert not bad, f"{name} imports {bad}"
    if name != "zoo.app":
        assert not {i for i in imports(path) if i == "zoo.app" or i.startswith("zoo.app.")}, name


@pytest.mark.parametrize(("name", "path"), modules(), ids=[m for m, _ in modules()])
def test_no_capability_is_discovered_with_getattr_outside_the_models(name, path):
    if name.startswith("zoo.models"):
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            target = ast.unparse(node.args[0])
            assert "model" not in target, (
                f"{name}: getattr({target}, ...) asks a model what the contract should declare"
            )
