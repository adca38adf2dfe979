"""Protected spans and Markdown structure survive translation by a random-weight model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import seed_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.io.documents import Document
from toolkit.text.markdown import (
    TABLE_ROW,
    TEXT,
    VERBATIM,
    classify_lines,
    is_alignment_row,
)
from toolkit.text.protect import find_protected, pieces, restore
from toolkit.text.segment import segment_document


def kinds_and_texts(text: str, markdown: bool = False) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start:s.end]) for s in find_protected(text, markdown)]


def test_plain_text_spans() -> None:
    text = ("Voir https://fr.wikipedia.org/wiki/Paris_(ville). Écrivez à jean.dupont@afp.fr ou @jdupont, "
            "lisez /etc/hosts, docs/guide.md et C:\\Users\\ana\\notes.txt ; {name} a %s messages, %(count)d lus. "
            "Il a 81,31 % des voix, et/ou 24/7.")
    assert kinds_and_texts(text) == [
        ("url", "https://fr.wikipedia.org/wiki/Paris_(ville)"), ("email", "jean.dupont@afp.fr"),
        ("handle", "@jdupont"), ("path", "/etc/hosts"), ("path", "docs/guide.md"),
        ("path", "C:\\Users\\ana\\notes.txt"), ("placeholder", "{name}"), ("placeholder", "%s"),
        ("placeholder", "%(count)d")]


def test_markdown_spans_keep_link_text_translatable() -> None:
    text = "Le `code. x` et [le site](https://ex.fr/a \"titre\"), ![une image](img/a.png), <b>gras</b> <!-- note -->."
    assert kinds_and_texts(text, markdown=True) == [
        ("code", "`code. x`"), ("link", "["), ("link", "](https://ex.fr/a \"titre\")"), ("link", "!["),
        ("link", "](img/a.png)"), ("html-tag", "<b>"), ("html-tag", "</b>"), ("html-comment", "<!-- note -->")]


def test_no_sentence_ends_inside_a_protected_span() -> None:
    doc = segment_document("Lancez `make test. Puis attendez.` pour voir. Ensuite partez.", "fr", markdown=True)
    assert doc.paragraphs[0].sentences == ["Lancez `make test. Puis attendez.` pour voir.", "Ensuite partez."]


def test_markdown_blocks() -> None:
    lines = ["---", "title: Un titre", "---", "# Titre", "", "| a | b |", "|:--|--:|", "| c | d `x|y` |",
             "Texte après.", "```python", "print('x')", "```", "<!-- un", "commentaire -->", "[id]: https://x.fr"]
    assert classify_lines(lines) == [VERBATIM] * 3 + [TEXT, TEXT, TABLE_ROW, VERBATIM, TABLE_ROW, TEXT] + [VERBATIM] * 6
    assert is_alignment_row("| :--- | ---: |") and not is_alignment_row("| a - b |")
    doc = segment_document("| Le chat. Le chien. | `x|y` | Fin |\n|---|---|---|\n", "fr", markdown=True)
    row = doc.paragraphs[0]
    assert row.table_row and row.sentences == ["Le chat.", "Le chien.", "`x|y`", "Fin"]
    assert row.separators == [" ", " | ", " | "]


def test_restore_cleans_what_a_model_may_emit() -> None:
    parts = pieces("Voir {name} ici.", [(5, 11)])
    assert [p.text for p in parts] == ["Voir ", "{name}", " ici."]
    assert restore(parts, ["See", "here."], ["{name}"]) == ("See {name} here.", 0)
    # A copy of a protected span, a line break and (in a table cell) a pipe are removed or escaped.
    assert restore(parts, ["See {name}", "here\nnow | x"], ["{name}"], table_cell=True) == ("See {name} here now \\| x", 2)


@pytest.fixture(scope="module")
def translator(tiny_marian: Path):
    from toolkit.tasks.translate import Translator

    return Translator.from_pretrained(str(tiny_marian), "fr", "en", device="cpu", backend="torch")


WORDS = sorted({w for text in seed_texts() for w in re.findall(r"[^\W\d_]{3,}", text)})[:300]


@st.composite
def protected_span(draw: st.DrawFn, markdown: bool) -> tuple[str, str]:
    """(how it appears in the document, the part that must come back verbatim)."""
    n = draw(st.integers(0, 99))
    word = draw(st.sampled_from(WORDS))
    plain = [f"https://ex{n}.org/p/{word}.html", f"ana{n}@mail.fr", f"@user{n}", f"/srv/data/f{n}.txt",
             "{name}", "%s", f"%(count{n})d", f"docs/part{n}.md"]
    marked = [f"`x = {n}; y.`", f"<https://a{n}.io/x>", f"<b{n % 3}>", "</em>", f"<!-- note {n} -->"]
    kind = draw(st.sampled_from(plain + marked + ["link", "image"] if markdown else plain))
    if kind in ("link", "image"):
        target = f"](https://l{n}.fr/{word})" if kind == "link" else f"](img/{word}{n}.png)"
        return f"{'!' if kind == 'image' else ''}[{word} {draw(st.sampled_from(WORDS))}{target}", target
    return kind, kind


@st.composite
def sentence_with_spans(draw: st.DrawFn, markdown: bool) -> tuple[str, list[str]]:
    parts, kept = [], []
    for _ in range(draw(st.integers(1, 4))):
        parts.append(" ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))))
        if draw(st.booleans()):
            shown, verbatim = draw(protected_span(markdown))
            parts.append(shown)
            kept.append(verbatim)
    return " ".join(parts).capitalize() + draw(st.sampled_from([".", " !", "?", ""])), kept


@st.composite
def document(draw: st.DrawFn) -> tuple[str, bool, list[str]]:
    """A random text or Markdown document and the protected strings it holds."""
    markdown = draw(st.booleans())
    lines: list[str] = []
    kept: list[str] = []
    if markdown and draw(st.booleans()):
        lines += ["---", f"title: {draw(st.sampled_from(WORDS))}", "---"]
    for _ in range(draw(st.integers(1, 6))):
        block = draw(st.sampled_from(["text", "blank", "heading", "item", "table", "fence"] if markdown
                                     else ["text", "blank"]))
        if block == "blank":
            lines.append("")
        elif block == "fence":
            lines += ["```", f"{draw(st.sampled_from(WORDS))}. Pas traduit.", "```"]
        elif block == "table":
            columns = draw(st.integers(1, 3))
            for row in range(draw(st.integers(2, 4))):
                if row == 1:
                    lines.append("|" + "|".join([":---"] * columns) + "|")
                    continue
                cells = [draw(sentence_with_spans(True)) for _ in range(columns)]
                lines.append("| " + " | ".join(text for text, _ in cells) + " |")
                kept += [k for _, spans in cells for k in spans]
        else:
            sentences = [draw(sentence_with_spans(markdown)) for _ in range(draw(st.integers(1, 3)))]
            marker = {"heading": "## ", "item": "- "}.get(block, "")
            lines.append(marker + " ".join(text for text, _ in sentences))
            kept += [k for _, spans in sentences for k in spans]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"])), markdown, kept


def pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(document())
def test_protected_spans_and_layout_survive_a_random_model(translator, case: tuple[str, bool, list[str]]) -> None:
    text, markdown, kept = case
    doc = Document(id="d", text=text, source="d.md" if markdown else "d.txt", format="md" if markdown else "txt")
    result = translator.translate_document(doc)
    source_lines, output_lines = text.split("\n"), result.output.split("\n")
    assert len(output_lines) == len(source_lines)
    for span in set(kept):
        assert result.output.count(span) == text.count(span), span
    kinds = classify_lines(source_lines) if markdown else [TEXT] * len(source_lines)
    for kind, source, output in zip(kinds, source_lines, output_lines):
        if kind == VERBATIM or not any(ch.isalpha() for ch in source):
            assert output == source
        if kind == TABLE_ROW:
            assert pipes(output) == pipes(source)
    assert sum(r.protected for r in result.segments) >= len(kept)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["|", " | ", "---", ":--", "`", "``", "[", "](", ")", "<b>", "<!--", "-->", "\n",
                                 "```", "+++", "# ", "- ", "http://a.b/c", "x@y.fr", "@h", "{n}", "%s", "/a/b",
                                 "Le chat.", " Il dort ! ", "été", "\\|", "  "]), max_size=30))
def test_markdown_segmentation_is_lossless(parts: list[str]) -> None:
    text = "".join(parts)
    for markdown in (True, False):
        doc = segment_document(text, "fr", markdown=markdown)
        assert doc.reassemble() == text
        for para in doc.paragraphs:
            assert all(s and s == s.strip() for s in para.sentences)
            for sentence, spans in zip(para.sentences, para.protected):
                assert all(0 <= a < b <= len(sentence) for a, b in spans)
