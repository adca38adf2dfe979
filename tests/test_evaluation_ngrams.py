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


# Every character class of the 13a rules, their neighbours, and what the tokenizer unescapes or drops.
TOKENIZER_TEXT = st.lists(st.one_of(st.characters(max_codepoint=0x7F), st.sampled_from(
    ["&quot;", "&amp;", "&lt;", "&gt;", "<skipped>", "-\n", "é", "\u00a0", "\u2028", "漢"])), max_size=40).map("".join)


@settings(max_examples=2000, deadline=None)
@given(line=TOKENIZER_TEXT, lowercase=st.booleans())
def test_13a_tokenizer_equals_sacrebleus(line: str, lowercase: bool) -> None:
    metric = BLEU(lowercase=lowercase)
    preprocess = ngrams.bleu_preprocessor(metric)
    assert getattr(preprocess, "__self__", None) is None, "sacrebleu's 13a rules changed: the fast path is off"
    assert preprocess(line) == metric._preprocess_segment(line)


@pytest.mark.parametrize("index", range(len(CHRFS)))
@settings(max_examples=60, deadline=None)
@given(segments=SEGMENTS)
def test_chrf_sentence_scores_equal_sacrebleus_bit_for_bit(index: int, segments) -> None:
    metric = CHRFS[index]()
    stats = ngrams.statistics(metric, [h for h, _ in segments], [r for _, r in segments])
    expected = [metric._compute_f_score(list(row.astype(np.float64))) for row in stats]
    assert ngrams.chrf_sentence_scores(metric, stats).tolist() == expected


def test_chrf_sentence_scores_with_eps_smoothing() -> None:
    metric = CHRF(word_order=2, eps_smoothing=True)
    stats = ngrams.statistics(metric, ["a b c", "", "x"], [["a b d"], ["q"], [""]])
    assert ngrams.chrf_sentence_scores(metric, stats).tolist() == [metric._compute_f_score(list(r)) for r in stats]


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


# TER: sacrebleu's shift search, compiled with numba (toolkit.evaluation.ter_kernel) and in Python
# (toolkit.evaluation.ter). The dev set-up installs numba, so both paths run here.
COMPILED = [pytest.param(True, id="numba"), pytest.param(False, id="python")]
TERS = [lambda: TER(), lambda: TER(case_sensitive=True), lambda: TER(normalized=True, asian_support=True),
        lambda: TER(no_punct=True)]
WORDY = st.lists(st.sampled_from(["a", "b", "c", "d", "A", "é", "1,5", "(x)", "."]), max_size=30).map(" ".join)


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("index", range(len(TERS)))
@settings(max_examples=60, deadline=None)
@given(segments=st.lists(st.tuples(st.one_of(WORDY, TEXT), st.lists(st.one_of(WORDY, TEXT), min_size=1, max_size=3)),
                         min_size=1, max_size=6))
def test_ter_statistics_equal_sacrebleu(index: int, compiled: bool, segments) -> None:
    hyps, refs = [h for h, _ in segments], [r for _, r in segments]
    expected = _sacre(TERS[index](), hyps, refs)
    np.testing.assert_array_equal(ter.statistics(TERS[index](), hyps, refs, compiled=compiled), expected)


@pytest.mark.parametrize("compiled", COMPILED)
def test_ter_on_long_repetitive_and_lopsided_segments(compiled: bool) -> None:
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
    np.testing.assert_array_equal(ter.statistics(TER(), hyps, refs, compiled=compiled), _sacre(TER(), hyps, refs))


@pytest.mark.parametrize("compiled", COMPILED)
def test_ter_preprocesses_references_twice_as_sacrebleu(compiled: bool) -> None:
    """sacrebleu tokenizes TER references twice; the normalising tokenizer is not idempotent on "..0"."""
    metric = TER(normalized=True, asian_support=True)
    assert metric._preprocess_segment("..0") != metric._preprocess_segment(metric._preprocess_segment("..0"))
    np.testing.assert_array_equal(ter.statistics(metric, ["", "a ..0"], [["..0"], ["a..0 b"]], compiled=compiled),
                                  _sacre(TER(normalized=True, asian_support=True), ["", "a ..0"], [["..0"], ["a..0 b"]]))


class _BrokenNumba:
    """A meta-path finder that makes importing the kernel fail as numba does without a cache folder."""

    def find_spec(self, name, path=None, target=None):
        if name == "toolkit.evaluation.ter_kernel":
            raise RuntimeError("cannot cache function '_edit_distance': no locator available")
        return None


@pytest.mark.parametrize("failure", ["missing", "unusable"])
def test_ter_falls_back_to_python_without_numba(monkeypatch, caplog, failure: str) -> None:
    import sys

    import toolkit.evaluation

    ter.compiled_search.cache_clear()
    # `from toolkit.evaluation import ter_kernel` finds an imported kernel on the package first.
    monkeypatch.delattr(toolkit.evaluation, "ter_kernel", raising=False)
    monkeypatch.delitem(sys.modules, "toolkit.evaluation.ter_kernel", raising=False)
    if failure == "missing":
        monkeypatch.setitem(sys.modules, "toolkit.evaluation.ter_kernel", None)  # import → ImportError
    else:
        monkeypatch.setattr(sys, "meta_path", [_BrokenNumba(), *sys.meta_path])
    try:
        assert ter.compiled_search() is None
        hyps, refs = ["a b c d", "x y"], [["b a c d"], ["y x z"]]
        np.testing.assert_array_equal(ter.statistics(TER(), hyps, refs), _sacre(TER(), hyps, refs))
        with pytest.raises(ImportError, match=r"toolkit\[fast\]"):
            ter.statistics(TER(), hyps, refs, compiled=True)
        assert ("cannot be used" in caplog.text) == (failure == "unusable")
    finally:
        ter.compiled_search.cache_clear()


def test_large_ter_without_numba_says_how_to_speed_it_up(monkeypatch, caplog) -> None:
    import importlib.util

    from toolkit.evaluation import metrics

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real_find_spec(name, *a))
    monkeypatch.setattr(metrics, "TER_HINT_SEGMENTS", 3)
    hyps, refs = ["a b", "c d", "e f"], [["a b"], ["c"], ["f e"]]
    evaluate(hyps, refs, metrics=["ter"], baseline=["a", "c", "e"], bootstrap=5)
    assert caplog.text.count("pip install 'toolkit[fast]'") == 1  # once, though the baseline is scored too
    caplog.clear()
    evaluate(hyps, refs, metrics=["bleu"], bootstrap=5)
    evaluate(hyps[:2], refs[:2], metrics=["ter"], bootstrap=5)
    assert "toolkit[fast]" not in caplog.text


def test_ter_falls_back_when_numba_cannot_compile(monkeypatch, caplog) -> None:
    kernel = ter.compiled_search()
    assert kernel is not None, "the dev set-up installs numba"

    def fail(pairs):
        raise kernel.NumbaError("unsupported")

    monkeypatch.setattr(kernel, "edits", fail)
    hyps, refs = ["a b c d", "x y"], [["b a c d"], ["y x z"]]
    np.testing.assert_array_equal(ter.statistics(TER(), hyps, refs), _sacre(TER(), hyps, refs))
    assert "cannot compile" in caplog.text
    with pytest.raises(kernel.NumbaError):
        ter.statistics(TER(), hyps, refs, compiled=True)
