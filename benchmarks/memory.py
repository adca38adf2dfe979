"""Work never done twice (#29): deduplication and the translation memory, whole process.

    python benchmarks/memory.py [--docs 5000] [--out DIR] [--size small|opus-mt] [--backend ct2]

Builds a JSONL corpus of news-like French documents with the repetition of a wire feed
(generated deterministically, ``--seed``), then runs ``python -m toolkit translate corpus.jsonl``
in its own process four times, side by side:

1. default (identical sentences decoded once);
2. ``--no-dedupe`` (every copy decoded), whose outputs must equal run 1's byte for byte;
3. ``--tm FILE`` on a fresh memory (first run);
4. ``--tm FILE`` again (second run: everything from the memory), outputs equal to run 1's.

The corpus: stories of 3–5 body sentences, each published in 1–8 successive versions (a version
rewrites or adds one sentence, so versions share most sentences), each document headed by a
dateline (20 cities × 4 agencies) and a byline (40 reporters), followed by a "Lire aussi" line
pointing at another story's title, an agency credit and one of 6 boilerplate lines. Sentences are
templates filled from fixed word lists. The share of repeated sentences is measured by the
toolkit itself (the manifest's ``units``) and printed with the results.

The model has random weights around the real opus-mt tokenizer (../shared/models/opus-mt-tc-big-
fr-en-tokenizer) when present; ``--size small`` (default: d_model 256, 3+3 layers) keeps the
whole benchmark near 10 minutes on 2 cores, ``--size opus-mt`` is opus-mt-fr-en's size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit.io.runs import cpu_model

REPO = Path(__file__).resolve().parents[1]
# The project's shared folder beside the checkout (or beside a worktree's parent: /work/wt/<branch>).
SHARED_TOKENIZER = next((p / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer" for p in REPO.parents
                         if (p / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer").is_dir()),
                        REPO.parent / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer")
SIZES = {"small": dict(d_model=256, layers=3, heads=4, ffn=1024),
         "opus-mt": dict(d_model=512, layers=6, heads=8, ffn=2048),
         "tiny": dict(d_model=64, layers=1, heads=2, ffn=128)}

CITIES = ["PARIS", "LYON", "MARSEILLE", "BRUXELLES", "GENÈVE", "BORDEAUX", "LILLE", "TOULOUSE", "NANTES",
          "STRASBOURG", "MONTRÉAL", "DAKAR", "ABIDJAN", "RABAT", "TUNIS", "BEYROUTH", "ROME", "MADRID",
          "BERLIN", "LONDRES"]
AGENCIES = ["AFP", "Reuters", "AP", "Belga"]
FIRST = ["Marie", "Jean", "Sophie", "Pierre", "Claire", "Luc", "Anne", "Paul", "Julie", "Marc"]
LAST = ["Dupont", "Martin", "Bernard", "Petit"]
SUBJECTS = ["Le gouvernement", "Le président", "La ministre de la Santé", "Le maire", "Le syndicat",
            "La commission européenne", "Le procureur", "L'entreprise", "Le conseil municipal", "La police",
            "Le Premier ministre", "L'opposition", "Les enseignants", "La Banque centrale", "Le tribunal"]
VERBS = ["a annoncé", "a démenti", "a confirmé", "a présenté", "a critiqué", "a défendu", "a reporté",
         "a proposé", "a rejeté", "a salué"]
OBJECTS = ["un nouveau plan d'investissement", "la réforme des retraites", "une hausse des impôts locaux",
           "la fermeture de l'usine", "un accord sur les salaires", "le projet de loi", "une enquête préliminaire",
           "la construction d'un pont", "des mesures d'urgence", "le budget de l'année prochaine",
           "un programme de rénovation", "la nomination d'un médiateur"]
WHEN = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "ce matin", "hier soir"]
DETAILS = ["selon un communiqué", "devant la presse", "à l'issue d'une réunion", "dans un entretien télévisé",
           "sans donner de détails", "après des semaines de négociations"]
BOILERPLATE = ["Tous droits de reproduction réservés.", "Cet article a été mis à jour.",
               "Les informations de cet article sont susceptibles d'évoluer.",
               "Inscrivez-vous à notre lettre d'information.", "Retrouvez toute l'actualité sur notre site.",
               "Cet article est réservé aux abonnés."]


def sentence(rng: random.Random) -> str:
    amount = rng.choice([f"{rng.randint(2, 900)} millions d'euros", f"{rng.randint(2, 99)} %",
                         f"{rng.randint(10, 5000)} personnes"])
    return (f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(WHEN)} {rng.choice(OBJECTS)}, "
            f"{rng.choice(DETAILS)}, pour {amount}.")


def corpus(docs: int, seed: int) -> list[dict[str, Any]]:
    """``docs`` documents of successive story versions with wire-feed boilerplate (deterministic)."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    titles: list[str] = []
    story = 0
    while len(records) < docs:
        body = [sentence(rng) for _ in range(rng.randint(3, 5))]
        title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
        titles.append(title)
        dateline = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) -"
        byline = f"Par {rng.choice(FIRST)} {rng.choice(LAST)}."
        for version in range(rng.randint(1, 8)):
            if version:  # a new version rewrites one sentence or adds one
                if rng.random() < 0.5:
                    body[rng.randrange(len(body))] = sentence(rng)
                else:
                    body.insert(rng.randrange(len(body) + 1), sentence(rng))
            lines = [dateline, byline, *body, f"Lire aussi : {rng.choice(titles)}",
                     f"© {dateline.split('(')[1].split(')')[0]}", rng.choice(BOILERPLATE)]
            records.append({"id": f"story{story}-v{version}", "text": "\n\n".join(lines)})
            if len(records) == docs:
                break
        story += 1
    return records


def build_model(root: Path, size: str) -> Path:
    from toolkit.models.random import ENGLISH_SAMPLE, build_marian, build_marian_from_tokenizer

    dims = SIZES[size]
    real = SHARED_TOKENIZER.is_dir()
    key = hashlib.sha256(json.dumps([dims, real]).encode()).hexdigest()[:10]
    path = root / f"marian-{size}-{key}"
    if not (path / "config.json").exists():
        if real:
            build_marian_from_tokenizer(path, SHARED_TOKENIZER, **dims)
        else:
            seeds = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
            build_marian(path, seeds, ENGLISH_SAMPLE, vocab_size=8000, pad_vocab_to=59514, max_length=512,
                         num_beams=4, **dims)
    return path


def translate(corpus_path: Path, out: Path, model: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "toolkit", "translate", str(corpus_path), "--out", str(out), "--model", str(model),
               "--src", "fr", "--tgt", "en", "--backend", args.backend, "--beams", str(args.beams),
               "--max-new-tokens", str(args.tokens), "-q", "--json", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, cwd=REPO)
    seconds = time.perf_counter() - start
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    outputs = b"".join(p.read_bytes() for p in sorted(out.glob("**/*.jsonl"))
                       if p.name not in ("failures.jsonl",) and "details" not in p.name and ".run" not in p.name)
    totals = manifest.get("totals", {})
    units = {key: value for key, value in totals.items() if key.startswith("units")}
    return {"seconds": round(seconds, 2), "units": units,
            "outputs_sha256": hashlib.sha256(outputs).hexdigest(), "command": " ".join(command[1:])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--backend", default="ct2")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=16, help="--max-new-tokens of every sentence")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "benchmarks" / "memory")
    parser.add_argument("--commit", default=None, help="the commit measured, when run from an exported copy")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in ("dedupe", "no-dedupe", "tm-first", "tm-second", "news.tm", "news.tm-wal", "news.tm-shm"):
        target = args.out / stale
        if target.is_dir():
            import shutil

            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    load_start = os.getloadavg()
    records = corpus(args.docs, args.seed)
    corpus_path = args.out / "corpus.jsonl"
    corpus_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    model = build_model(args.out / "models", args.size)
    tm = args.out / "news.tm"
    runs = {name: translate(corpus_path, args.out / name, model, args, extra) for name, extra in (
        ("dedupe", []), ("no-dedupe", ["--no-dedupe"]), ("tm-first", ["--tm", str(tm)]),
        ("tm-second", ["--tm", str(tm)]))}
    units = runs["no-dedupe"]["units"] or {}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "commit": args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                                text=True, cwd=REPO).stdout.strip(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "corpus": {"documents": len(records), "bytes": corpus_path.stat().st_size, "seed": args.seed,
                   "units": units.get("units"),
                   "distinct_units": (runs["dedupe"]["units"] or {}).get("units_decoded")},
        "model": {"size": args.size, **SIZES[args.size], "real_tokenizer": SHARED_TOKENIZER.is_dir(),
                  "backend": args.backend, "beams": args.beams, "max_new_tokens": args.tokens},
        "runs": runs,
        "dedupe_speedup": round(runs["no-dedupe"]["seconds"] / runs["dedupe"]["seconds"], 2),
        "tm_second_run_speedup": round(runs["tm-first"]["seconds"] / runs["tm-second"]["seconds"], 2),
        "identical_outputs": len({r["outputs_sha256"] for r in runs.values()}) == 1,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if not report["identical_outputs"]:
        raise SystemExit("outputs differ between runs")


if __name__ == "__main__":
    main()
