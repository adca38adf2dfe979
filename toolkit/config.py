"""Configuration files, validated with pydantic: a bad file is one clear error naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolkit.errors import ConfigError
from toolkit.limits import Backend, Order, Task
from toolkit.options import EngineOptions, QualityOptions, build


def packaged(name: str) -> Path:
    """A data file shipped inside the package (``toolkit/data/``), wherever it is installed."""
    from importlib.resources import files

    return Path(str(files("toolkit").joinpath("data", name)))


def defaults_file() -> Path:
    """``$TOOLKIT_DEFAULTS`` (your own defaults file), else the packaged ``toolkit/data/defaults.yaml``."""
    import os

    own = os.environ.get("TOOLKIT_DEFAULTS")
    return Path(own) if own else packaged("defaults.yaml")


def toolkit_cache() -> Path:
    """Where the toolkit keeps what it derives (converted models, file hashes): $TOOLKIT_CACHE,
    or ~/.cache/toolkit."""
    import os

    root = os.environ.get("TOOLKIT_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "toolkit"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranslationDefaults(Strict):
    source_lang: str = "auto"
    target_lang: str = "en"
    models: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(16, ge=1)
    max_batch_tokens: int = Field(8192, ge=16)
    backend: Backend = "auto"


class SummarizationDefaults(Strict):
    lang: str = "en"
    models: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(4, ge=1)
    max_batch_tokens: int = Field(16384, ge=16)
    backend: Backend = "auto"


class PipelineDefaults(Strict):
    order: Order = "translate-first"


class Defaults(Strict):
    translation: TranslationDefaults = Field(default_factory=TranslationDefaults)
    summarization: SummarizationDefaults = Field(default_factory=SummarizationDefaults)
    pipeline: PipelineDefaults = Field(default_factory=PipelineDefaults)
    quality: QualityOptions = Field(default_factory=QualityOptions)


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, schema: type[M]) -> M:
    """Read ``path`` as YAML and validate it against ``schema``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}") from None
    try:
        return schema.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{path}: {key}: {error['msg']}{more}") from None


def load_defaults(path: Path | None = None) -> Defaults:
    """The defaults for every command; a missing file is an error (the packaged one always exists)."""
    return load_yaml_model(path or defaults_file(), Defaults)


def resolve_engine(task: Task, given: EngineOptions | None = None, defaults: Defaults | None = None) -> EngineOptions:
    """The engine options a run of ``task`` uses: the configured defaults for the task (backend,
    batch size, batch tokens; toolkit/data/defaults.yaml or $TOOLKIT_DEFAULTS), then every field
    ``given`` sets explicitly. The one place where defaults meet overrides, for the CLI, the
    server and benchmark configs alike."""
    defaults = defaults or load_defaults()
    section = defaults.translation if task == "translation" else defaults.summarization
    configured = {"backend": section.backend, "batch_size": section.batch_size,
                  "max_batch_tokens": section.max_batch_tokens}
    return build(EngineOptions, {**configured, **(given.given() if given is not None else {})})


def default_translation_model(source_lang: str, target_lang: str, defaults: Defaults | None = None) -> str:
    defaults = defaults or load_defaults()
    pair = f"{source_lang}-{target_lang}"
    if pair in defaults.translation.models:
        return defaults.translation.models[pair]
    return f"Helsinki-NLP/opus-mt-{source_lang}-{target_lang}"


def default_summarization_model(lang: str, defaults: Defaults | None = None) -> str:
    defaults = defaults or load_defaults()
    if lang not in defaults.summarization.models:
        known = ", ".join(sorted(defaults.summarization.models)) or "none"
        raise ConfigError(f"no default summariser for language '{lang}' (configured: {known}); pass --model")
    return defaults.summarization.models[lang]
