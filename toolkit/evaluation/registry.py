"""One registry from metric names to the classes that build them.

    build_metrics(["bleu", "chrf", "rouge"], MetricContext(lang="en"))

Every entry is a factory ``(name, context) -> Metric``; a group name (``rouge``) stands for several
metrics. Adding a metric is one class that satisfies toolkit.evaluation.base.Metric and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from toolkit.errors import ToolkitError
from toolkit.evaluation.base import Metric
from toolkit.evaluation.metrics import RougeMetric, SacreMetric
from toolkit.evaluation.options import NeuralOptions
from toolkit.evaluation.rouge import VARIANTS

TRANSLATION_METRICS = ("bleu", "chrf", "ter")
SUMMARIZATION_METRICS = ("rouge",)


@dataclass(frozen=True)
class MetricContext:
    """What a metric may need besides its name: the language of the texts, ROUGE's conventions,
    the neural metrics' models and device, the segments' source texts (COMET, numbers and terms
    read them), the sources' language (None: identified from them) and the glossary and kept
    terms (terms)."""

    lang: str = "en"
    stem: str | bool = "auto"
    lsum_split: str = "newline"
    neural: NeuralOptions = field(default_factory=NeuralOptions)
    sources: Sequence[str] | None = None
    source_lang: str | None = None
    glossary: Mapping[str, str] | None = None


def _sacre(name: str, context: MetricContext) -> Metric:
    return SacreMetric(name, context.lang)


def _rouge(name: str, context: MetricContext) -> Metric:
    return RougeMetric(name, context.lang, context.stem, context.lsum_split)


def _bertscore(name: str, context: MetricContext) -> Metric:
    from toolkit.evaluation.neural import BertScoreMetric  # torch-backed: only when asked for

    return BertScoreMetric(context.lang, context.neural)


def _comet(name: str, context: MetricContext) -> Metric:
    from toolkit.evaluation.neural import CometMetric

    return CometMetric(context.neural, context.sources)


def _numbers(name: str, context: MetricContext) -> Metric:
    from toolkit.evaluation.accuracy import NumbersMetric

    return NumbersMetric(context.sources, context.source_lang, context.lang)


def _terms(name: str, context: MetricContext) -> Metric:
    from toolkit.evaluation.accuracy import TermsMetric

    return TermsMetric(context.sources, context.glossary)


REGISTRY: dict[str, Callable[[str, MetricContext], Metric]] = {
    "bleu": _sacre, "chrf": _sacre, "ter": _sacre,
    **{variant: _rouge for variant in VARIANTS},
    "bertscore": _bertscore, "comet": _comet,
    "numbers": _numbers, "terms": _terms,
}
GROUPS = {"rouge": VARIANTS}
KNOWN = ("bleu", "chrf", "ter", "rouge", *VARIANTS, "comet", "bertscore", "numbers", "terms")


def default_metrics(task: str) -> list[str]:
    return list(TRANSLATION_METRICS if task == "translation" else SUMMARIZATION_METRICS)


def metric_names(names: Sequence[str] | str) -> list[str]:
    """Registry names for user-given ones (a list, or one comma-separated string): case-insensitive,
    groups expanded, each metric once; an unknown or repeated name is an error. The ROUGE variants
    come last, as they always have in reports."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    lookup = {name.lower(): name for name in REGISTRY}
    chosen: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        lowered = name.lower()
        if lowered in seen:
            raise ToolkitError(f"metric '{name}' is given twice")
        seen.add(lowered)
        if lowered in GROUPS:
            chosen.extend(GROUPS[lowered])
        elif lowered in lookup:
            chosen.append(lookup[lowered])
        else:
            raise ToolkitError(f"unknown metric '{name}' (known: {', '.join(KNOWN)})")
    if not chosen:
        raise ToolkitError("no metrics given")
    rouge = [name for name in chosen if name in VARIANTS]
    return list(dict.fromkeys([name for name in chosen if name not in VARIANTS] + rouge))


def build_metrics(names: Sequence[str] | str, context: MetricContext | None = None) -> list[Metric]:
    """Metric objects for names such as ``bleu,chrf,ter,rouge`` (``rouge`` = its four variants),
    ``bertscore`` (optional extra ``toolkit[neural]``), ``comet`` and the reference-free
    ``numbers`` and ``terms`` (toolkit.evaluation.accuracy), in the order given."""
    context = context or MetricContext()
    return [REGISTRY[name](name, context) for name in metric_names(names)]
