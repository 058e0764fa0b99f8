"""The options of ``conf/compare.yaml``, checked before anything is read or written."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from zoo.build import LoggerConfig, split_group
from zoo.data import check_data_options
from zoo.options import Options, Seed, check


class MetricOptions(Options):
    """``metrics.*`` of ``conf/compare.yaml``."""

    feature_spaces: list[Literal["zoo", "inception"]] = Field(
        default_factory=lambda: ["zoo", "inception"], min_length=1
    )
    inception_weights: str | None = None
    inception_samples: Literal["auto"] | Annotated[int, Field(ge=2, le=1_000_000)] = "auto"
    inception_download: bool = True
    cache_dir: str = "runs/compare/cache"
    feature_net_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 800
    kid_subsets: Annotated[int, Field(ge=1, le=10_000)] = 100
    kid_subset_size: Annotated[int, Field(ge=2, le=100_000)] = 1000
    swd_patches_per_image: Annotated[int, Field(ge=1, le=1024)] = 16
    critic_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 300
    critic_batch_size: Annotated[int, Field(ge=2, le=65536)] = 64
    pr_k: Annotated[int, Field(ge=1, le=100)] = 3
    morph_frames: Annotated[int, Field(ge=2, le=1000)] = 8


class CompareOptions(Options):
    """The top level of ``conf/compare.yaml`` (``data`` and ``logger`` are checked by their own schemas)."""

    runs_dir: Annotated[str, Field(min_length=1)] = "runs"
    runs: list[str] | None = None
    task: Literal["generate", "colourise"] = "generate"
    colourings: Annotated[int, Field(ge=1, le=1000)] = 8  # per grey test image, with task=colourise
    colour_temperature: Annotated[float, Field(ge=0.0, le=10.0)] | None = None  # None: each model's own
    tuning_temperatures: list[Annotated[float, Field(ge=0.0, le=10.0)]] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    )  # a second row per sampling colouriser, at the best of these on training images; []: none
    tuning_images: Annotated[int, Field(ge=1, le=100_000)] = 256
    # auto: 10,000 on CUDA, CPU_SAMPLES on a CPU (zoo/compare/reference.py), resolved by for_device
    n_samples: Literal["auto"] | Annotated[int, Field(ge=2, le=1_000_000)] = "auto"
    seed: Seed = 0
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 500
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")] = "auto"
    out: str | None = None
    progress: bool | None = None
    invert_gan: bool = False  # reconstructions for decoders without an encoder, by optimising z
    invert_images: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    invert_steps: Annotated[int, Field(ge=1, le=100_000)] = 200
    # reconstructions and likelihood of a model that samples in several network evaluations
    iterative_test_images: Annotated[int, Field(ge=1, le=1_000_000)] | None = 250
    # network evaluations per sample that an iterative sampler may spend on compare's samples
    # (auto: no limit on CUDA, CPU_SAMPLE_EVALUATIONS on a CPU; None: no limit)
    max_sample_evaluations: Literal["auto"] | Annotated[int, Field(ge=1, le=100_000)] | None = "auto"
    metrics: MetricOptions = Field(default_factory=MetricOptions)
    data: dict[str, Any] = Field(default_factory=dict)
    logger: dict[str, Any] = Field(default_factory=dict)

    @field_validator("runs", mode="before")
    @classmethod
    def _one_run_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def check_compare_config(config: dict[str, Any]) -> tuple[CompareOptions, LoggerConfig]:
    """Every option of a ``compare.py`` configuration, checked before anything is read or written."""
    options = check(CompareOptions, config, "")
    logger = check(LoggerConfig, options.logger, "logger.")
    source, data_options = split_group(options.data, "source", "data.")
    check_data_options(source, **data_options)
    return options, logger
