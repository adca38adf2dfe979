"""A sentence's risk — ok, review or likely-wrong — from its flags and its model confidence."""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.options import QualityOptions
from toolkit.quality.types import RISKS, Flag


def risk(flags: Sequence[Flag], confidence: float | None, options: QualityOptions) -> str:
    """likely-wrong: a flag of ``likely_wrong_flags``, ``flags_for_likely_wrong`` different flags,
    or a confidence below ``confidence_likely_wrong``; review: any flag, or a confidence below
    ``confidence_review``; ok otherwise. An unknown confidence adds nothing."""
    names = {flag.name for flag in flags}
    level = 0
    if names:
        level = 1
    if names & set(options.likely_wrong_flags) or len(names) >= options.flags_for_likely_wrong:
        level = 2
    if confidence is not None:
        if confidence < options.confidence_likely_wrong:
            level = 2
        elif confidence < options.confidence_review:
            level = max(level, 1)
    return RISKS[level]
