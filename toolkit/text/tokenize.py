"""Words of any script: the tokenizer shared by ROUGE and the extractive summarisers.

Every Unicode letter and digit is kept (rouge-score's own tokenizer keeps only [a-z0-9], so "été"
becomes "t"), text is lower-cased and optionally stemmed: Porter for English (rouge-score's
``use_stemmer=True``), Snowball for other languages. On ASCII English the tokens are exactly
rouge-score's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

from toolkit.errors import ToolkitError

_WORD = re.compile(r"[^\W_]+")
# ISO 639-1 → NLTK Snowball stemmer names.
SNOWBALL = {
    "ar": "arabic", "da": "danish", "de": "german", "en": "english", "es": "spanish", "fi": "finnish",
    "fr": "french", "hu": "hungarian", "it": "italian", "nl": "dutch", "no": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sv": "swedish",
}


@cache
def _stemmer(lang: str) -> tuple[str, Callable[[str], str]]:
    if lang == "en":
        from nltk.stem import porter

        return "porter", porter.PorterStemmer().stem  # what rouge-score uses
    if lang not in SNOWBALL:
        raise ToolkitError(f"no stemmer for language '{lang}' (available: {', '.join(sorted(SNOWBALL))})")
    from nltk.stem.snowball import SnowballStemmer

    return f"snowball-{lang}", SnowballStemmer(SNOWBALL[lang]).stem


class UnicodeTokenizer:
    """rouge-score tokenizer interface (``tokenize(text) -> list[str]``), Unicode-aware."""

    def __init__(self, lang: str = "en", stem: bool = False) -> None:
        self.lang = lang
        self._stem: Callable[[str], str] | None
        self.stem_name, self._stem = _stemmer(lang) if stem else ("none", None)

    def tokenize(self, text: str) -> list[str]:
        tokens = _WORD.findall(unicodedata.normalize("NFC", text).lower())
        if self._stem is not None:
            # rouge-score stems only tokens longer than 3 characters; so do we.
            tokens = [self._stem(t) if len(t) > 3 else t for t in tokens]
        return tokens
