"""The numpy n-gram statistics (toolkit.evaluation.ngrams) and the TER loop (toolkit.evaluation.ter) equal sacrebleu's."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU, CHRF, TER

from toolkit.evaluation import evaluate, ngrams, ter
from toolkit.evaluation.metrics import ref_streams

# Few distinct characters, so n-grams repeat and clipping matters; punctuation, digits, accents, CJK,
# an astral character and odd whitespace exercise the tokenizers and chrF's punctuation split.
ALPHABET = "aab  c.,-!?()'0 1é\u00a0\tZ漢😀&"
TEXT = st.text(alphabet=ALPHABET, max_size=40)


def _sacre(metric, hypotheses, references) -> np.ndarray:
    return np.asarray(metric._extract_corpus_statistics(hypotheses, ref_streams(references)), dtype=np.float64)


def _same(metric_factory, hypotheses, references) -> None:
    expected = _sacre(metric_factory(), hypotheses, references)
    got = ngrams.statistics(metric_factory(), hypotheses, references)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


SEGMENTS = st.lists(st.tuples(TEXT, st.lists(TEXT, min_size=1, max_size=3)), min_size=1, max_size=8)
BLEUS = [lambda: BLEU(), lambda: BLEU(lowercase=True), lambda: BLEU(tokenize="char"),
         lambda: BLEU(tokenize="intl"), lambda: BLEU(tokenize="none"), lambda: BLEU(tokenize="zh"),
         lambda: BLEU(max_ngram_order=2)]
CHRFS = [lambda: CHRF(word_order=2), lambda: CHRF(), lambda: CHRF(word_order=2, whitespace=True),
         lambda: CHRF(word_order=2, lowercase=True), lambda: CHRF(char_order=3, word_order=1)]


@pytest.mark.parametrize("index", range(len(BLEUS)))
@settings(max_examples=60, deadline=None)
@given(segments=SEGMENTS)
def test_bleu_statistics_equal_sacrebleu(index: int, segments) -> None:
    _same(BLEUS[index], [h for h, _ in segments], [r for _, r in segments])


@pytest.mark.parametrize("index", range(len(CHRFS)))
@settings(max_examples=60, deadline=None)
@given(segments=SEGMENTS)
def test_chrf_statistics_equal_sacrebleu(index: int, segments) -> None:
    _same(CHRFS[index], [h for h, _ in segments], [r for _, r in segments])


def test_variable_reference_counts_skip_none() -> None:
    hyps = ["the cat sat on the mat", "a dog", "it rains"]
    refs = [["the cat is on the mat", None], ["the dog", "a dog barks"], [None, "it is raining"]]
    for factory in (BLEUS[0], CHRFS[0]):
        _same(factory, hyps, [[r for r in rs] for rs in refs])


def test_random_corpus_with_a_large_vocabulary() -> None:
    """Thousands of segments, a vocabulary large enough that 4-gram codes must be re-ranked."""
    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyzàéîõü") for _ in range(rnd.randint(1, 9)))
             for _ in range(30_000)]
    refs = [[" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 40))) + rnd.choice([".", " .", "!", ""])
             for _ in range(rnd.randint(1, 2))] for _ in range(3000)]
    hyps = [" ".join(w if rnd.random() < 0.7 else rnd.choice(words) for w in r[0].split()) for r in refs]
    _same(BLEUS[0], hyps, refs)
    _same(CHRFS[0], hyps, refs)


def test_corpus_scores_still_equal_sacrebleu() -> None:
    rnd = random.Random(3)
    refs = [" ".join(rnd.choice(["le", "chat", "dort", "ici", "3,5", "(oui)", "l'été"]) for _ in range(rnd.randint(1, 15)))
            for _ in range(500)]
    hyps = [" ".join(w for w in r.split() if rnd.random() < 0.8) for r in refs]
    refs2 = [r[::-1] for r in refs]
    got = {s["metric"]: s["score"] for s in evaluate(hyps, [[a, b] for a, b in zip(refs, refs2)], bootstrap=10)["scores"]}
    assert got["BLEU"] == sacrebleu.corpus_bleu(hyps, [refs, refs2]).score
    assert got["chrF++"] == sacrebleu.corpus_chrf(hyps, [refs, refs2], word_order=2).score


def test_evaluate_paths_equals_evaluate_and_evaluate_leaves_its_inputs(tmp_path) -> None:
    """evaluate_paths empties the lists it owns once their statistics are taken; evaluate() never
    touches its caller's lists; both give the same result."""
    import json

    from toolkit.evaluation import evaluate_paths

    rnd = random.Random(5)
    words = ["un", "deux", "trois", "quatre", "cinq", "six", "sept"]
    refs = [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + "." for _ in range(60)]
    hyps = [" ".join(w for w in r.split() if rnd.random() < 0.85) for r in refs]
    base = [" ".join(w for w in r.split() if rnd.random() < 0.7) for r in refs]
    for name, texts, field in (("hyp", hyps, "translation"), ("ref", refs, "reference"), ("base", base, "translation")):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"doc_id": f"d{i // 4}", "segment": i % 4, field: t}) + "\n" for i, t in enumerate(texts)))
    references, baseline = [[r] for r in refs], list(base)
    keys = [(f"d{i // 4}", i % 4) for i in range(len(refs))]
    direct = evaluate(hyps, references, baseline=baseline, keys=keys, bootstrap=50)
    assert references == [[r] for r in refs] and baseline == base
    from_files = evaluate_paths(str(tmp_path / "hyp.jsonl"), [str(tmp_path / "ref.jsonl")],
                                baseline=str(tmp_path / "base.jsonl"), bootstrap=50)
    for field in ("scores", "baseline", "segments"):
        got = from_files[field]
        if field == "baseline":
            got = {k: v for k, v in got.items() if k != "path"}
        assert got == direct[field]


# TER: sacrebleu's shift search over toolkit's edit-distance loop (toolkit.evaluation.ter).
TERS = [lambda: TER(), lambda: TER(case_sensitive=True), lambda: TER(normalized=True, asian_support=True),
        lambda: TER(no_punct=True)]
WORDY = st.lists(st.sampled_from(["a", "b", "c", "d", "A", "é", "1,5", "(x)", "."]), max_size=30).map(" ".join)


@pytest.mark.parametrize("index", range(len(TERS)))
@settings(max_examples=60, deadline=None)
@given(segments=st.lists(st.tuples(st.one_of(WORDY, TEXT), st.lists(st.one_of(WORDY, TEXT), min_size=1, max_size=3)),
                         min_size=1, max_size=6))
def test_ter_statistics_equal_sacrebleu(index: int, segments) -> None:
    expected = _sacre(TERS[index](), [h for h, _ in segments], [r for _, r in segments])
    np.testing.assert_array_equal(ter.statistics(TERS[index](), [h for h, _ in segments], [r for _, r in segments]),
                                  expected)


def test_ter_on_long_repetitive_and_lopsided_segments() -> None:
    """Beyond the 25-word beam, lengths far apart (a wider beam), and sentences repetitive enough to
    reach sacrebleu's 1000-candidate limit."""
    rnd = random.Random(11)
    hyps, refs = [], []
    for _ in range(40):
        vocab = rnd.sample(["w", "x", "y", "z", "v", "u", "t"], rnd.randint(2, 7))
        ref = [rnd.choice(vocab) for _ in range(rnd.randint(0, 90))]
        hyp = [rnd.choice(vocab) for _ in range(rnd.choice([rnd.randint(0, 5), rnd.randint(40, 90)]))]
        hyps.append(" ".join(hyp))
        refs.append([" ".join(ref)])
    np.testing.assert_array_equal(ter.statistics(TER(), hyps, refs), _sacre(TER(), hyps, refs))
