"""HTML documents: text and alt/title translated; tags, attributes, scripts and styles kept."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.text.html import visible_text
from toolkit.text.protect import pieces
from toolkit.text.segment import segment_html

PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Le président félicite son homologue</title>
<style>p.note { color: #333; } /* Pas traduit. */</style>
<script>const message = "Ne pas traduire. Jamais.";</script></head>
<body>
<h1 class="titre" id="top">Vladimir Poutine s'est félicité de la victoire</h1>
<p>Le président <b>russe</b> a salué M. Tokaïev. Il a parlé d'un &laquo;&nbsp;succès notable&nbsp;&raquo; !
Voir <a href="https://ex.fr/article.html?id=3&amp;p=2">l'article complet</a> sur le site.</p>
<img src="/img/kremlin.jpg" alt="Le Kremlin à Moscou" width="640"><br/>
<!-- Un commentaire. Pas traduit. -->
<ul><li>Premier point.</li><li title="Une infobulle">Second point, avec <code>du code. Pas traduit.</code></li></ul>
<pre>Texte préformaté. Pas traduit.</pre><p translate="no">Nom de marque. Pas traduit.</p>
</body></html>
"""


class Skeleton(HTMLParser):
    """Every tag with its attributes (alt and title values left out), comments, and the content of
    elements that must stay untranslated."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.items: list[tuple] = []
        self.raw: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.items.append(("start", tag, [(k, v if k not in ("alt", "title") else "·") for k, v in attrs]))
        if tag not in ("meta", "img", "br"):
            self.open.append("no" if ("translate", "no") in attrs else tag)

    def handle_startendtag(self, tag, attrs):
        self.items.append(("void", tag, [(k, v if k not in ("alt", "title") else "·") for k, v in attrs]))

    def handle_endtag(self, tag):
        self.items.append(("end", tag))
        self.open.pop()

    def handle_comment(self, data):
        self.items.append(("comment", data))

    def handle_decl(self, decl):
        self.items.append(("decl", decl))

    def handle_data(self, data):
        if set(self.open) & {"script", "style", "code", "pre", "no"}:
            self.raw.append(data)


def skeleton(html: str) -> Skeleton:
    parser = Skeleton()
    parser.feed(html)
    parser.close()
    return parser


def test_segmentation_is_lossless_and_finds_the_text() -> None:
    doc = segment_html(PAGE, "fr")
    assert doc.reassemble() == PAGE
    sentences = [s for _, _, s in doc.sentences]
    assert sentences[0] == "Le président félicite son homologue"
    assert "Le président <b>russe</b> a salué M. Tokaïev." in sentences
    assert "Le Kremlin à Moscou" in sentences and "Une infobulle" in sentences
    joined = " ".join(part.text for para in doc.paragraphs for text, spans in zip(para.sentences, para.protected)
                      for part in pieces(text, spans) if part.translatable)  # what the model would read
    for untouched in ("Ne pas traduire", "Pas traduit", "color", "kremlin.jpg", "ex.fr"):
        assert untouched not in joined
    assert "Pas traduit" not in visible_text(PAGE) and "Le Kremlin" in visible_text(PAGE)


def test_translated_page_keeps_tags_attributes_scripts_and_styles(tiny_marian: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    result = CliRunner().invoke(app, ["translate", str(page), "-m", str(tiny_marian), "--src", "fr",
                                      "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    output = (tmp_path / "run" / "page.html").read_text(encoding="utf-8")
    source, translated = skeleton(PAGE), skeleton(output)
    assert translated.items == source.items  # same tags, same attributes, same comments, same order
    assert len(source.raw) == 5 and translated.raw == source.raw  # script, style, code, pre, translate="no"
    assert visible_text(output) != visible_text(PAGE)  # and the text did go through the model
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any(s["protected"] for s in manifest["documents"][0]["segments"])  # <b>, </b>, <a …>


def test_format_html_reads_stdin_as_html(tiny_marian: Path) -> None:
    result = CliRunner().invoke(app, ["translate", "-", "-m", str(tiny_marian), "--src", "fr", "--format", "html",
                                      "--out", "-", "--quiet"], input="<p>Le <i>chat</i> dort.</p>\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<p>") and "<i>" in result.stdout and "</i>" in result.stdout


_TAGS = st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<br>", "<div class=\"a\">", "</div>", "<!-- x. Y -->",
                         "<img alt=\"Un chat. Noir\" src=\"a.png\">", "<script>var a = 'b. C';</script>",
                         "&amp;", "&eacute;", "<a href='x.html' title=\"T\">", "</a>", "\n", "<"])
_TEXT = st.text(alphabet=st.sampled_from(list("abcé .!?MD\n")), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_TAGS, _TEXT), max_size=20))
def test_html_segmentation_is_lossless(parts: list[str]) -> None:
    text = "".join(parts)
    doc = segment_html(text, "fr")
    assert doc.reassemble() == text
    for para in doc.paragraphs:
        assert all(s and s == s.strip() for s in para.sentences)


def test_pipeline_summarises_the_text_of_a_page_not_its_markup(tiny_marian: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    result = CliRunner().invoke(app, ["pipeline", str(page), "--translator", str(tiny_marian), "--src", "fr",
                                      "--summarizer", "lead-2", "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    translation = (tmp_path / "run" / "translations" / "page.html").read_text(encoding="utf-8")  # pipeline keeps the input format
    assert skeleton(translation).items == skeleton(PAGE).items
    summary = (tmp_path / "run" / "summaries" / "page.txt").read_text(encoding="utf-8")
    assert summary.strip() and "<" not in summary and "&" not in summary
