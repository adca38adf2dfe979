from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import seed_texts
from toolkit.segment import pack_sentences, segment_document, split_sentences, split_to_budget


def test_french_abbreviations_do_not_split() -> None:
    text = "M. Tokaïev a salué Mme Dupont et Mlle Roy. Le Dr. Martin est arrivé."
    assert split_sentences(text, "fr") == ["M. Tokaïev a salué Mme Dupont et Mlle Roy.", "Le Dr. Martin est arrivé."]


def test_etc_splits_only_before_a_capital() -> None:
    assert split_sentences("Des pommes, des poires, etc. et des prunes.", "fr") == [
        "Des pommes, des poires, etc. et des prunes."]
    assert split_sentences("Des pommes, des poires, etc. Le reste suit.", "fr") == [
        "Des pommes, des poires, etc.", "Le reste suit."]


def test_decimal_commas_and_points() -> None:
    text = "Il l'a emporté avec 81,31 % des voix. Environ 8.3 millions ont voté."
    assert split_sentences(text, "fr") == ["Il l'a emporté avec 81,31 % des voix.", "Environ 8.3 millions ont voté."]


def test_guillemets_and_ellipses() -> None:
    text = "« La Russie fera tout. » Ensuite... il est parti. Puis… Plus rien ! Vraiment ?"
    assert split_sentences(text, "fr") == [
        "« La Russie fera tout. »", "Ensuite... il est parti.", "Puis…", "Plus rien !", "Vraiment ?"]


def test_quote_inside_sentence_is_not_a_boundary() -> None:
    text = "M. Tokaïev « fait tout pour normaliser la situation », a plaidé M. Poutine."
    assert split_sentences(text, "fr") == [text]


def test_initials_and_dates() -> None:
    assert split_sentences("Il est né en 45 av. J.-C. à Rome. J. Martin l'a écrit.", "fr") == [
        "Il est né en 45 av. J.-C. à Rome.", "J. Martin l'a écrit."]


def test_english_abbreviations() -> None:
    assert split_sentences("Mr. Smith met Dr. Jones in the U.S. today. They talked.", "en") == [
        "Mr. Smith met Dr. Jones in the U.S. today.", "They talked."]


def test_seeds_round_trip_and_keep_layout() -> None:
    for text in seed_texts():
        doc = segment_document(text, "fr")
        assert doc.reassemble() == text
        assert all(s == s.strip() and s for _, _, s in doc.sentences)


def test_markdown_markers_and_code_pass_through() -> None:
    text = "# Titre de l'article\n\n- Premier point. Second point.\n\n```\ncode. Pas traduit.\n```\n"
    doc = segment_document(text, "fr", markdown=True)
    assert doc.reassemble() == text
    assert [s for _, _, s in doc.sentences] == ["Titre de l'article", "Premier point.", "Second point."]
    replaced = doc.reassemble([["T"], ["A", "B"]])
    assert replaced == "# T\n\n- A B\n\n```\ncode. Pas traduit.\n```\n"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcMé .!?…«»\"'\n\t,0123456789-")), max_size=200))
def test_segmentation_loses_no_character(text: str) -> None:
    doc = segment_document(text, "fr")
    assert doc.reassemble() == text
    for para in doc.paragraphs:
        assert para.render(para.sentences) in text


def words(text: str) -> int:
    return len(text.split())


def test_split_to_budget_respects_budget_and_keeps_words() -> None:
    sentence = ("Le président, réélu dimanche, a remercié ses électeurs; il a promis des réformes: "
                "une nouvelle constitution, un parlement renforcé et des élections libres.")
    pieces = split_to_budget(sentence, words, 6)
    assert all(words(p) <= 6 for p in pieces)
    assert " ".join(pieces).split() == sentence.split()
    assert pieces[0] == "Le président, réélu dimanche,"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ,;:")), min_size=1, max_size=120), st.integers(1, 8))
def test_split_to_budget_never_drops_text(text: str, budget: int) -> None:
    pieces = split_to_budget(text, lambda t: max(1, len(t) // 4), budget)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    assert all(max(1, len(p) // 4) <= budget for p in pieces)


def test_pack_sentences_groups_to_budget() -> None:
    chunks = pack_sentences(["a b c", "d e", "f g h i", "j"], words, 5)
    assert chunks == [["a b c", "d e"], ["f g h i", "j"]]
