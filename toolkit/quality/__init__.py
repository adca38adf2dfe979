"""Which translations to trust: reference-free checks, model confidence and a risk per sentence.

    from toolkit.quality import Pair, assess, summarize
    pairs = [Pair("Le taux est de 7,4 %.", "The rate is 4.7%.")]
    [assessment] = assess(pairs, "fr", "en")
    assessment.risk, assessment.flags   # 'review', (Flag('numbers', 'changed: 7.4 → 4.7'),)
"""

from toolkit.quality.checks import CHECKS, assess, summarize, worst_first
from toolkit.quality.types import RISKS, Assessment, Flag, Languages, Pair, Skipped

__all__ = ["CHECKS", "RISKS", "Assessment", "Flag", "Languages", "Pair", "Skipped", "assess", "summarize",
           "worst_first"]
