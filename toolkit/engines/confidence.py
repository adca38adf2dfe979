"""Model confidence: the length-normalised log-probability of the chosen hypothesis.

One definition for both backends: the mean, over the tokens the model chose (its end token
included; a token forced by a generation rule — BART's start token, the end token forced at the
generation limit — excluded), of the token's log-probability in the distribution generation chose
it from: the log-softmax of the model's logits once the generation rules have removed the tokens
they forbid (the end token before the minimum length, repeated n-grams, suppressed tokens). That
is what CTranslate2's scores sum (``ct2_confidence`` undoes their length penalty), and the torch
backend records the same during ``generate``. It is ≤ 0; 0 means certain.

The torch backend's recorder is the last logits processor: per step it takes one log-softmax over
the vocabulary and keeps, once the next step shows which tokens were chosen, only their
log-probabilities — never the ``rows × vocabulary`` scores that ``output_scores`` would keep
(benchmarks/confidence_cost.py measures what it costs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    """Records the log-probabilities of the tokens ``generate`` chooses, step by step.

    Pass it as the last logits processor; ``means(sequences, prompt_length, beam_indices, eos_id,
    pad_id)`` then gives one confidence per output row."""

    def __init__(self, num_beams: int, end_ids: Sequence[int]) -> None:
        self.beams = max(1, num_beams)
        # The last step's candidates (nothing follows it): a beam search's candidates for the next
        # step are the best 2 × beams of all its rows, so each chosen token is among the best
        # 2 × beams of its own row.
        self.k = 1 if num_beams == 1 else 2 * num_beams
        self.end_ids = [int(i) for i in end_ids]
        self.steps: list[tuple[Any, Any, Any]] = []  # per step: candidate ids, their log-probs, forced rows
        self.previous: Any = None  # the last step's log-probabilities, until the next step shows its choices

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        # Greedy search hands processors logits, beam search log-probabilities, the forbidden
        # tokens at -inf in both: their log-softmax is the renormalised distribution CTranslate2
        # scores. One log-softmax per step is the whole cost over the vocabulary: which tokens the
        # step chose is read from the next step's inputs (their last column), so no top-k is taken.
        if self.previous is not None:
            self._resolve(self.previous, input_ids[:, -1])
        self.previous = torch.log_softmax(scores, dim=-1)
        return scores

    def _resolve(self, log_probs: Any, chosen: Any) -> None:
        """Keeps, for each row of the previous step, the log-probabilities of the tokens chosen in
        its group (the rows of one input: beam search may continue any of them from any row) and of
        the end tokens (a hypothesis that ended leaves the running rows)."""
        import torch

        rows = log_probs.shape[0]
        ids = chosen.reshape(-1, self.beams).repeat_interleave(self.beams, dim=0)[:rows]
        if self.end_ids:
            ends = torch.tensor(self.end_ids, device=ids.device, dtype=ids.dtype).expand(rows, -1)
            ids = torch.cat([ids, ends], dim=1)
        self._keep(log_probs, ids, log_probs.gather(-1, ids))

    def _keep(self, log_probs: Any, ids: Any, values: Any) -> None:
        import torch

        # A single allowed token (forced by a rule) has log-probability exactly 0: only rows with a
        # candidate at 0 can be forced, and only those rows are counted over the vocabulary.
        forced = torch.zeros(log_probs.shape[0], dtype=torch.bool, device=log_probs.device)
        suspects = (values == 0).any(dim=-1)
        if bool(suspects.any()):
            forced[suspects] = torch.isfinite(log_probs[suspects]).sum(dim=-1) <= 1
        self.steps.append((ids, values, forced))

    def finish(self) -> None:
        """Records the last step, which no next step follows: its best candidates and end tokens."""
        import torch

        if self.previous is None:
            return
        log_probs, self.previous = self.previous, None
        top = log_probs.topk(min(self.k, log_probs.shape[-1]), dim=-1).indices
        if self.end_ids:
            ends = torch.tensor(self.end_ids, device=top.device, dtype=top.dtype).expand(top.shape[0], -1)
            top = torch.cat([top, ends], dim=1)
        self._keep(log_probs, top, log_probs.gather(-1, top))

    def means(self, sequences: Any, prompt_length: int, beam_indices: Any, eos_id: int | None,
              pad_id: int | None) -> list[float | None]:
        """One confidence per row of ``sequences`` (None where a chosen token was not recorded,
        which only ties at the last step's top-k boundary could cause). ``beam_indices`` (beam search): the
        row of each step's candidates that each output token came from; None for greedy search."""
        import torch

        self.finish()
        rows = sequences.shape[0]
        steps = min(len(self.steps), sequences.shape[1] - prompt_length)
        if beam_indices is not None:
            steps = min(steps, beam_indices.shape[1])
        if steps <= 0:
            return [None] * rows
        width = max(s[0].shape[1] for s in self.steps[:steps])  # the last step keeps more candidates

        def padded(tensor: Any, fill: float) -> Any:
            return torch.nn.functional.pad(tensor, (0, width - tensor.shape[1]), value=fill)

        ids = torch.stack([padded(s[0], -1) for s in self.steps[:steps]]).cpu()  # (steps, candidate rows, width)
        values = torch.stack([padded(s[1], 0.0) for s in self.steps[:steps]]).cpu()
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
        match = ids[step, origin] == tokens[..., None]  # (rows, steps, width)
        found = match.any(dim=-1)
        # A token may be a candidate twice (two rows of a group chose it): the same value, taken once.
        first = match.to(torch.uint8).argmax(dim=-1, keepdim=True)
        chosen = torch.where(found, values[step, origin].gather(-1, first)[..., 0],
                             torch.zeros_like(found, dtype=values.dtype))
        counted = valid & ~forced[step, origin]
        results: list[float | None] = []
        for row in range(rows):
            count = int(counted[row].sum())
            if count == 0 or bool((counted[row] & ~found[row]).any()):
                results.append(None)
            else:
                results.append(min(0.0, float(chosen[row][counted[row]].sum()) / count))
        return results
