"""`toolkit evaluate`: metrics with confidence intervals and paired tests."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
import typer.core

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.app import app
from toolkit.cli.common import (
    DeviceOption,
    GlossaryOption,
    JsonOption,
    KeepOption,
    LsumSplit,
    OverwriteOption,
    Stem,
)
from toolkit.cli.output import print_json, stderr, user_errors
from toolkit.errors import ToolkitError


@app.command()
def evaluate(
    hyp: Annotated[str, typer.Option("--hyp", help="Run folder of translate/summarize/pipeline, JSONL, or text (one segment per line).")],
    ref: Annotated[list[str] | None, typer.Option("--ref", help="References: JSONL (reference / references) or text; repeat for several references. Not needed for numbers and terms alone.")] = None,
    src: Annotated[str | None, typer.Option("--src", help="Source texts, for COMET, numbers and terms: text (one segment per line), JSONL (source), or a translate run folder (default: the sources in --hyp's run folder or JSONL, else in --ref's JSONL).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="translation or summarization (default: from the run's manifest).")] = None,
    metrics: Annotated[str | None, typer.Option("--metrics", help="Comma-separated: bleu,chrf,ter,rouge (or rouge1,rouge2,rougeL,rougeLsum), bertscore, comet, and the reference-free numbers and terms (they read the sources).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of the texts scored (default: from the manifest, else en).")] = None,
    src_lang: Annotated[str | None, typer.Option("--src-lang", help="Language of the sources, for numbers (default: identified from them).")] = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    stem: Annotated[Stem, typer.Option("--stem", help="ROUGE stemming: auto (Porter for English, as rouge-score's use_stemmer=True; none otherwise), yes (Porter/Snowball), no.")] = Stem.auto,
    lsum_split: Annotated[LsumSplit, typer.Option("--lsum-split", help="ROUGE-Lsum sentences: newline (the text's lines, as rouge-score) or sentences (split each line with toolkit's segmenter).")] = LsumSplit.newline,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples (and randomization trials).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed for resampling.")] = 12345,
    baseline: Annotated[str | None, typer.Option("--baseline", help="A second system to compare with (paired tests).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="New folder for scores.json, scores.csv, scores.md.")] = None,
    overwrite: OverwriteOption = False,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes extracting metric statistics of large inputs (0: one per CPU, at most 8).")] = 0,
    bertscore_model: Annotated[str | None, typer.Option("--bertscore-model", help="BERTScore model: hub id or local folder (default: roberta-large for English, bert-base-multilingual-cased otherwise).")] = None,
    bertscore_layers: Annotated[int | None, typer.Option("--bertscore-layers", help="BERTScore layer (default: bert-score's for the model, else its last).")] = None,
    comet_model: Annotated[str | None, typer.Option("--comet-model", help="COMET model (a RegressionMetric checkpoint): hub id or local folder with hparams.yaml and checkpoints/model.ckpt (default: Unbabel/wmt22-comet-da; on CPUs consider Unbabel/eamt22-cometinho-da).")] = None,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Score translations (BLEU, chrF++, TER) or summaries (ROUGE) with confidence intervals;
    COMET (needs the sources); BERTScore with the optional "neural" extra; numbers and terms
    accuracy (from the sources, no reference needed)."""
    with user_errors():
        from toolkit.evaluation import evaluate_paths
        from toolkit.evaluation.report import signatures, table, write_reports
        from toolkit.io.runs import RunFolder, base_manifest
        from toolkit.text.glossary import load_glossary

        names = [m for m in metrics.split(",") if m.strip()] if metrics is not None else None
        if names == []:
            raise ToolkitError("--metrics: no metric given (e.g. --metrics bleu,chrf)")
        terms = load_glossary(glossary, keep or [])
        refs = ref or []
        inputs = [Path(p) for p in [hyp, *refs, baseline, src, glossary] if p]
        run = RunFolder(out, overwrite=overwrite, inputs=inputs) if out is not None else None
        with run if run is not None else nullcontext():
            from toolkit.evaluation.options import EvaluationOptions, NeuralOptions

            neural = NeuralOptions(comet_model, bertscore_model, bertscore_layers, device)
            options = EvaluationOptions(task, lang, stem.value, lsum_split.value, bootstrap, seed, jobs, neural, src_lang,
                                        terms.entries if terms else None)
            result = evaluate_paths(hyp, refs, names, options, baseline=baseline, src=src).to_dict()
            if run is not None:
                write_reports(result, run)
                run.commit({**base_manifest("evaluate"), "task": "evaluation"})
        if as_json:
            print_json(result)
        else:
            stderr.print(table(result))
            stderr.print(signatures(result), soft_wrap=True)
            if out is not None:
                stderr.print(f"Wrote {out}/scores.json, scores.csv, scores.md")


