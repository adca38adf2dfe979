"""``truncated``: the engine stopped at its generation limit, so the output may be cut short."""

from __future__ import annotations

from toolkit.quality.context import Context
from toolkit.quality.types import Flag, Languages, Skipped


def truncated(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    if context.pair.hit_length_limit:
        return Flag("truncated", "generation stopped at its token limit: the output may be cut short")
    return None
