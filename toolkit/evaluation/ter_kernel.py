"""sacrebleu's TER search compiled with numba: the same edits for every segment, 28-43x faster than the Python port.

Imported only when numba is installed (``toolkit[fast]``); ``ter.statistics`` falls back to the
pure-Python port otherwise. This is ``sacrebleu.metrics.lib_ter.translation_edit_rate`` step for
step on integer word ids (equal words, equal ids): Tercom's shift search with its limits (shift size
10, distance 50, 1000 candidates per segment), its ranking of candidates (largest gain, then
longest, earliest start, earliest target), and the beam-limited edit distance with its tie-breaking
(no-op/substitution, then deletion, then insertion, each only if strictly cheaper). Two things are
left out because they change no result: sacrebleu's prefix cache of matrix rows (a memo; every
candidate of one segment has the hypothesis's length, so the beam is the same) and the last
edit-distance call (it repeats the one that ended the search). Tests check the statistics equal
``TER()._extract_corpus_statistics`` on property-generated, lopsided and candidate-limit cases.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_INF = 10**16  # lib_ter._INT_INFINITY
_NOP, _SUB, _INS, _DEL, _UNDEF = 0, 1, 2, 3, 4
_MAX_SHIFT_SIZE, _MAX_SHIFT_DIST, _MAX_SHIFT_CANDIDATES, _BEAM_WIDTH = 10, 50, 1000, 25


@numba.njit(cache=True)
def _edit_distance(h: np.ndarray, r: np.ndarray, ops: np.ndarray, trace: np.ndarray) -> tuple[int, int]:
    """lib_ter.BeamEditDistance: (distance, trace length); the trace (rewriting h into r) goes to ``trace``."""
    n_h, n_r = len(h), len(r)
    ratio = n_r / n_h if n_h > 0 else 1.0
    beam = math.ceil(ratio / 2 + _BEAM_WIDTH) if ratio / 2 > _BEAM_WIDTH else _BEAM_WIDTH
    costs = np.empty((n_h + 1, n_r + 1), dtype=np.int64)
    for j in range(n_r + 1):
        costs[0, j] = j
        ops[0, j] = _INS
    for i in range(1, n_h + 1):
        pseudo_diag = math.floor(i * ratio)
        min_j = max(0, pseudo_diag - beam)
        max_j = n_r + 1 if i == n_h else min(n_r + 1, pseudo_diag + beam)
        for j in range(n_r + 1):
            costs[i, j] = _INF
            ops[i, j] = _UNDEF
        word = h[i - 1]
        if min_j == 0:
            costs[i, 0] = costs[i - 1, 0] + 1
            ops[i, 0] = _DEL
            min_j = 1
        left = costs[i, min_j - 1]
        for j in range(min_j, max_j):
            if word == r[j - 1]:
                best, op = costs[i - 1, j - 1], _NOP
            else:
                best, op = costs[i - 1, j - 1] + 1, _SUB
            if best >= _INF:
                best, op = _INF, _UNDEF
            cost = costs[i - 1, j] + 1
            if cost < best:
                best, op = cost, _DEL
            cost = left + 1
            if cost < best:
                best, op = cost, _INS
            costs[i, j] = best
            left = best
            ops[i, j] = op
    i, j, k = n_h, n_r, 0
    while i > 0 or j > 0:
        op = ops[i, j]
        trace[k] = op
        k += 1
        if op in (_SUB, _NOP):
            i -= 1
            j -= 1
        elif op == _INS:
            j -= 1
        elif op == _DEL:
            i -= 1
        else:
            raise ValueError("TER: undefined operation on the edit path")
    trace[:k] = trace[:k][::-1].copy()
    return costs[n_h, n_r], k


@numba.njit(cache=True)
def _perform_shift(words: np.ndarray, start: int, length: int, target: int) -> np.ndarray:
    """lib_ter._perform_shift (its three cases, with Python's slice clamping)."""
    n = len(words)
    out = np.empty(n, dtype=words.dtype)
    if target < start:
        bounds = ((0, target), (start, start + length), (target, start), (start + length, n))
    elif target > start + length:
        bounds = ((0, start), (start + length, target), (start, start + length), (target, n))
    else:
        bounds = ((0, start), (start + length, length + target), (start, start + length), (length + target, n))
    k = 0
    for a, b in bounds:
        a, b = min(max(a, 0), n), min(max(b, 0), n)
        for x in range(a, b):
            out[k] = words[x]
            k += 1
    return out[:k]


@numba.njit(cache=True)
def _shift(words_h: np.ndarray, words_r: np.ndarray, checked: int) -> tuple[int, np.ndarray, int, int]:
    """lib_ter._shift: the best shift's gain, the shifted words, the candidates checked so far, and
    the edit distance of ``words_h`` itself."""
    n_h, n_r = len(words_h), len(words_r)
    ops = np.empty((n_h + 1, n_r + 1), dtype=np.int8)
    trace = np.empty(n_h + n_r, dtype=np.int8)
    pre_score, steps = _edit_distance(words_h, words_r, ops, trace)
    # trace_to_alignment of the flipped trace: a deletion from h advances the hypothesis, an insertion
    # the reference.
    align = np.zeros(n_r, dtype=np.int64)
    aligned = np.zeros(n_r, dtype=np.bool_)
    hyp_err = np.zeros(n_h, dtype=np.int64)
    ref_err = np.zeros(n_r, dtype=np.int64)
    pos_h, pos_r = -1, -1
    for t in range(steps):
        op = trace[t]
        if op in (_NOP, _SUB):
            pos_h += 1
            pos_r += 1
            align[pos_r], aligned[pos_r] = pos_h, True
            if op == _SUB:
                hyp_err[pos_h] = 1
                ref_err[pos_r] = 1
        elif op == _DEL:
            pos_h += 1
            hyp_err[pos_h] = 1
        else:
            pos_r += 1
            align[pos_r], aligned[pos_r] = pos_h, True
            ref_err[pos_r] = 1
    found = False
    best_gain, best_length, best_start, best_idx = 0, 0, 0, 0
    best_words = words_h
    for start_h in range(n_h):
        for start_r in range(n_r):
            if abs(start_r - start_h) > _MAX_SHIFT_DIST:
                continue
            length = 0
            while words_h[start_h + length] == words_r[start_r + length] and length < _MAX_SHIFT_SIZE:
                length += 1
                # one (start_h, start_r, length) of lib_ter._find_shifted_pairs
                if hyp_err[start_h:start_h + length].sum() != 0 and ref_err[start_r:start_r + length].sum() != 0 \
                        and not (start_h <= align[start_r] < start_h + length):
                    prev_idx = -1
                    for offset in range(-1, length):
                        if start_r + offset == -1:
                            idx = 0
                        elif aligned[start_r + offset]:
                            idx = align[start_r + offset] + 1
                        else:
                            break
                        if idx == prev_idx:
                            continue
                        prev_idx = idx
                        shifted = _perform_shift(words_h, start_h, length, idx)
                        gain = pre_score - _edit_distance(shifted, words_r, ops, trace)[0]
                        checked += 1
                        # lib_ter's candidate tuple (gain, length, -start_h, -idx), compared with >
                        if not found or (gain, length, -start_h, -idx) > (best_gain, best_length, -best_start,
                                                                          -best_idx):
                            found = True
                            best_gain, best_length, best_start, best_idx = gain, length, start_h, idx
                            best_words = shifted
                    if checked >= _MAX_SHIFT_CANDIDATES:
                        return (best_gain if found else 0), best_words, checked, pre_score
                if n_h == start_h + length or n_r == start_r + length:
                    break
    return (best_gain if found else 0), best_words, checked, pre_score


@numba.njit(cache=True)
def _translation_edit_rate(words_hyp: np.ndarray, words_ref: np.ndarray) -> int:
    """Edits (shifts + edit distance) of lib_ter.translation_edit_rate."""
    if len(words_ref) == 0:
        return len(words_hyp)
    shifts, checked = 0, 0
    words = words_hyp
    while True:
        delta, shifted, checked, distance = _shift(words, words_ref, checked)
        if checked >= _MAX_SHIFT_CANDIDATES or delta <= 0:
            break
        shifts += 1
        words = shifted
    return shifts + distance  # lib_ter's last edit-distance call: the same words as the last search's


@numba.njit(cache=True)
def _edits_of_pairs(hyp_ids: np.ndarray, hyp_bounds: np.ndarray, ref_ids: np.ndarray,
                    ref_bounds: np.ndarray) -> np.ndarray:
    out = np.empty(len(hyp_bounds) - 1, dtype=np.int64)
    for p in range(len(out)):
        out[p] = _translation_edit_rate(hyp_ids[hyp_bounds[p]:hyp_bounds[p + 1]],
                                        ref_ids[ref_bounds[p]:ref_bounds[p + 1]])
    return out


def edits(pairs: list[tuple[list[str], list[str]]]) -> np.ndarray:
    """TER edits of every (hypothesis words, reference words) pair, as lib_ter.translation_edit_rate."""
    vocab: dict[str, int] = {}
    hyp_ids: list[int] = []
    ref_ids: list[int] = []
    hyp_bounds, ref_bounds = [0], [0]
    for words_hyp, words_ref in pairs:
        hyp_ids += [vocab.setdefault(w, len(vocab)) for w in words_hyp]
        ref_ids += [vocab.setdefault(w, len(vocab)) for w in words_ref]
        hyp_bounds.append(len(hyp_ids))
        ref_bounds.append(len(ref_ids))
    return _edits_of_pairs(np.asarray(hyp_ids, dtype=np.int32), np.asarray(hyp_bounds, dtype=np.int64),
                           np.asarray(ref_ids, dtype=np.int32), np.asarray(ref_bounds, dtype=np.int64))


NumbaError = numba.core.errors.NumbaError  # what compiling can raise (an unsupported numba or numpy)
