"""`toolkit review`: which translations to trust — checks, confidence and risk, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from toolkit.cli.app import app
from toolkit.cli.common import GlossaryOption, JsonOption, KeepOption, OverwriteOption, QuietOption
from toolkit.cli.output import print_json, printable, reader_may_leave, stderr, user_errors, warn
from toolkit.errors import ToolkitError


@app.command()
def review(
    run_dir: Annotated[str | None, typer.Argument(metavar="RUN_DIR", help="A translate run folder (its sources and outputs).")] = None,
    hyp: Annotated[str | None, typer.Option("--hyp", help="Translations from any system: run folder, JSONL or text (one segment per line), aligned as for evaluate.")] = None,
    src: Annotated[str | None, typer.Option("--src", help="Their sources: text, JSONL (source) or a run folder (default: the sources --hyp holds).")] = None,
    src_lang: Annotated[str | None, typer.Option("--src-lang", help="Language of the sources (default: identified from them).")] = None,
    tgt_lang: Annotated[str | None, typer.Option("--tgt-lang", help="Language of the translations (default: the run's, else the configured target language, said on stderr; never guessed from the translations).")] = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder for review.jsonl and review.html (default: outputs/review-<time>).")] = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Check translations without references: untranslated, wrong language, repetition, length,
    numbers, terms, truncation; a risk per sentence and a report (review.html) worst first."""
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.io.run_core import changed_files
        from toolkit.io.runs import RunFolder, base_manifest, default_run_dir
        from toolkit.quality.report import write_review
        from toolkit.quality.review import review_paths
        from toolkit.text.glossary import load_glossary

        if (run_dir is None) == (hyp is None):
            raise ToolkitError("give a translate run folder (RUN_DIR) or --hyp, not both" if run_dir and hyp
                               else "nothing to review: give a translate run folder (RUN_DIR) or --hyp")
        target = run_dir or hyp
        assert target is not None
        terms = load_glossary(glossary, keep or [])
        inputs = [Path(p) for p in (target, src, glossary) if p]
        with RunFolder(out or default_run_dir("review"), overwrite=overwrite, inputs=inputs) as run:
            defaults = load_defaults()
            options = defaults.quality
            result = review_paths(target, src, src_lang, tgt_lang, options, terms.entries if terms else None,
                                  default_target_lang=defaults.translation.target_lang)
            summary = write_review(result, run, Path(target).name)
            folder = run.commit({**base_manifest("review"), "task": "review", "hyp": target, "src": src,
                                 "source_lang": result.source_lang, "target_lang": result.target_lang,
                                 "target_lang_from": result.target_lang_from,
                                 "quality": options.model_dump(mode="json"), "summary": _small(summary)})
        edited = changed_files(Path(target)) if src is None and (Path(target) / "manifest.json").is_file() else []
        with reader_may_leave():
            if edited and not quiet:
                warn(f"{len(edited)} output file(s) of {target} changed since its run (first: {edited[0]}): review "
                     "read the translations the run recorded, not the edits; review an edited file with --hyp FILE "
                     "--src SOURCE")
            if result.target_lang_from == "default" and not quiet:
                warn(f"target language not given: assuming {result.target_lang}, the configured default "
                     "(pass --tgt-lang to set it)")
            if as_json:
                print_json({"run_dir": str(folder), "review_jsonl": str(folder / "review.jsonl"),
                            "review_html": str(folder / "review.html"), **summary})
            elif not quiet:
                _print_summary(summary, result, folder)


def _small(summary: dict[str, Any]) -> dict[str, Any]:
    """The manifest's copy: counts only (per-document lists live in review.jsonl)."""
    return {k: summary[k] for k in ("sentences", "risk", "flags", "unchecked")}


def _print_summary(summary: dict[str, Any], result: Any, folder: Path) -> None:
    risks = summary["risk"]
    stderr.print(f"Reviewed {summary['sentences']} sentences ({result.source_lang} → {result.target_lang}): "
                 f"{risks['ok']} ok, {risks['review']} review, {risks['likely-wrong']} likely-wrong")
    flags = Table(title="Flags", title_justify="left")
    flags.add_column("check")
    flags.add_column("sentences", justify="right")
    for name, count in summary["flags"].items():
        flags.add_row(name, str(count))
    stderr.print(flags)
    if summary["unchecked"]:
        stderr.print("Not checked: " + ", ".join(f"{k} on {v} sentence(s)" for k, v in summary["unchecked"].items())
                     + " (review.jsonl says why)")
    records = result.records()
    worst = [i for i in result.worst_first()[:5] if records[i]["risk"] != "ok"]
    if worst:
        table = Table(title="Worst sentences", title_justify="left")
        for column in ("where", "risk", "output", "flags"):
            table.add_column(column)
        for i in worst:
            r = records[i]
            output = r["output"] if len(r["output"]) <= 60 else r["output"][:59] + "…"
            table.add_row(Text(printable(f"{r['doc_id']} #{r['position']}")), r["risk"], Text(printable(output)),
                          ", ".join(f["name"] for f in r["flags"]) or "low confidence")
        stderr.print(table)
    stderr.print(f"Wrote {folder}/review.html and review.jsonl")
