"""Numbers, percentages, amounts, dates and times, read the way each language writes them.

``mentions(text, lang)`` gives each numeric mention as the set of values it may stand for, so
that French ``7,4 %``, ``1 234,5`` (space, U+00A0 or U+202F between thousands), ``8,3 millions``,
``14h30`` and ``3 mars 2024`` meet English ``7.4%``, ``1,234.5``, ``8.3 million``, ``2:30 p.m.``
and ``March 3, 2024``. A mention is a value, a time (``t14:30``) or a month (``m3``); a date is
its day, month and year. Signs and units are not compared (``-5`` and ``5 °C`` are ``5``).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from decimal import Decimal, InvalidOperation

from toolkit.quality.context import Context
from toolkit.quality.language import written_in
from toolkit.quality.types import Flag, Languages, Skipped

# Languages writing a decimal comma (and grouping thousands with spaces or dots).
DECIMAL_COMMA = {"fr", "de", "es", "it", "pt", "nl", "ru", "pl", "cs", "sk", "sv", "da", "no", "nb", "fi", "ro",
                 "tr", "uk", "hu", "el", "bg", "hr", "sl", "sr", "lt", "lv", "et", "id", "ca", "gl", "eu"}
SPACES = " \u00a0\u202f\u2009"

MONTHS = {
    "en": ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "de": ["januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
           "november", "dezember"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
}
SCALES = {"thousand": 3, "thousands": 3, "million": 6, "millions": 6, "billion": 9, "billions": 9,
          "trillion": 12, "mille": 3, "milliers": 3, "milliard": 9, "milliards": 9, "millón": 6, "millones": 6,
          "millionen": 6, "milliarde": 9, "milliarden": 9, "bn": 9}
WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
           "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"],
    "fr": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
           "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf", "vingt"],
}

_NUMBER_COMMA = re.compile(  # 1 234,5 · 1.234.567 · 7,4 · 2022
    rf"(?<![\w.,])(\d{{1,3}}(?:[{SPACES}]\d{{3}})+(?![\d])(?:,\d+)?|\d{{1,3}}(?:\.\d{{3}})+(?![\d.])(?:,\d+)?"
    r"|\d+(?:[,.]\d+)?)")
_NUMBER_POINT = re.compile(  # 1,234.5 · 7.4 · 2022
    rf"(?<![\w.,])(\d{{1,3}}(?:,\d{{3}})+(?![\d,])(?:\.\d+)?|\d{{1,3}}(?:[{SPACES}]\d{{3}})+(?![\d])(?:\.\d+)?"
    r"|\d+(?:\.\d+)?)")
_TIME = re.compile(r"(?<![\d:.,])(\d{1,2})(?:\s?[hH]\s?(\d{2})?(?![\w])|:(\d{2})(?!\d)(?:\s?([ap])\.?\s?m\b\.?)?"
                   r"|\s?([ap])\.?\s?m\b\.?)", re.IGNORECASE)


def _value(text: str, comma_decimal: bool) -> Decimal | None:
    digits = "".join(ch for ch in text if ch not in SPACES)
    if comma_decimal:
        # 1.234 is one thousand two hundred and thirty-four; 2.5 (a stray point) is two and a half.
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", digits):
            digits = digits.replace(".", "")
        digits = digits.replace(",", ".")
    else:
        digits = digits.replace(",", "")
    try:
        return Decimal(digits).normalize()
    except InvalidOperation:
        return None


def _key(value: Decimal) -> str:
    shown = format(value.normalize(), "f")
    return shown.rstrip("0").rstrip(".") if "." in shown else shown


def mentions(text: str, lang: str) -> list[frozenset[str]]:
    """Each numeric mention of ``text`` as the values it may stand for, in order."""
    found: list[tuple[int, frozenset[str]]] = []
    used: list[tuple[int, int]] = []
    for match in _TIME.finditer(text):
        hour = int(match.group(1))
        minute = int(match.group(2) or match.group(3) or 0)
        meridian = (match.group(4) or match.group(5) or "").lower()
        if meridian == "p" and hour < 12:
            hour += 12
        elif meridian == "a" and hour == 12:
            hour = 0
        if hour > 24 or minute > 59:
            continue
        found.append((match.start(), frozenset({f"t{hour:02d}:{minute:02d}"})))
        used.append(match.span())
    pattern = _NUMBER_COMMA if lang in DECIMAL_COMMA else _NUMBER_POINT
    for match in pattern.finditer(text):
        if any(a <= match.start() < b for a, b in used):
            continue
        value = _value(match.group(1), lang in DECIMAL_COMMA)
        if value is None:
            continue
        keys = {_key(value)}
        after = text[match.end():match.end() + 14].lstrip(SPACES)
        word = re.match(r"[^\W\d_]+", after)
        if word:
            name = word.group().lower()
            if name in SCALES:
                keys.add(_key(value.scaleb(SCALES[name])))
        found.append((match.start(), frozenset(keys)))
    months = _months(lang)
    if months is not None:
        for match in months.finditer(text):
            found.append((match.start(), frozenset({f"m{MONTHS[lang].index(match.group().lower()) + 1}"})))
    found.sort(key=lambda item: item[0])
    return [keys for _, keys in found]


@functools.cache
def _months(lang: str) -> re.Pattern[str] | None:
    """One pattern for a language's month names. English months are capitalised ("may" is a
    verb); other languages' are not."""
    names = MONTHS.get(lang)
    if not names:
        return None
    if lang == "en":
        return re.compile(rf"(?<!\w)(?:{'|'.join(n.capitalize() for n in names)})(?!\w)")
    return re.compile(rf"(?<!\w)(?:{'|'.join(names)})(?!\w)", re.IGNORECASE)


@functools.cache
def _number_words(lang: str) -> re.Pattern[str] | None:
    words = WORDS.get(lang)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def number_words(text: str, lang: str) -> Counter[str]:
    """Small numbers written as words (``two``, ``deux``): a translation may spell out a digit."""
    pattern = _number_words(lang)
    counts: Counter[str] = Counter()
    if pattern is not None:
        for match in pattern.finditer(text):
            counts[str(WORDS[lang].index(match.group().lower()))] += 1
    return counts


def missing(source: str, output: str, source_lang: str, target_lang: str) -> tuple[list[str], list[str]]:
    """(source mentions not found in the output, output mentions left unmatched), as shown text."""
    wanted = mentions(source, source_lang)
    offered = mentions(output, target_lang)
    spelled = number_words(output, target_lang) + number_words(output, source_lang)
    spelled_in_source = number_words(source, source_lang)
    left: list[frozenset[str]] = []
    for keys in wanted:
        match = next((i for i, other in enumerate(offered) if keys & other), None)
        if match is not None:
            offered.pop(match)
            continue
        word = next((k for k in keys if spelled.get(k, 0) > 0), None)
        if word is not None:
            spelled[word] -= 1
            continue
        left.append(keys)
    # An output digit for a number the source spells out (« deux » → 2) is not a changed number.
    extra = []
    for keys in offered:
        word = next((k for k in keys if spelled_in_source.get(k, 0) > 0), None)
        if word is not None:
            spelled_in_source[word] -= 1
        else:
            extra.append(keys)
    return [_show(k) for k in left], [_show(k) for k in extra]


def _show(keys: frozenset[str]) -> str:
    key = min(keys, key=len)
    if key.startswith("t"):
        return key[1:]
    if key.startswith("m") and key[1:].isdigit():
        return MONTHS["en"][int(key[1:]) - 1].capitalize()
    return key


def compared(source: str, output: str, langs: Languages, context: Context) -> tuple[list[str], list[str]]:
    """``missing`` with each side read in the language it is written in: the output in the target
    language, unless it does not match so and is written in the source language (left
    untranslated: ``7,4`` copied is 7.4, not 7 and 4)."""
    lost, added = missing(source, output, langs.source, langs.target)
    if lost or added:
        lang = written_in(source, output, langs, context)
        if lang != langs.target:
            lost, added = missing(source, output, langs.source, lang)
    return lost, added


def carried(source: str, output: str, langs: Languages, context: Context) -> tuple[int, int]:
    """(source mentions found in the output, source mentions): what the ``numbers`` metric counts."""
    wanted = len(mentions(source, langs.source))
    if not wanted:
        return 0, 0
    lost, _ = compared(source, output, langs, context)
    return wanted - len(lost), wanted


def numbers(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    """Source numbers missing or changed in the output, or output numbers the source lacks. Each
    side is read with the conventions of the language it is written in (``compared``)."""
    lost, added = compared(source, output, langs, context)
    if lost and added:
        return Flag("numbers", f"changed: {', '.join(lost)} → {', '.join(added)}")
    if lost:
        return Flag("numbers", f"missing from the output: {', '.join(lost)}")
    if added:
        return Flag("numbers", f"not in the source: {', '.join(added)}")
    return None
