"""sacrebleu's BLEU and chrF per-segment statistics, counted with numpy instead of one Counter per segment.

The texts go through sacrebleu's preprocessing (chrF's whitespace removal and punctuation split,
memoised per distinct word; BLEU's tokenizer as sacrebleu has it, except 13a, done by
``_tokenize_13a`` with the same rules and results); only the n-gram counting is vectorised. Every
n-gram of a slice of segments gets an integer code (exact: built order by order from the
(n−1)-gram's code and the next token, never hashed), every (text, code) pair is counted by sorting
each text's codes, and clipped matches are the minimum of the hypothesis's and the reference's
count of the same code, summed per segment. The result is the same integer matrix as sacrebleu's
``_extract_corpus_statistics`` (tests cross-check it on random and property-generated texts).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np

_CODE_LIMIT = 1 << 62  # keys stay below this: products are exact in int64
# sacrebleu's 13a tokenizer (TokenizerRegexp's rules) with the same patterns, each replacement
# template done by a function: on Python 3.11 ``re`` expands a template in Python for every match,
# which made the tokenizer most of BLEU's time. The first rule pads each character of a class with
# spaces; spaces are left out of the class here (every space was a match), which changes only
# how many spaces there are, and the tokenizer ends by collapsing whitespace.
_13A_RULES = [(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "), (r"([^0-9])([\.,])", r"\1 \2 "),
              (r"([\.,])([^0-9])", r" \1 \2"), (r"([0-9])(-)", r"\1 \2 ")]
_PAD_13A = re.compile(r"[\{-\~\[-\`!-\&\(-\+\:-\@\/]")


def _pad(match: re.Match[str]) -> str:
    return f" {match.group()} "


def _left(match: re.Match[str]) -> str:  # r"\1 \2 "
    return f"{match.group(1)} {match.group(2)} "


def _right(match: re.Match[str]) -> str:  # r" \1 \2"
    return f" {match.group(1)} {match.group(2)}"


def supported(metric: Any) -> bool:
    """Whether ``metric`` (a sacrebleu object) has a vectorised statistics path here."""
    from sacrebleu.metrics import BLEU, CHRF

    return isinstance(metric, (BLEU, CHRF))


def statistics(metric: Any, hypotheses: Sequence[str], references: Sequence[Sequence[str | None]]) -> np.ndarray:
    """Per-segment statistics equal to ``metric._extract_corpus_statistics(hypotheses, ref_streams(references))``,
    as int32 (counts within one segment): half the memory of float64 while the corpus is scored."""
    from sacrebleu.metrics import BLEU

    stats = _bleu(metric, hypotheses, references) if isinstance(metric, BLEU) else _chrf(metric, hypotheses, references)
    return stats.astype(np.int32)


class _Texts:
    """Hypotheses (texts 0..n−1, one per segment) then every non-None reference, as sacrebleu sees them."""

    def __init__(self, hypotheses: Sequence[str], references: Sequence[Sequence[str | None]], prep: Any) -> None:
        self.n = len(hypotheses)
        ref_texts: list[str] = []
        ref_segment: list[int] = []
        for i, refs in enumerate(references):
            for r in refs:
                if r is not None:
                    ref_texts.append(prep(r))
                    ref_segment.append(i)
        self.texts = [prep(h) for h in hypotheses] + ref_texts
        # segment of every text: hypotheses are their own segment
        self.segment = np.concatenate([np.arange(self.n, dtype=np.int64), np.asarray(ref_segment, dtype=np.int64)])
        self.refs = len(ref_texts)


def _word_ids(texts: list[str], split: Callable[[str], list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ids of every text's whitespace-separated words (a vocabulary of this call), each word
    first cut by ``split`` when given, and the number of ids of every text.

    Words repeat across a corpus, so ``split`` runs once per distinct word and its ids are memoised.
    """
    vocab: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    ids: list[int] = []
    lengths: list[int] = []
    if split is None:
        for text in texts:
            words = text.split()
            ids += [vocab[w] for w in words]
            lengths.append(len(words))
    else:
        memo: dict[str, list[int]] = {}
        for text in texts:
            before = len(ids)
            for word in text.split():
                known = memo.get(word)
                if known is None:
                    known = memo[word] = [vocab[piece] for piece in split(word)]
                ids += known
            lengths.append(len(ids) - before)
    return np.asarray(ids, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


def _chrf_word_split(puncts: set[str]) -> Callable[[str], list[str]]:
    """What sacrebleu's ``CHRF._remove_punctuation`` makes of one whitespace-separated word."""
    def split(w: str) -> list[str]:
        if len(w) == 1:
            return [w]
        if w[-1] in puncts:
            return [w[:-1], w[-1]]
        if w[0] in puncts:
            return [w[0], w[1:]]
        return [w]
    return split


def _char_ids(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated characters as dense ids (ranks of the code points present) and every line's length."""
    joined = "".join(lines)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.asarray([len(line) for line in lines], dtype=np.int64)
    if len(codes) == 0:
        return codes.astype(np.int64), lengths
    present = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    present[codes] = 1
    return (np.cumsum(present) - 1)[codes], lengths


def _pair_counts(tokens: np.ndarray, lengths: np.ndarray, max_order: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """For n = 1..max_order: (sorted unique keys text × K + code, their counts, K) over every text,
    one order at a time (only one order's arrays are alive at once).

    ``tokens`` are dense ids (0..V−1). The code of an n-gram is code((n−1)-gram) × V + its last
    token, exact in int64; when that would overflow, the (n−1)-gram codes are first replaced by
    their dense ranks. Equal n-grams get equal codes, different ones different codes, no hashing.
    """
    texts = max(len(lengths), 1)
    text_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    base = int(tokens.max()) + 1 if len(tokens) else 1
    positions = np.arange(len(tokens), dtype=np.int64)
    codes = tokens
    size = base
    for n in range(1, max_order + 1):
        if n > 1:
            last = positions + (n - 1)
            keep = last < len(tokens)
            keep[keep] &= text_of[last[keep]] == text_of[positions[keep]]
            positions, codes = positions[keep], codes[keep]
            if size * base * texts >= _CODE_LIMIT:
                uniq, codes = np.unique(codes, return_inverse=True)
                codes = codes.astype(np.int64, copy=False).reshape(-1)
                size = max(len(uniq), 1)
                assert size * base * texts < _CODE_LIMIT, "too many distinct n-grams in one slice"
            codes = codes * base + tokens[positions + (n - 1)]
            size *= base
        keys, counts = _sorted_counts(text_of[positions], codes, size, texts)
        yield keys, counts, size


def _sorted_counts(text: np.ndarray, codes: np.ndarray, size: int, texts: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(text * size + codes, return_counts=True)`` for ``text`` in ascending order.

    Sorting each text's codes in a row of a (texts × longest) grid is ~10x faster than sorting the
    whole key array: a text's n-grams fit in cache. The rows, in text order, are then already the
    sorted keys. A slice with one text far longer than the rest would make the grid mostly padding;
    it is sorted whole instead.
    """
    per_text = np.bincount(text, minlength=texts)
    width = int(per_text.max()) if len(text) else 0
    if width * texts > 4 * len(text) + 4096:
        keys, counts = np.unique(text * size + codes, return_counts=True)
        return keys, counts.astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(per_text)[:-1]))
    grid = np.full((texts, width), size, dtype=np.int64)  # `size` pads: above every code
    grid[text, np.arange(len(text)) - starts[text]] = codes
    grid.sort(axis=1)
    keys = grid[grid < size] + text * size  # row-major: text by text, codes sorted within each
    if len(keys) == 0:
        return keys, keys.copy()
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[first], np.diff(np.append(first, len(keys)))


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[k] for each wanted key present in sorted_keys, else 0."""
    if len(sorted_keys) == 0:
        return np.zeros(len(wanted), dtype=np.int64)
    at = np.searchsorted(sorted_keys, wanted)
    at[at == len(sorted_keys)] = 0
    return np.where(sorted_keys[at] == wanted, values[at], 0)


def _hyp_split(keys: np.ndarray, n: int, size: int) -> int:
    """Index of the first key that belongs to a reference text (texts ≥ n) in sorted keys."""
    return int(np.searchsorted(keys, n * size))


def _tokenize_13a(rules: list[tuple[re.Pattern[str], str]], line: str) -> str:
    """sacrebleu's ``Tokenizer13a()(line)``; ``rules`` are its TokenizerRegexp's (pattern, replacement) pairs."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = _PAD_13A.sub(_pad, f" {line} ")
    if "." in line or "," in line:  # the only characters rules 2 and 3 can match
        line = rules[2][0].sub(_right, rules[1][0].sub(_left, line))
    if "-" in line:
        line = rules[3][0].sub(_left, line)
    return " ".join(line.split())


def bleu_preprocessor(metric: Any) -> Callable[[str], str]:
    """``metric._preprocess_segment``, with sacrebleu's 13a tokenizer replaced by ``_tokenize_13a`` (when
    its rules are the ones this module knows)."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokenizer = metric.tokenizer
    if type(tokenizer) is not Tokenizer13a:
        return cast(Callable[[str], str], metric._preprocess_segment)
    rules = tokenizer._post_tokenizer._re
    if [(pattern.pattern, repl) for pattern, repl in rules] != _13A_RULES:
        return cast(Callable[[str], str], metric._preprocess_segment)
    if metric.lowercase:
        return lambda sent: _tokenize_13a(rules, sent.lower().rstrip())
    return lambda sent: _tokenize_13a(rules, sent.rstrip())


def _bleu(metric: Any, hypotheses: Sequence[str], references: Sequence[Sequence[str | None]]) -> np.ndarray:
    if not metric._force and sum(h.endswith(" .") for h in hypotheses) >= 100:
        sacrelogger = logging.getLogger("sacrebleu")
        sacrelogger.warning("That's 100 lines that end in a tokenized period ('.')")
        sacrelogger.warning("It looks like you forgot to detokenize your test data, which may hurt your score.")
        sacrelogger.warning("If you insist your data is detokenized, or don't care, you can suppress this message "
                            "with the `force` parameter.")
    texts = _Texts(hypotheses, references, bleu_preprocessor(metric))
    n, order = texts.n, metric.max_ngram_order
    tokens, lengths = _word_ids(texts.texts)
    stats = np.zeros((n, 2 + 2 * order), dtype=np.float64)
    hyp_len = lengths[:n]
    stats[:, 0] = hyp_len
    # Closest reference length, the shorter one on a tie (sacrebleu's _get_closest_ref_len).
    ref_len, ref_seg = lengths[n:], texts.segment[n:]
    pick = np.lexsort((ref_len, np.abs(hyp_len[ref_seg] - ref_len), ref_seg))
    first = np.ones(len(pick), dtype=bool)
    first[1:] = ref_seg[pick][1:] != ref_seg[pick][:-1]
    stats[ref_seg[pick][first], 1] = ref_len[pick][first]
    for n_, (keys, counts, size) in enumerate(_pair_counts(tokens, lengths, order)):
        split = _hyp_split(keys, n, size)
        hyp_keys, hyp_counts = keys[:split], counts[:split]
        # A reference n-gram's count is the largest over the segment's references.
        ref_keys = texts.segment[keys[split:] // size] * size + keys[split:] % size
        merged, where = np.unique(ref_keys, return_inverse=True)
        most = np.zeros(len(merged), dtype=np.int64)
        np.maximum.at(most, where, counts[split:])
        matched = np.minimum(hyp_counts, _lookup(merged, most, hyp_keys))
        stats[:, 2 + n_] = np.bincount(hyp_keys // size, weights=matched, minlength=n)
        stats[:, 2 + order + n_] = np.maximum(hyp_len - n_, 0)
    return stats


def _chrf(metric: Any, hypotheses: Sequence[str], references: Sequence[Sequence[str | None]]) -> np.ndarray:
    texts = _Texts(hypotheses, references, metric._preprocess_segment)
    n = texts.n
    lines = texts.texts if metric.whitespace else ["".join(t.split()) for t in texts.texts]
    streams = [(*_char_ids(lines), metric.char_order)]
    if metric.word_order > 0:
        streams.append((*_word_ids(texts.texts, _chrf_word_split(metric._PUNCTS)), metric.word_order))
    # Per text (hypotheses, then references) and order: [hyp count, ref count, matches].
    per_ref = np.zeros((texts.refs, 3 * metric.order), dtype=np.float64)
    column = 0
    ref_segment = texts.segment[n:]
    for tokens, lengths, order in streams:
        for n_, (keys, counts, size) in enumerate(_pair_counts(tokens, lengths, order)):
            split = _hyp_split(keys, n, size)
            ref_keys, ref_counts = keys[split:], counts[split:]
            ref_text = ref_keys // size
            as_hyp = texts.segment[ref_text] * size + ref_keys % size
            matched = np.minimum(ref_counts, _lookup(keys[:split], counts[:split], as_hyp))
            ref_total = np.maximum(lengths[n:] - n_, 0)
            hyp_total = np.maximum(lengths[:n] - n_, 0)[ref_segment]
            per_ref[:, column] = np.where(ref_total > 0, hyp_total, 0)
            per_ref[:, column + 1] = ref_total
            per_ref[:, column + 2] = np.bincount(ref_text - n, weights=matched, minlength=texts.refs)
            column += 3
    # Several references: the first with the best sentence-level F-score (sacrebleu's strict >).
    starts = np.searchsorted(ref_segment, np.arange(n + 1))
    stats = per_ref[starts[:-1]].copy()
    for i in np.flatnonzero(np.diff(starts) > 1):
        best = -1.0
        for row in per_ref[starts[i]:starts[i + 1]]:
            f_score = metric._compute_f_score(row.tolist())
            if f_score > best:
                best, stats[i] = f_score, row
    return stats


def chrf_sentence_scores(metric: Any, stats: np.ndarray) -> np.ndarray:
    """``metric._compute_f_score(row)`` for every row of per-segment statistics, with numpy.

    The same float64 operations in the same order as sacrebleu's loop (IEEE arithmetic, no fused
    operations), so every score is bit-for-bit sacrebleu's; tests compare them exactly.
    """
    values = np.asarray(stats, dtype=np.float64)
    eps, factor = 1e-16, metric.beta ** 2
    rows = len(values)
    score = np.zeros(rows)
    avg_prec, avg_rec = np.zeros(rows), np.zeros(rows)
    effective = np.zeros(rows, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(metric.order):
            n_hyp, n_ref, n_match = values[:, 3 * i], values[:, 3 * i + 1], values[:, 3 * i + 2]
            prec = np.where(n_hyp > 0, n_match / n_hyp, eps)
            rec = np.where(n_ref > 0, n_match / n_ref, eps)
            denom = factor * prec + rec
            score += np.where(denom > 0, (1 + factor) * prec * rec / denom, eps)
            both = (n_hyp > 0) & (n_ref > 0)
            avg_prec += np.where(both, prec, 0.0)
            avg_rec += np.where(both, rec, 0.0)
            effective += both
        if metric.eps_smoothing:
            return 100 * score / metric.order
        avg_prec = np.where(effective > 0, avg_prec / effective, 0.0)
        avg_rec = np.where(effective > 0, avg_rec / effective, 0.0)
        total = avg_prec + avg_rec
        f_score = (1 + factor) * avg_prec * avg_rec / ((factor * avg_prec) + avg_rec)
        return np.where(total != 0, 100 * f_score, 0.0)
