"""``repetition``: a decoding loop (the same words again and again) or an output far too long."""

from __future__ import annotations

import re

from toolkit.quality.context import Context
from toolkit.quality.types import Flag, Languages, Skipped

LONGEST_LOOP = 6  # words in the longest repeated n-gram looked for


def longest_loop(text: str) -> tuple[int, int, str]:
    """(repeats, words covered, the repeated words) of the longest run of one n-gram repeated
    back to back in ``text``; (1, 0, "") when nothing repeats."""
    words = re.findall(r"\w+", text.casefold())
    best = (1, 0, "")
    for n in range(1, LONGEST_LOOP + 1):
        i = 0
        while i + 2 * n <= len(words):
            gram = words[i:i + n]
            repeats = 1
            while words[i + repeats * n:i + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats > 1 and repeats * n > best[1]:
                best = (repeats, repeats * n, " ".join(gram))
            i += max(1, (repeats - 1) * n) if repeats > 1 else 1
    return best


def repetition(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    options = context.options
    repeats, covered, gram = longest_loop(output)
    if repeats >= options.loop_repeats and covered >= options.loop_min_tokens:
        source_repeats, _, _ = longest_loop(source)
        if source_repeats < options.loop_repeats:  # "ha ha ha" translated as "ha ha ha" is faithful
            shown = gram if len(gram) <= 40 else gram[:39] + "…"
            return Flag("repetition", f"'{shown}' repeated {repeats} times in a row")
    if len(source.strip()) and len(output) > options.max_length_ratio * len(source) and len(output) - len(source) > 20:
        return Flag("repetition", f"the output is {len(output) / len(source):.1f}× as long as its source")
    return None
