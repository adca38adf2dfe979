"""The settings of an evaluation, as small typed objects the CLI, the Python API and benchmark
configs fill in alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from toolkit.errors import ToolkitError

TASKS = ("translation", "summarization")


@dataclass
class NeuralOptions:
    """Model choices of the neural metrics (None: the documented default)."""

    comet_model: str | None = None
    bertscore_model: str | None = None
    bertscore_layers: int | None = None
    device: str = "auto"
    batch_size: int = 32
    comet_batch_size: int = 16  # unbabel-comet's default (comet-score --batch_size)


@dataclass(frozen=True)
class EvaluationOptions:
    """How an evaluation scores, resamples and where it spreads its work.

    ``task`` and ``lang`` None: from the inputs (a run's manifest) where they say, else translation
    and en. ``stem`` (auto|yes|no) and ``lsum_split`` (newline|sentences) are ROUGE's conventions
    (toolkit.evaluation.rouge); ``neural`` picks the models and device of ``bertscore``/``comet``.
    ``jobs`` processes extract the statistics of inputs of more than one slice (0: one per CPU, at
    most 8; the CLI's default); workers are spawned, so a script using ``jobs != 1`` needs the usual
    ``if __name__ == "__main__":`` guard. ``src_lang`` is the sources' language for ``numbers``
    (None: identified from the sources); ``glossary`` the source → target terms (a kept term maps
    to itself) that ``terms`` looks for.
    """

    task: str | None = None
    lang: str | None = None
    stem: str | bool = "auto"
    lsum_split: str = "newline"
    bootstrap: int = 1000
    seed: int = 12345
    jobs: int = 1
    neural: NeuralOptions = field(default_factory=NeuralOptions)
    src_lang: str | None = None
    glossary: Mapping[str, str] | None = None

    def check(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise ToolkitError(f"unknown task '{self.task}' (expected translation or summarization)")
        if self.bootstrap < 1:
            raise ToolkitError("--bootstrap must be a positive integer")
        if self.jobs < 0:
            raise ToolkitError("--jobs must be 0 (one per CPU) or a positive number")
