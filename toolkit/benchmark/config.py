"""Benchmark configs (configs/benchmarks/*.yaml), validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from toolkit.config import Strict, load_yaml_model
from toolkit.errors import ConfigError
from toolkit.limits import Backend, Device, Order
from toolkit.options import GenerationOptions

Task = Literal["translation", "summarization", "pipeline"]


class Dataset(Strict):
    """Documents to run on, and the references to score against.

    ``sources``: files, folders or JSONL (``id``, ``text``), read like `toolkit translate` inputs.
    ``references``: a JSONL as in evaluation/ for translation (``doc_id``, ``segment``,
    ``reference(s)``), and per summary language one for summaries (``doc_id``, ``reference(s)``).
    """

    sources: list[str]
    source_lang: str = "fr"
    target_lang: str = "en"
    references: References = Field(default_factory=lambda: References())


class References(Strict):
    translation: str | None = None
    summarization: dict[str, str] = Field(default_factory=dict)  # summary language → references


class System(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][\w.+-]*$")
    task: Task
    model: str | None = None  # translation / summarization
    translator: str | None = None  # pipeline
    summarizer: str | None = None  # pipeline
    order: Order = "translate-first"
    backend: Backend = "auto"
    quantization: str | None = None
    device: Device = "cpu"
    threads: int = Field(0, ge=0)
    batch_size: int = Field(16, ge=1)
    generation: GenerationOptions = Field(default_factory=GenerationOptions)

    @model_validator(mode="after")
    def _models_for_task(self) -> System:
        if self.task == "pipeline":
            if not self.translator or not self.summarizer:
                raise ValueError("a pipeline system needs 'translator' and 'summarizer'")
        elif not self.model:
            raise ValueError(f"a {self.task} system needs 'model'")
        return self

    def summary_lang(self, dataset: Dataset) -> str:
        """Summaries of a summarization system are in the source language; a pipeline's in the target."""
        return dataset.source_lang if self.task == "summarization" else dataset.target_lang

    @property
    def produces(self) -> list[str]:
        """The outputs this system is scored on."""
        if self.task == "pipeline":
            return ["translation", "summarization"] if self.order == "translate-first" else ["summarization"]
        return [self.task]


class Neural(Strict):
    """Models and device of the neural metrics (``bertscore``, ``comet`` in ``metrics``); None: the
    defaults of `toolkit evaluate` (e.g. Unbabel/wmt22-comet-da), from the local cache."""

    comet_model: str | None = None
    bertscore_model: str | None = None
    bertscore_layers: int | None = Field(None, ge=1)
    device: Device = "auto"

    def options(self) -> Any:
        from toolkit.evaluation.neural import NeuralOptions

        return NeuralOptions(self.comet_model, self.bertscore_model, self.bertscore_layers, self.device)


class Benchmark(Strict):
    name: str
    description: str = ""
    datasets: dict[str, Dataset]
    systems: list[System]
    metrics: dict[str, list[str]] = Field(
        default_factory=lambda: {"translation": ["bleu", "chrf", "ter"], "summarization": ["rouge"]})
    baseline: dict[str, str] = Field(default_factory=dict)
    neural: Neural = Field(default_factory=Neural)

    @field_validator("metrics", "baseline")
    @classmethod
    def _tasks(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - {"translation", "summarization"}
        if unknown:
            raise ValueError(f"keys must be translation or summarization, not {', '.join(sorted(unknown))}")
        return value
    repeats: int = Field(1, ge=1)
    warmup: int = Field(1, ge=0)
    bootstrap: int = Field(1000, ge=1)
    seed: int = 12345

    @model_validator(mode="after")
    def _consistent(self) -> Benchmark:
        names = [s.name for s in self.systems]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"system names must be unique: {', '.join(duplicates)}")
        for task, name in self.baseline.items():
            system = next((s for s in self.systems if s.name == name), None)
            if system is None:
                raise ValueError(f"baseline.{task}: no system named '{name}'")
            if task not in system.produces:
                raise ValueError(f"baseline.{task}: system '{name}' produces no {task}")
        return self


def config_path(config: Path, value: str) -> Path | None:
    """A path named in a config, found from the config's own folder, then from each folder above
    it (the shipped configs/benchmarks/*.yaml name `seeds` and `evaluation/...` of the project
    root); never from the current folder, so a run gives the same result wherever it starts.
    None when it exists nowhere."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path if path.exists() else None
    for folder in [config.resolve().parent, *config.resolve().parent.parents]:
        if (folder / path).exists():
            return folder / path
    return None


def load_benchmark(path: Path) -> Benchmark:
    """Read and validate a benchmark config. Its relative paths (sources, references, local model
    folders) are resolved from the config file's folder upwards (config_path) and must exist."""
    config = load_yaml_model(path, Benchmark)
    for name, dataset in config.datasets.items():
        for i, source in enumerate(dataset.sources):
            found = config_path(path, source)
            if found is None:
                raise ConfigError(f"{path}: datasets.{name}.sources.{i}: no such file or directory: {source}")
            dataset.sources[i] = str(found)
        references = dataset.references
        if references.translation is not None:
            references.translation = _reference(path, f"datasets.{name}.references.translation",
                                                references.translation)
        for lang, reference in references.summarization.items():
            references.summarization[lang] = _reference(path, f"datasets.{name}.references.summarization.{lang}",
                                                        reference)
    for system in config.systems:
        for role in ("model", "translator", "summarizer"):
            reference = getattr(system, role)
            found = config_path(path, reference) if reference else None
            if found is not None and found.is_dir():  # a local model folder; anything else is a hub id or lead-N
                setattr(system, role, str(found))
    return config


def _reference(config: Path, key: str, reference: str) -> str:
    found = config_path(config, reference)
    if found is None or not found.is_file():
        raise ConfigError(f"{config}: {key}: no such file: {reference}")
    return str(found)


Dataset.model_rebuild()
