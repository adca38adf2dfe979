"""The translation checks (toolkit/quality/): hand-written and generated pairs.

Each check has a test that goes through ``assess`` and fails if the check is removed from
``CHECKS``; the numbers check is tested on generated numbers in both locales."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.options import QualityOptions
from toolkit.quality import CHECKS, Pair, assess, summarize
from toolkit.quality.numbers import MONTHS, mentions, missing

REFERENCES = Path(__file__).resolve().parent.parent / "evaluation" / "references" / "translations.fr-en.jsonl"


def flags(source: str, output: str, **pair) -> dict[str, str]:
    [assessment] = assess([Pair(source, output, **pair)], "fr", "en")
    return {f.name: f.reason for f in assessment.flags}


def reference_pairs() -> list[Pair]:
    records = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    return [Pair(r["source"], r["reference"], r["doc_id"], r["segment"]) for r in records]


# -- one test per check, each failing without it -------------------------------------------------

def test_untranslated_catches_a_copy_and_a_source_language_output() -> None:
    source = "Le gouvernement a présenté mercredi un nouveau projet de loi sur le logement."
    assert "untranslated" in flags(source, source)
    assert "untranslated" in flags(source, "Le gouvernement a présenté un projet de loi sur les logements sociaux.")
    assert "untranslated" not in flags(source, "The government presented a new housing bill on Wednesday.")
    assert "untranslated" not in flags("Agence France-Presse", "Agence France-Presse")  # names are kept


def test_a_short_copy_is_untranslated_unless_it_is_language_neutral() -> None:
    # #26 tester: short identical sentences passed (the similarity rule starts at 4 words).
    for short in ("Merci.", "Oui, bien sûr.", "« Non ! »", "Il y a.", "A320 et B737"):
        assert "untranslated" in flags(short, short), short
        assert "untranslated" in flags(short, "  " + short.upper().replace(".", "") + " "), short  # case, spaces, punctuation
    for neutral in ("2024", "7,4 %", "14h30", "ONU", "COVID-19", "https://example.org/a", "Emmanuel Macron",
                    "Kassym-Jomart Tokaïev", "contact@example.org"):
        assert "untranslated" not in flags(neutral, neutral), neutral
    [kept, name] = assess([Pair("Astana.", "Astana."), Pair("Le sommet d'Astana s'ouvre.", "The Astana summit opens.")],
                          "fr", "en")
    assert "untranslated" not in [f.name for f in kept.flags]  # a name the run keeps


def test_numbers_read_an_untranslated_output_in_its_own_language() -> None:
    # #26 tester: the copied French "7,4" was read with English conventions: "7.4 → 7".
    for source in ("Le taux est de 7,4 %.", "Il a gagné 1 234,5 euros.", "Le 3 mars 2024, 8,3 millions."):
        assert "numbers" not in flags(source, source), source
    long = "Le taux de chômage a atteint 7,4 % au troisième trimestre selon l'Insee, contre 7,1 % auparavant."
    assert "numbers" not in flags(long, long.replace("selon", "d'après"))  # a near copy
    assert "numbers" in flags(long, long.replace("7,4", "4,7"))  # a changed number in a copy is still caught
    assert "numbers" not in flags("Le taux est de 7,4 %.", "The rate is 7.4%.")


def test_wrong_language_catches_a_third_language_and_skips_short_outputs() -> None:
    source = "Le gouvernement a présenté mercredi un nouveau projet de loi sur le logement."
    found = flags(source, "Die Regierung hat am Mittwoch einen neuen Gesetzentwurf zum Wohnungsbau vorgestellt.")
    assert "wrong-language" in found and "de" in found["wrong-language"]
    [short] = assess([Pair("Bonjour à tous.", "Hallo zusammen.")], "fr", "en")
    assert not short.flags and "wrong-language" in [s.name for s in short.unchecked]


def test_repetition_catches_loops_and_runaway_length_but_not_faithful_repeats() -> None:
    source = "Il a parlé au Kremlin hier soir."
    assert "repetition" in flags(source, "He spoke at the Kremlin the Kremlin the Kremlin the Kremlin last night.")
    assert "repetition" in flags(source, "He spoke at the Kremlin last night, " * 5)
    assert "repetition" not in flags(source, "He spoke at the Kremlin last night.")
    assert "repetition" not in flags("« Non, non, non, non », a-t-il dit.", '"No, no, no, no," he said.')


def test_length_ratio_is_learned_from_the_run() -> None:
    pairs = reference_pairs()
    cut = pairs[6]
    short = Pair(cut.source, cut.output[: len(cut.output) // 3], cut.doc_id, cut.position)
    assessed = assess(pairs[:6] + [short] + pairs[7:], "fr", "en")
    assert "length-ratio" in [f.name for f in assessed[6].flags]
    assert not any(f.name == "length-ratio" for a in assessed[:6] + assessed[7:] for f in a.flags)
    # Too few pairs to learn from: not checked, and said so.
    [alone] = assess([short], "fr", "en")
    assert "length-ratio" in [s.name for s in alone.unchecked]
    assert "length-ratio" in flags("Le président a parlé longuement hier soir.", "")  # empty: always


def test_numbers_catches_a_changed_number_and_accepts_the_other_locale() -> None:
    assert flags("Le taux est de 7,4 %.", "The rate is 4.7%.")["numbers"] == "changed: 7.4 → 4.7"
    assert "numbers" not in flags("Le taux est de 7,4 %.", "The rate is 7.4%.")
    assert "numbers" not in flags("Il a reçu 1 234,5 euros.", "He received 1,234.5 euros.")
    assert "numbers" not in flags("Il a reçu 1\u202f234,5 euros.", "He received 1,234.5 euros.")
    assert "numbers" not in flags("Il a reçu 1\u00a0234,5 euros.", "He received 1,234.5 euros.")
    assert "numbers" not in flags("Le vote a eu lieu le 3 mars 2024.", "The vote took place on March 3, 2024.")
    assert "numbers" in flags("Le vote a eu lieu le 3 mars 2024.", "The vote took place on May 3, 2024.")
    assert "numbers" not in flags("Rendez-vous à 14h30.", "Meet at 2:30 p.m.")
    assert "numbers" in flags("Rendez-vous à 14h30.", "Meet at 3:30 p.m.")
    assert "numbers" not in flags("Ils étaient 8,3 millions.", "There were 8.3 million of them.")
    assert "numbers" not in flags("Il y a deux morts.", "Two people died.")
    assert "numbers" not in flags("Il y a 2 morts.", "Two people died.")
    assert flags("Il y a 238 morts.", "There are many dead.")["numbers"] == "missing from the output: 238"


def test_terms_catch_glossary_kept_terms_protected_spans_and_kept_names() -> None:
    glossary = {"Assemblée nationale": "National Assembly", "Moscou": "Moscou"}
    source = "L'Assemblée nationale a voté à Moscou, voir https://example.org/vote."
    good = "The National Assembly voted in Moscou, see https://example.org/vote."
    assert "terms" not in flags(source, good, glossary=glossary)
    assert "National Assembly" in flags(source, good.replace("National Assembly", "parliament"),
                                        glossary=glossary)["terms"]
    assert "'Moscou'" in flags(source, good.replace("Moscou", "Moscow"), glossary=glossary)["terms"]
    assert "example.org" in flags(source, good.replace("https://example.org/vote", "the site"),
                                  glossary=glossary)["terms"]
    # Names: learned from the run; "Kremlin" is kept by the reference translations, so dropping it is caught.
    pairs = reference_pairs()
    index = next(i for i, p in enumerate(pairs) if "Kremlin" in p.source)
    changed = Pair(pairs[index].source, pairs[index].output.replace("Kremlin", "Russian presidency"))
    assessed = assess(pairs[:index] + [changed] + pairs[index + 1:], "fr", "en")
    assert "Kremlin" in {f.name: f.reason for f in assessed[index].flags}["terms"]


def test_truncated_flags_the_generation_limit() -> None:
    source = "Le gouvernement a présenté mercredi un nouveau projet de loi."
    assert "truncated" in flags(source, "The government presented on Wednesday a new", hit_length_limit=True)
    assert "truncated" not in flags(source, "The government presented a new bill on Wednesday.", hit_length_limit=False)


def test_every_check_is_tested_here() -> None:
    assert set(CHECKS) == {"untranslated", "wrong-language", "repetition", "length-ratio", "numbers", "terms",
                           "truncated"}


# -- risk ---------------------------------------------------------------------------------------

def test_risk_from_flags_and_confidence_with_overridable_thresholds() -> None:
    source = "Le taux est de 7,4 % selon le ministère des finances."
    good = "The rate is 7.4% according to the finance ministry."
    [ok, review, wrong, unsure, doubtful] = assess([
        Pair(source, good, confidence=-0.4), Pair(source, good.replace("7.4", "4.7"), confidence=-0.4),
        Pair(source, source), Pair(source, good, confidence=-2.0), Pair(source, good, confidence=-4.0)], "fr", "en")
    assert (ok.risk, review.risk, wrong.risk, unsure.risk, doubtful.risk) == (
        "ok", "review", "likely-wrong", "review", "likely-wrong")
    strict = QualityOptions(confidence_review=-0.3, likely_wrong_flags=("numbers",))
    [ok2, review2] = assess([Pair(source, good, confidence=-0.4), Pair(source, good.replace("7.4", "4.7"))],
                            "fr", "en", strict)
    assert (ok2.risk, review2.risk) == ("review", "likely-wrong")


def test_thresholds_come_from_the_defaults_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.config import load_defaults

    assert load_defaults().quality == QualityOptions()  # the packaged file says what the code defaults to
    own = tmp_path / "defaults.yaml"
    own.write_text("quality:\n  confidence_review: -0.5\n", encoding="utf-8")
    monkeypatch.setenv("TOOLKIT_DEFAULTS", str(own))
    assert load_defaults().quality.confidence_review == -0.5


def test_summary_counts_and_worst_first() -> None:
    pairs = [Pair("Le taux est de 7,4 %.", "The rate is 7.4%.", "a", 0),
             Pair("Le taux est de 7,4 %.", "The rate is 4.7%.", "a", 1),
             Pair("Le gouvernement a présenté un projet de loi sur le logement.",
                  "Le gouvernement a présenté un projet de loi sur le logement.", "b", 0)]
    summary = summarize(pairs, assess(pairs, "fr", "en"))
    assert summary["risk"] == {"ok": 1, "review": 1, "likely-wrong": 1}
    assert summary["flags"]["numbers"] == 1 and summary["flags"]["untranslated"] == 1
    assert summary["worst"] == [{"doc_id": "b", "position": 0}, {"doc_id": "a", "position": 1}]
    assert [d["doc_id"] for d in summary["documents"]] == ["a", "b"] and summary["documents"][0]["worst"] == [1]


# -- false positives on good human translations ---------------------------------------------------

MAX_FALSE_POSITIVE_RATE = 0.08  # per check, on the seed articles' reference translations (2 of 25)


@pytest.mark.parametrize("direction", ["fr-en", "en-fr"])
def test_reference_translations_are_rarely_flagged(direction: str) -> None:
    pairs = reference_pairs()
    if direction == "en-fr":
        pairs = [Pair(p.output, p.source, p.doc_id, p.position) for p in pairs]
    source, target = direction.split("-")
    assessed = assess(pairs, source, target)
    for name in CHECKS:
        rate = sum(any(f.name == name for f in a.flags) for a in assessed) / len(assessed)
        assert rate <= MAX_FALSE_POSITIVE_RATE, (name, rate)


# -- generated pairs ------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2)


def french(value: Decimal, separator: str) -> str:
    whole, _, fraction = f"{value:.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", separator)
    return groups + ("," + fraction.rstrip("0") if fraction.rstrip("0") else "")


def english(value: Decimal) -> str:
    whole, _, fraction = f"{value:.2f}".partition(".")
    return f"{int(whole):,}" + ("." + fraction.rstrip("0") if fraction.rstrip("0") else "")


@settings(max_examples=200, deadline=None)
@given(amounts, st.sampled_from([" ", "\u00a0", "\u202f"]), st.booleans())
def test_the_same_amount_in_either_locale_is_never_flagged(value: Decimal, separator: str, percent: bool) -> None:
    unit_fr, unit_en = (" %", "%") if percent else (" euros", " euros")
    source = f"Le montant atteint {french(value, separator)}{unit_fr} cette année."
    output = f"The amount reaches {english(value)}{unit_en} this year."
    assert missing(source, output, "fr", "en") == ([], [])


@settings(max_examples=200, deadline=None)
@given(amounts, amounts)
def test_a_changed_amount_is_always_caught(value: Decimal, other: Decimal) -> None:
    if english(value) == english(other):
        return
    source = f"Le montant atteint {french(value, ' ')} euros."
    assert "numbers" in flags(source, f"The amount reaches {english(other)} euros.")


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 28), st.integers(1, 12), st.integers(1900, 2100), st.integers(1, 28))
def test_dates_match_across_locales_and_a_changed_day_is_caught(day: int, month: int, year: int, other: int) -> None:
    source = f"Le scrutin a eu lieu le {day} {MONTHS['fr'][month - 1]} {year}."
    name = MONTHS["en"][month - 1].capitalize()
    assert missing(source, f"The vote took place on {name} {day}, {year}.", "fr", "en") == ([], [])
    assert missing(source, f"The vote took place on {day} {name} {year}.", "fr", "en") == ([], [])
    if other != day:
        assert "numbers" in flags(source, f"The vote took place on {name} {other}, {year}.")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["the", "state", "of", "war", "peace", "minister", "said"]), min_size=1, max_size=3),
       st.integers(3, 8))
def test_a_generated_loop_is_always_caught(gram: list[str], repeats: int) -> None:
    if len(gram) * repeats < QualityOptions().loop_min_tokens or len(set(gram)) < len(gram):
        return
    output = "The minister said " + " ".join(gram * repeats) + "."
    assert "repetition" in flags("Le ministre a déclaré que la situation était grave.", output)


def test_mentions_read_each_locale() -> None:
    assert mentions("7,4 % et 1 234,5 et 1.234.567", "fr") == [{"7.4"}, {"1234.5"}, {"1234567"}]
    assert mentions("7.4% and 1,234.5", "en") == [{"7.4"}, {"1234.5"}]
    assert mentions("8,3 millions", "fr") == [{"8.3", "8300000"}]
