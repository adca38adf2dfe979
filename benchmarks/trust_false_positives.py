"""False positives of the review checks on good human translations, and planted errors caught.

The seed articles' reference translations (evaluation/references/translations.fr-en.jsonl) are
assessed as if a system had produced them, fr→en and (source and reference swapped) en→fr, with
the packaged thresholds; then errors are planted one at a time into the fr→en references (the
rest of the run unchanged) and the share caught is counted. Prints a Markdown table.

    python benchmarks/trust_false_positives.py
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from toolkit.config import load_defaults
from toolkit.quality import CHECKS, Pair, assess

REFERENCES = Path(__file__).resolve().parent.parent / "evaluation" / "references" / "translations.fr-en.jsonl"


def pairs() -> list[Pair]:
    records = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    return [Pair(r["source"], r["reference"], r["doc_id"], r["segment"]) for r in records]


def false_positives() -> list[str]:
    options = load_defaults().quality
    columns = {}
    for direction in ("fr-en", "en-fr"):
        run = pairs() if direction == "fr-en" else [Pair(p.output, p.source, p.doc_id, p.position) for p in pairs()]
        source, target = direction.split("-")
        assessed = assess(run, source, target, options)
        column = {}
        for name in CHECKS:
            flagged = sum(any(f.name == name for f in a.flags) for a in assessed)
            unchecked = sum(any(s.name == name for s in a.unchecked) for a in assessed)
            column[name] = f"{flagged}/{len(run)}" + (f" ({unchecked} not checked)" if unchecked else "")
        column["risk ok"] = f"{sum(a.risk == 'ok' for a in assessed)}/{len(run)}"
        columns[direction] = column
    lines = ["| check | fr→en flagged | en→fr flagged |", "|---|---|---|"]
    lines += [f"| {name} | {columns['fr-en'][name]} | {columns['en-fr'][name]} |" for name in columns["fr-en"]]
    return lines


def _change_number(text: str) -> str | None:
    match = re.search(r"\d", text)
    return None if match is None else text[:match.start()] + str((int(match.group()) + 1) % 10) + text[match.end():]


PLANTED: dict[str, tuple[str, Callable[[Pair], str | None]]] = {
    "a number changed by one": ("numbers", lambda p: _change_number(p.output)),
    "the source left untranslated": ("untranslated", lambda p: p.source),
    "a 2-word loop ×4 appended": ("repetition", lambda p: p.output + " the the" * 4),
    "the output cut to half": ("length-ratio", lambda p: p.output[: len(p.output) // 2]),
}


def planted() -> list[str]:
    options = load_defaults().quality
    base = pairs()
    lines = ["| planted error | caught by its check |", "|---|---|"]
    for label, (check, plant) in PLANTED.items():
        caught = tried = 0
        for index, pair in enumerate(base):
            changed = plant(pair)
            if changed is None or changed == pair.output:
                continue
            run = list(base)
            run[index] = Pair(pair.source, changed, pair.doc_id, pair.position)
            assessment = assess(run, "fr", "en", options)[index]
            tried += 1
            caught += any(f.name == check for f in assessment.flags)
        lines.append(f"| {label} (`{check}`) | {caught}/{tried} |")
    return lines


if __name__ == "__main__":
    print("\n".join(false_positives() + [""] + planted()))
