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
        # tokens at -inf in both: x - logsumexp(x) is the renormalised distribution CTranslate2
        # scores. Two passes over the row (top-k, logsumexp), nothing of the vocabulary's size kept.
        top = scores.topk(max(self.k, 2), dim=-1)
        forced = ~torch.isfinite(top.values[:, 1])  # a single allowed token: forced by a rule
        values = top.values[:, :self.k] - torch.logsumexp(scores, dim=-1, keepdim=True)
        self.steps.append((top.indices[:, :self.k], values, forced))
        return scores

    def means(self, sequences: Any, prompt_length: int, beam_indices: Any, eos_id: int | None,
              pad_id: int | None) -> list[float | None]:
        results: list[float | None] = []
        for row in range(sequences.shape[0]):
            total, count, complete = 0.0, 0, True
            for step, (ids, values, forced) in enumerate(self.steps):
                position = prompt_length + step
                if position >= sequences.shape[1]:
                    break
                if beam_indices is not None:
                    source = int(beam_indices[row, step]) if step < beam_indices.shape[1] else -1
                    if source < 0:
                        break
                else:
                    source = row
                token = int(sequences[row, position])
                if beam_indices is None and token == pad_id and pad_id != eos_id:
                    break  # greedy rows are padded once they have ended
                if not bool(forced[source]):
                    found = (ids[source] == token).nonzero()
                    if len(found) == 0:
                        complete = False
                        break
                    total += float(values[source, int(found[0])])
                    count += 1
                if token == eos_id:
                    break
            results.append(min(0.0, total / count) if complete and count else None)
        return results
