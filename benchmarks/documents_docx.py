"""A 50-page .docx translated end to end by `toolkit translate`: wall time and the peak RSS of the
whole process (the CLI in a subprocess: reading, segmentation, the model, the formatting
alignment, writing).

    python benchmarks/documents_docx.py [--pages 50] [--model DIR] [--backend ct2|torch] [--out DIR]

Without --model it builds the tests' tiny random-weight MarianMT (toolkit.models.random), so the
figure measures the toolkit's own document path (and a tiny model), not a real model's speed:
with opus-mt-fr-en the model's share grows by orders of magnitude. Each page: a heading, seven
paragraphs of three of the seed articles' sentences (about 600 words a page; one in three with a
bold and an italic run inside a sentence), a 3×3 table every fifth page, an explicit page break;
a header and a footer. The first ct2 run also converts the model (cached afterwards).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sentences() -> list[str]:
    from toolkit.text.segment import split_sentences

    out: list[str] = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out += split_sentences(line, "fr")
    return out


def build_docx(pages: int) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    pool = sentences()
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Revue de presse — édition du soir"
    document.sections[0].footer.paragraphs[0].text = "Document interne, ne pas diffuser"
    k = 0
    for page in range(pages):
        document.add_heading(pool[k % len(pool)][:60], level=2)
        for n in range(7):
            text = " ".join(pool[(k + i) % len(pool)] for i in range(3))
            k += 3
            paragraph = document.add_paragraph()
            if n % 3 == 0:
                words = text.split(" ")
                paragraph.add_run(" ".join(words[:6]) + " ")
                paragraph.add_run(" ".join(words[6:9]) + " ").bold = True
                paragraph.add_run(" ".join(words[9:20]) + " ")
                paragraph.add_run(" ".join(words[20:23]) + " ").italic = True
                paragraph.add_run(" ".join(words[23:]))
            else:
                paragraph.add_run(text)
        if page % 5 == 4:
            table = document.add_table(rows=3, cols=3)
            for i, cell in enumerate(table._cells):
                cell.text = pool[(k + i) % len(pool)][:80]
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _words(path: Path) -> int:
    import docx

    return sum(len(p.text.split()) for p in docx.Document(str(path)).paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--backend", default="ct2")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench-documents")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model is None:
        sys.path.insert(0, str(REPO / "tests"))
        from toolkit.models.random import build_marian

        model = args.out / "tiny-marian"
        if not (model / "config.json").exists():
            texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
            build_marian(model, texts)
    source = args.out / "fifty-pages.docx"
    source.write_bytes(build_docx(args.pages))
    run = args.out / "run"
    command = [sys.executable, "-m", "toolkit", "translate", str(source), "-m", str(model), "--backend", args.backend,
               "--device", "cpu", "--out", str(run), "--overwrite", "--quiet", "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((run / "manifest.json").read_text())
    entry = manifest["documents"][0]
    print(json.dumps({"pages": args.pages, "input_bytes": source.stat().st_size, "backend": args.backend,
                      "model": str(model), "seconds": round(seconds, 1), "peak_rss_mib": round(peak_kib / 1024),
                      "source_words": _words(source), "output_words": _words(run / source.name),
                      "blocks": entry["document"]["blocks"], "sentences": len(entry["segments"]),
                      "structure_kept": entry["document"]["structure_kept"],
                      "counts": entry["document"]["counts_after"]}, indent=2))


if __name__ == "__main__":
    main()
