"""Model confidence: the length-normalised log-probability of the chosen hypothesis.

One definition for both backends: the mean, over the tokens the model chose (its end token
included; a token forced by a generation rule — BART's start token, the end token forced at the
generation limit — excluded), of the token's log-probability in the distribution generation chose
it from: the log-softmax of the model's logits once the generation rules have removed the tokens
they forbid (the end token before the minimum length, repeated n-grams, suppressed tokens). That
is what CTranslate2's scores sum (``ct2_confidence`` undoes their length penalty), and the torch
backend records the same during ``generate``. It is ≤ 0; 0 means certain.

The torch backend's recorder is the last logits processor: per step it keeps the ``2 × beams``
best candidates of each row and their log-probabilities — never the ``rows × vocabulary`` scores
that ``output_scores`` would keep (benchmarks/confidence_cost.py measures what it costs).
"""

from __future__ import annotations

import math
from typing import Any


def ct2_confidence(score: float, hypothesis_tokens: int, prefix_tokens: int, ended: bool,
                   length_penalty: float) -> float | None:
    """The mean log-probability from a CTranslate2 score.

    CTranslate2 divides the sum of the chosen tokens' log-probabilities (its end token's included,
    its target prefix's not) by ``length ** length_penalty``, where ``length`` counts the
    hypothesis as returned (prefix included, end token left out) plus the end token when there
    was one (``ended``). Checked against the torch backend's recorded log-probabilities
    (tests/test_quality_confidence.py)."""
    length = hypothesis_tokens + int(ended)
    chosen = length - prefix_tokens
    if chosen <= 0 or not math.isfinite(score):
        return None
    return min(0.0, score * length ** length_penalty / chosen)


class ChosenTokenScores:
    """Records the log-probabilities of the tokens ``generate`` may choose, step by step.

    Pass it as the last logits processor; ``means(sequences, prompt_length, beam_indices, eos_id,
    pad_id)`` then gives one confidence per output row."""

    def __init__(self, num_beams: int) -> None:
        # A beam search's candidates for the next step are the best 2 × beams of all its rows, so
        # each chosen token is among the best 2 × beams of its own row.
        self.k = 1 if num_beams == 1 else 2 * num_beams
        self.steps: list[tuple[Any, Any, Any]] = []  # per step: candidate ids, their log-probs, forced rows

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        # Greedy search hands processors logits, beam search log-probabilities, the forbidden
        # tokens at -inf in both: their log-softmax is the renormalised distribution CTranslate2
        # scores. A top-k and a log-softmax per step (measured cheaper on the CPU than logsumexp
        # or isfinite over the vocabulary); only the candidates' values are kept.
        top = scores.topk(max(self.k, 2), dim=-1)
        forced = top.values[:, 1] == float("-inf")  # a single allowed token: forced by a rule
        ids = top.indices[:, :self.k]
        values = torch.log_softmax(scores, dim=-1).gather(-1, ids)
        self.steps.append((ids, values, forced))
        return scores

    def means(self, sequences: Any, prompt_length: int, beam_indices: Any, eos_id: int | None,
              pad_id: int | None) -> list[float | None]:
        """One confidence per row of ``sequences`` (None where a chosen token was not recorded,
        which only ties at the top-k boundary could cause). ``beam_indices`` (beam search): the
        row of each step's candidates that each output token came from; None for greedy search."""
        import torch

        rows = sequences.shape[0]
        steps = min(len(self.steps), sequences.shape[1] - prompt_length)
        if beam_indices is not None:
            steps = min(steps, beam_indices.shape[1])
        if steps <= 0:
            return [None] * rows
        ids = torch.stack([s[0] for s in self.steps[:steps]]).cpu()  # (steps, candidate rows, k)
        values = torch.stack([s[1] for s in self.steps[:steps]]).cpu()
        forced = torch.stack([s[2] for s in self.steps[:steps]]).cpu()  # (steps, candidate rows)
        tokens = sequences[:, prompt_length:prompt_length + steps]  # (rows, steps)
        if beam_indices is not None:
            origin = beam_indices[:, :steps].long()
            valid = origin >= 0
            origin = origin.clamp(min=0)
        else:
            origin = torch.arange(rows)[:, None].expand(rows, steps)
            ends = tokens == eos_id if eos_id is not None else torch.zeros_like(tokens, dtype=torch.bool)
            valid = (torch.cumsum(ends.long(), dim=1) - ends.long()) == 0  # up to and with the end token
            if pad_id is not None and pad_id != eos_id:
                valid &= tokens != pad_id
        step = torch.arange(steps)[None, :].expand(rows, steps)
        match = ids[step, origin] == tokens[..., None]  # (rows, steps, k)
        found = match.any(dim=-1)
        chosen = torch.where(match, values[step, origin], torch.zeros_like(values[step, origin])).sum(dim=-1)
        counted = valid & ~forced[step, origin]
        results: list[float | None] = []
        for row in range(rows):
            count = int(counted[row].sum())
            if count == 0 or bool((counted[row] & ~found[row]).any()):
                results.append(None)
            else:
                results.append(min(0.0, float(chosen[row][counted[row]].sum()) / count))
        return results
