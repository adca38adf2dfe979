"""``untranslated`` and ``wrong-language``: is the output in the target language at all?"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from toolkit.quality.context import Context
from toolkit.quality.types import Flag, Languages, Skipped
from toolkit.text.detect import identify
from toolkit.text.languages import ISO_639_1


def letters(text: str) -> int:
    return sum(map(str.isalpha, text))


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def similarity(source: str, output: str, at_least: float = 0.5) -> float:
    """0–1: how much of the two texts' words and letters they share (1: the same text); 0 when
    it is certainly below ``at_least`` (the cheap upper bounds say so, sparing the quadratic match)."""
    a, b = _plain(source), _plain(output)
    if not a or not b:
        return 0.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    floor = max(0.5, at_least)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def _plain_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def identical(source: str, output: str) -> bool:
    """The same text once case, whitespace and punctuation are set aside."""
    words = _plain_words(source)
    return bool(words) and words == _plain_words(output)


_NEUTRAL_TOKEN = re.compile(r"[\W_]*(?:\d[\w.,:/'’-]*|[^\W\d_]*\d[\w.,:/-]*|[^\W\d_]{0,1}|[A-Z0-9][A-Z0-9&.-]+)[\W_]*")


def language_neutral(text: str, kept_names: frozenset[str] = frozenset()) -> bool:
    """Text that reads the same in every language, so a copy of it is a faithful translation:
    only numbers, codes and acronyms (``A320``, ``COVID-19``, ``ONU``), protected spans (URLs,
    e-mails, paths), or names — two or more words that all start with a capital (``Emmanuel
    Macron``), or one word the run's outputs keep as a name. One capitalised word alone
    (``Merci.``) is not a name: a sentence starts with a capital."""
    from toolkit.text.protect import find_protected

    rest = text
    for span in sorted(find_protected(text), key=lambda s: s.start, reverse=True):
        rest = rest[:span.start] + " " + rest[span.end:]
    tokens = rest.split()
    words = [t for t in tokens if not _NEUTRAL_TOKEN.fullmatch(t)]
    if not words:
        return True
    names = [re.sub(r"^[\W_]+|[\W_]+$", "", w) for w in words]
    if len(names) >= 2 and all(n[:1].isupper() for n in names):
        return True
    return len(names) == 1 and names[0] in kept_names


def written_in(source: str, output: str, langs: Languages, context: Context) -> str:
    """The language the output is written in, as far as the pair shows: the source language when
    the output is its source's copy or is identified as the source language, else the target."""
    options = context.options
    if langs.source == langs.target:
        return langs.target
    if identical(source, output) or similarity(source, output, options.copy_similarity) >= options.copy_similarity:
        return langs.source
    if letters(output) >= options.min_letters:
        known = frozenset(lang for lang in (langs.source, langs.target) if lang in ISO_639_1)
        if len(known) == 2:
            lang, probability = identify(output, known)
            if lang == langs.source and probability >= options.language_confidence:
                return langs.source
    return langs.target


def untranslated(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    """The output is its source (after case, whitespace and punctuation; any length, unless the
    text is language-neutral: numbers, codes, URLs, names), almost its source, or is identified
    as the source language."""
    options = context.options
    if langs.source == langs.target:
        return None
    if identical(source, output):
        if language_neutral(source, context.run.kept_names):
            return None
        return Flag("untranslated", "the output is its source, unchanged")
    if len(re.findall(r"\w+", source)) >= options.copy_min_words:
        score = similarity(source, output, options.copy_similarity)
        if score >= options.copy_similarity:
            return Flag("untranslated", f"the output is {score:.0%} the same as its source")
    if letters(output) < options.min_letters:
        return None  # too short to identify; a copy of a long source was caught above
    known = frozenset(lang for lang in (langs.source, langs.target) if lang in ISO_639_1)
    if len(known) < 2:
        return None
    lang, probability = identify(output, known)
    if lang == langs.source and probability >= options.language_confidence:
        return Flag("untranslated", f"the output reads as {langs.source} (identifier {probability:.2f}), not "
                                    f"{langs.target}")
    return None


def wrong_language(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    """The output is identified as a third language (neither the target nor the source, which
    ``untranslated`` reports)."""
    options = context.options
    if letters(output) < options.min_letters:
        return Skipped("wrong-language", f"under {options.min_letters} letters: too short to identify reliably")
    lang, probability = identify(output)
    if lang not in (langs.target, langs.source) and probability >= options.language_confidence:
        return Flag("wrong-language", f"the output reads as {lang} (identifier {probability:.2f}), not "
                                      f"{langs.target}")
    return None
