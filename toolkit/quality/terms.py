"""``terms``: glossary and kept terms, protected spans and the source's names, missing from the output.

A name is a capitalised source word that the run's translations keep as it is (``Kremlin``,
``Kassym-Jomart``), learned from the run: a word kept in too few of the outputs of the sources
holding it (``Poutine`` → ``Putin``) is translated, not kept, and never flagged."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from toolkit.options import QualityOptions
from toolkit.quality.context import Context
from toolkit.quality.types import Flag, Languages, Pair, Skipped
from toolkit.text.protect import find_protected

_WORD = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*[^\W_]|(?<![\w'’-])[^\W\d_](?![\w])")


def names(text: str) -> set[str]:
    """The capitalised words of ``text`` (at least two characters, hyphenated names whole)."""
    found = set()
    for match in _WORD.finditer(text):
        word = match.group().strip("'’-")
        # l'ONU, d'Astana: the name is what follows the elided article
        word = re.split(r"['’]", word)[-1] if re.match(r"^[A-Za-z]['’]", word) else word
        if len(word) >= 2 and word[0].isupper():
            found.add(word)
    return found


def contains(text: str, term: str, ignore_case: bool = False) -> bool:
    pattern = rf"(?<![^\W_]){re.escape(term)}(?![^\W_])"
    return re.search(pattern, text, re.IGNORECASE if ignore_case else 0) is not None


def kept_names(pairs: Sequence[Pair], options: QualityOptions) -> frozenset[str]:
    """Names that the run's outputs keep verbatim often enough to be expected in every output."""
    seen: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for pair in pairs:
        for name in names(pair.source):
            seen[name] += 1
            kept[name] += contains(pair.output, name)
    return frozenset(name for name, count in seen.items()
                     if count >= options.names_min_occurrences and kept[name] / count >= options.names_kept_share)


def protected_spans(pair: Pair) -> list[str]:
    if pair.protected is not None:
        return list(pair.protected)
    return [pair.source[s.start:s.end] for s in find_protected(pair.source)]


def required(pair: Pair) -> list[tuple[str, int, int]]:
    """What the output must carry over from the source, as (shown, expected, found): each glossary
    or kept term the source uses (once), and each protected span (as often as in the source)."""
    items: list[tuple[str, int, int]] = []
    for term, target in pair.glossary.items():
        used = contains(pair.source, term) or (term[:1].islower() and contains(pair.source, term[0].upper() + term[1:]))
        if used:
            items.append((target if target == term else f"{target} (for {term})", 1,
                          int(contains(pair.output, target, ignore_case=True))))
    for span in dict.fromkeys(protected_spans(pair)):
        expected = pair.source.count(span)
        items.append((span, expected, min(expected, pair.output.count(span))))
    return items


def terms(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    missing: list[str] = []
    for shown, expected, found in required(context.pair):
        if found < expected and shown not in missing:
            missing.append(shown)
    for name in sorted(names(source) & context.run.kept_names):
        if not contains(output, name) and name not in missing:
            missing.append(name)
    if missing:
        shown = ", ".join(f"'{m}'" for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return Flag("terms", f"missing from the output: {shown}")
    return None
