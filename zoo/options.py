"""Every option checked at start, by pydantic, before a folder is made or a step is trained.

Each group of options has one schema: a pydantic model (the trainer, evaluation, compare and
morph options) or the typed signature of the function that takes them (a data source, a model's
``__init__``). The types below carry the valid ranges, so a signature such as
``latent_dim: Size = 128`` says what is accepted. ``check`` turns pydantic's report into one
line that names the option, the value given and what it should be, raised as a ``ZooError``
(exit code 2 at the command line).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from zoo.errors import ZooError

# -- the vocabulary of ranges ------------------------------------------------------------------------
Count = Annotated[int, Field(ge=1)]  # steps, images, every-N cadences
Size = Annotated[int, Field(ge=1, le=8192)]  # widths, latent sizes: larger would exhaust memory first
Layers = Annotated[int, Field(ge=1, le=64)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]
ImageSize = Annotated[int, Field(ge=4, le=1024)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]  # strictly between 0 and 1 (a test split)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Decay = Annotated[float, Field(ge=0.0, lt=1.0)]  # moving-average decays
LearningRate = Annotated[float, Field(gt=0.0, le=10.0)]
Weight = Annotated[float, Field(ge=0.0, le=1e6)]  # loss weights; 0 switches a term off
PositiveFloat = Annotated[float, Field(gt=0.0, le=1e6)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")]  # becomes part of folder names
AdamBetas = tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]]


MISSING = "???"


class Options(BaseModel):
    """Base of the option schemas: unknown keys are refused, values are typed and range-checked."""

    model_config = ConfigDict(extra="forbid")


S = TypeVar("S", bound=BaseModel)


def check(schema: type[S], values: dict[str, Any], prefix: str) -> S:
    """``values`` as a validated ``schema``, or one ``ZooError`` line naming the first bad option."""
    values = {k: v for k, v in values.items() if v != MISSING}  # OmegaConf's mark for "must be set"
    try:
        return schema.model_validate(values)
    except ValidationError as e:
        raise ZooError(describe(e, values, prefix, schema)) from None


def describe(error: ValidationError, values: dict[str, Any], prefix: str, schema: type[BaseModel]) -> str:
    """One line for the first option pydantic refused (every complaint about it, joined)."""
    problems = error.errors()
    field = str(problems[0]["loc"][0]) if problems[0]["loc"] else ""
    name = f"{prefix}{field}"
    if problems[0]["type"] == "extra_forbidden":
        known = ", ".join(sorted(schema.model_fields))
        return f"unknown option {name}; the options of {prefix.rstrip('.') or 'this command'} are {known}"
    if problems[0]["type"] == "missing" and len(problems[0]["loc"]) == 1:
        return f"{name} is required and has no default; set it, e.g. {name}=<value>"
    said = []
    for p in problems:
        if p["loc"] and str(p["loc"][0]) == field:
            where = "".join(f"[{part}]" for part in p["loc"][1:] if isinstance(part, int))
            text = p["msg"]
            if p["type"] == "missing":  # an item of a fixed-length list: the list is too short
                index = next((part for part in reversed(p["loc"]) if isinstance(part, int)), None)
                got = len(p["input"]) if isinstance(p["input"], list | tuple) else "fewer"
                text = f"Input should have {'more' if index is None else index + 1} items, not {got}"
                where = ""
            text = (
                text.replace("Input should", "should")
                if text.startswith("Input should")
                else f"should satisfy: {text[0].lower()}{text[1:]}"
            )
            message = text + (f" (item {where})" if where else "")
            if message not in said:
                said.append(message)
    spec = schema.model_fields.get(field)
    if spec is not None and not spec.is_required() and spec.default is None:
        said.append("null (the default)")
    value = values.get(field, "")
    return f"{name}={value!r} is not valid: it {' or '.join(said)}".replace("\n", " ")


@cache
def signature_schema(fn: Callable[..., Any], skip: frozenset[str]) -> type[BaseModel]:
    """A pydantic model of ``fn``'s keyword parameters (their annotations and defaults), less ``skip``."""
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name in skip or p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        fields[p.name] = (hints.get(p.name, Any), ... if p.default is p.empty else p.default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{fn.__qualname__}.options", __config__=config, **fields)


def checked_options(fn: Callable[..., Any], options: dict[str, Any], prefix: str, fixed: tuple[str, ...] = ()) -> dict:
    """``options`` validated against ``fn``'s signature (the parameters in ``fixed`` are the
    caller's, not the user's): the given keys, with their values typed."""
    validated = check(signature_schema(fn, frozenset(fixed)), options, prefix)
    return {k: getattr(validated, k) for k in options if k in validated.model_fields_set}
