"""Structured files (srt, vtt, po, docx, pptx, xliff): read, translate with a tiny random model,
write back; the structure and every untouched part must survive, whatever the model emits."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.errors import InputError
from toolkit.io.formats import format_for, read_structured
from toolkit.io.formats.base import FormatError, Segment
from toolkit.io.results import DocumentResult, SegmentRecord
from toolkit.options import DocumentOptions
from toolkit.tasks.documents import dropped_formatting, restyle, translate_file

FRENCH = ["Le président a parlé hier soir.", "Les journalistes ont posé des questions.", "Merci beaucoup.",
          "La ville de Paris prépare les jeux.", "Il pleut depuis trois jours."]


@pytest.fixture(scope="module")
def translator(tiny_marian: Path):
    from toolkit import Translator

    return Translator.from_pretrained(str(tiny_marian), backend="torch", device="cpu", max_new_tokens=12)


def _members(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {n: archive.read(n) for n in archive.namelist()}


# --- the alignment rule --------------------------------------------------------------------

def _result(source: str, output: str) -> DocumentResult:
    return DocumentResult("b", "b", output, 0.0, 0, 0, segments=[SegmentRecord(0, 0, source, output)])


def test_a_sentence_in_one_run_keeps_its_style_exactly() -> None:
    segments = [Segment("Le président a parlé.", "b")]
    assert restyle(segments, _result("Le président a parlé.", "The president spoke.")) == (
        [Segment("The president spoke.", "b")], 0)


def test_a_run_found_verbatim_keeps_its_formatting_there_and_no_text_is_lost() -> None:
    segments = [Segment("Hier, ", ""), Segment("Emmanuel Macron", "bold"), Segment(" a parlé à Paris.", "")]
    source, output = "Hier, Emmanuel Macron a parlé à Paris.", "Yesterday Emmanuel Macron spoke in Paris."
    styled, spanning = restyle(segments, _result(source, output))
    assert spanning == 1
    assert "".join(s.text for s in styled) == output
    assert [s.text for s in styled if s.style == "bold"] == ["Emmanuel Macron"]


def test_runs_not_found_share_the_sentence_in_order_at_word_boundaries() -> None:
    segments = [Segment("Le ", "a"), Segment("chat", "b"), Segment(" dort.", "c")]
    styled, _ = restyle(segments, _result("Le chat dort.", "The cat is sleeping."))
    assert "".join(s.text for s in styled) == "The cat is sleeping."
    assert [s.style for s in styled] == ["a", "b", "c"][: len(styled)]
    for left, right in zip(styled, styled[1:]):  # cuts only between words
        assert left.text.endswith(" ") or right.text.startswith(" ")


def test_formatting_a_short_translation_cannot_carry_is_named() -> None:
    segments = [Segment("Le ", ""), Segment("président", "bold"), Segment(" a parlé.", "italic")]
    styled, _ = restyle(segments, _result("Le président a parlé.", "Oh"))  # two characters, three styles
    assert "".join(s.text for s in styled) == "Oh"
    lost = dropped_formatting(segments, styled)
    assert len(lost) == 1 and lost[0] in ("Le", "président", "a parlé.")
    full, _ = restyle(segments, _result("Le président a parlé.", "The president spoke."))
    assert dropped_formatting(segments, full) == []


def test_docx_run_formatting_dropped_by_a_short_output_is_a_warning_in_manifest_and_stderr(
        tiny_marian: Path, tmp_path: Path) -> None:
    """Two generated tokens cannot carry the styles of "Hier, **le président** a parlé devant
    *les journalistes*": a paragraph is named exactly when its written runs lost a formatting."""
    import json

    import docx
    from typer.testing import CliRunner

    from toolkit.cli import app

    source = tmp_path / "journal.docx"
    source.write_bytes(_docx())
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--backend", "torch",
                                      "--out", str(out), "--max-new-tokens", "2"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    (entry,) = manifest["documents"]
    named = {w.split(": ")[1] for w in entry["warnings"] if "too short to carry all its formatting" in w}
    before, after = docx.Document(str(source)), docx.Document(str(out / "journal.docx"))
    lost = set()
    for number, (pa, pb) in enumerate(zip(before.paragraphs, after.paragraphs), start=1):
        def formats(p):
            return {(bool(r.bold), bool(r.italic)) for r in p.runs if r.text.strip()}
        if formats(pb) and formats(pa) - formats(pb):
            lost.add(f"word/document.xml paragraph {number}")
    assert lost and named == lost
    stderr = " ".join(result.stderr.split())
    assert all(f"{place}: the translation is too short to carry all its formatting" in stderr for place in lost)


# --- subtitles -------------------------------------------------------------------------------

def _srt_bytes(cues: list[tuple[int, int, str]]) -> bytes:
    import srt

    return srt.compose([srt.Subtitle(i + 1, timedelta(milliseconds=a), timedelta(milliseconds=b), text)
                        for i, (a, b, text) in enumerate(cues)]).encode()


def _timing_lines(data: bytes) -> list[str]:
    return [line for line in data.decode().splitlines() if "-->" in line]


def test_srt_keeps_numbers_timecodes_and_settings_and_wraps_within_the_budget(translator) -> None:
    import srt

    source = _srt_bytes([(1000, 2500, "Le <i>président</i> a parlé\nhier soir."), (3000, 4200, FRENCH[1]),
                         (5000, 7000, FRENCH[2])]).replace(b"00:00:04,200", b"00:00:04,200 X1:100 X2:200")
    out, report = translate_file(source, translator, DocumentOptions(line_chars=30), name="talk.srt")
    assert _timing_lines(out) == _timing_lines(source)
    cues = list(srt.parse(out.decode()))
    assert [c.index for c in cues] == [1, 2, 3]
    assert report.counts_before == report.counts_after == {"cues": 3, "timing_lines": 3}
    for cue in cues:
        assert cue.content.strip()
        for line in re.sub(r"</?i>", "", cue.content).split("\n"):
            assert len(line) <= 30 or " " not in line.strip()
    assert out.decode().count("<i>") == out.decode().count("</i>") <= 1


def test_webvtt_keeps_header_notes_identifiers_and_cue_settings(translator) -> None:
    source = ("WEBVTT - journal\n\nNOTE relu le 3 mai\n\nintro\n00:01.000 --> 00:04.000 align:start line:0\n"
              f"<v Anne>{FRENCH[0]}\n\n00:05.000 --> 00:06.000\n{FRENCH[2]}\n").encode()
    out, report = translate_file(source, translator, name="news.vtt")
    text = out.decode()
    assert text.startswith("WEBVTT - journal\n\nNOTE relu le 3 mai\n\nintro\n00:01.000 --> 00:04.000 align:start line:0\n")
    assert _timing_lines(out) == _timing_lines(source)
    assert report.counts_after["cues"] == 2
    import webvtt

    assert len(webvtt.from_string(text).captions) == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000_000), st.integers(1, 5000),
                          st.text(st.characters(whitelist_categories=("L", "N", "Zs")), min_size=1, max_size=90)
                          .filter(lambda t: t.strip())), min_size=1, max_size=12))
def test_srt_round_trip_keeps_every_timing_line(cues: list[tuple[int, int, str]]) -> None:
    source = _srt_bytes([(a, a + d, text) for a, d, text in cues])
    fmt = format_for("x.srt")
    doc = read_structured(fmt, source, "x.srt")
    out = fmt.write(doc, [b.segments for b in doc.blocks])
    assert _timing_lines(out) == _timing_lines(source)
    again = read_structured(fmt, out, "x.srt")
    assert [" ".join(b.text.split()) for b in again.blocks] == [" ".join(b.text.split()) for b in doc.blocks]
    assert again.counts == doc.counts


# --- gettext ---------------------------------------------------------------------------------

PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

#: app.py:10
msgctxt "menu"
msgid "Ouvrir %s dans {folder} maintenant"
msgstr ""

#: app.py:12
msgid "Un fichier supprimé"
msgid_plural "%(count)d fichiers supprimés"
msgstr[0] ""
msgstr[1] ""

msgid "Annuler"
msgstr "Cancel"
'''


def test_po_fills_msgstr_and_plurals_keeps_msgids_and_placeholders_and_marks_fuzzy(translator) -> None:
    import polib

    out, report = translate_file(PO.encode(), translator, name="app.po")
    source, target = polib.pofile(PO), polib.pofile(out.decode())
    assert [(e.msgctxt, e.msgid, e.msgid_plural, e.occurrences) for e in target] == [
        (e.msgctxt, e.msgid, e.msgid_plural, e.occurrences) for e in source]
    opened, plural, kept = target
    assert "fuzzy" in opened.flags and "fuzzy" in plural.flags and "fuzzy" not in kept.flags
    assert opened.msgstr.count("%s") == 1 and opened.msgstr.count("{folder}") == 1
    assert set(plural.msgstr_plural) == {0, 1} and plural.msgstr_plural[1].count("%(count)d") == 1
    assert kept.msgstr == "Cancel"
    assert report.untranslated == [{"where": "msgid 'Annuler'", "why": "already translated: kept"}]
    assert report.counts_before == report.counts_after


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.text(st.characters(whitelist_categories=("L", "Zs", "P")), min_size=1, max_size=40)
                          .filter(lambda t: t.strip()), st.sampled_from(["", "%s ", "{name} ", "%(n)d "])),
                min_size=1, max_size=8, unique_by=lambda t: t[0] + t[1]))
def test_po_round_trip_keeps_every_msgid(messages: list[tuple[str, str]]) -> None:
    import polib

    catalogue = polib.POFile()
    for text, placeholder in messages:
        catalogue.append(polib.POEntry(msgid=placeholder + text, msgstr=""))
    fmt = format_for("x.po")
    doc = read_structured(fmt, str(catalogue).encode(), "x.po")
    out = polib.pofile(fmt.write(doc, [b.segments for b in doc.blocks]).decode())
    assert [e.msgid for e in out] == [e.msgid for e in catalogue]
    assert all(e.msgstr == e.msgid and "fuzzy" in e.flags for e in out)


def test_po_in_the_charset_its_header_declares_is_read_and_written_as_utf8(translator) -> None:
    """gettext allows any charset: an ISO-8859-1 catalogue was refused as "not valid UTF-8"; it is
    read in its declared charset and written in UTF-8, with a header that says so."""
    source = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=ISO-8859-1\\n"\n\n'
              'msgid "Café crème à Noël."\nmsgstr ""\n').encode("latin-1")
    out, report = translate_file(source, translator, name="latin.po")
    text = out.decode("utf-8")
    assert 'msgid "Café crème à Noël."' in text and "charset=UTF-8" in text and "ISO-8859-1" not in text
    assert report.translated == 1 and report.structure_kept
    with pytest.raises(FormatError, match="charset=NOPE, which is not a known encoding"):
        read_structured(format_for("x.po"), source.replace(b"ISO-8859-1", b"NOPE"), "x.po")
    with pytest.raises(FormatError, match="not valid UTF-8"):  # no declared charset: as before
        read_structured(format_for("x.po"), 'msgid "Café"\nmsgstr ""\n'.encode("latin-1"), "x.po")


# --- Word ------------------------------------------------------------------------------------

def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "red").save(buffer, "PNG")
    return buffer.getvalue()


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Le journal du soir", level=1)
    paragraph = document.add_paragraph("Hier, ")
    paragraph.add_run("le président").bold = True
    paragraph.add_run(" a parlé devant ")
    paragraph.add_run("les journalistes").italic = True
    paragraph.add_run(". Ils ont posé des questions.")
    document.add_paragraph(FRENCH[3], style="List Bullet")
    document.add_paragraph(FRENCH[4], style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(table._cells, FRENCH):
        cell.text = text
    document.add_picture(io.BytesIO(_png()))
    document.sections[0].header.paragraphs[0].text = "Édition du matin"
    document.sections[0].footer.paragraphs[0].text = "Page de garde"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_keeps_paragraphs_tables_headers_images_styles_and_run_formatting(translator) -> None:
    import docx

    source = _docx()
    out, report = translate_file(source, translator, name="journal.docx")
    assert report.structure_kept and report.counts_after["cells"] == 4 and report.counts_after["images"] == 1
    assert report.translated == report.blocks == 10
    before, after = _members(source), _members(out)
    assert list(before) == list(after)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"word/document.xml", "word/header1.xml", "word/footer1.xml"}
    a, b = docx.Document(io.BytesIO(source)), docx.Document(io.BytesIO(out))
    assert [p.style.name for p in a.paragraphs] == [p.style.name for p in b.paragraphs]
    assert len(b.tables) == 1 and all(c.text.strip() for c in b.tables[0]._cells)
    assert b.sections[0].header.paragraphs[0].text.strip() and b.sections[0].footer.paragraphs[0].text.strip()
    for pa, pb in zip(a.paragraphs, b.paragraphs):
        assert bool(pa.text.strip()) == bool(pb.text.strip())
        source_formats = {(r.bold, r.italic) for r in pa.runs}
        assert {(r.bold, r.italic) for r in pb.runs} <= source_formats  # no formatting invented
    mixed = b.paragraphs[1]
    if len(mixed.text) >= 5:  # room for three runs: the sentence's formatting was put back
        assert {(r.bold, r.italic) for r in mixed.runs} == {(None, None), (True, None), (None, True)}


def test_docx_inline_image_and_hyperlink_stay_in_place(translator) -> None:
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    paragraph = document.add_paragraph("Voir le site ")
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), document.part.relate_to("https://example.org", docx.opc.constants.RELATIONSHIP_TYPE.HYPERLINK,
                                                 is_external=True))
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "du journal"
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
    paragraph.add_run(" pour la suite. ")
    paragraph.add_run().add_picture(io.BytesIO(_png()))
    paragraph.add_run("Merci beaucoup.")
    buffer = io.BytesIO()
    document.save(buffer)
    out, report = translate_file(buffer.getvalue(), translator, name="link.docx")
    assert report.structure_kept and report.translated == 2  # two stretches around the image
    body = _members(out)["word/document.xml"].decode()
    assert body.count("<w:hyperlink") == 1 and body.count("<w:drawing>") == 1
    assert body.index("<w:hyperlink") < body.index("<w:drawing>")


# --- PowerPoint ------------------------------------------------------------------------------

def test_pptx_keeps_slides_shapes_tables_notes_and_layouts(translator) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Le journal du soir"
    frame = slide.placeholders[1].text_frame
    frame.text = FRENCH[0]
    paragraph = frame.add_paragraph()
    paragraph.add_run().text = "La ville de "
    bold = paragraph.add_run()
    bold.text = "Paris"
    bold.font.bold = True
    paragraph.add_run().text = " prépare les jeux."
    slide.notes_slide.notes_text_frame.text = "Notes de l'orateur pour la diapositive."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Les chiffres"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for (r, c), text in zip([(0, 0), (0, 1), (1, 0), (1, 1)], FRENCH):
        table.cell(r, c).text = text
    second.shapes.add_picture(io.BytesIO(_png()), Inches(1), Inches(5))
    buffer = io.BytesIO()
    deck.save(buffer)
    source = buffer.getvalue()
    out, report = translate_file(source, translator, name="deck.pptx")
    assert report.structure_kept
    assert report.counts_after["slides"] == 2 and report.counts_after["cells"] == 4
    assert report.counts_after["notes"] == 1 and report.counts_after["pictures"] == 1
    before, after = _members(source), _members(out)
    changed = {n for n in before if before[n] != after[n]}
    assert changed <= {"ppt/slides/slide1.xml", "ppt/slides/slide2.xml", "ppt/notesSlides/notesSlide1.xml"}
    result = Presentation(io.BytesIO(out))
    assert [s.slide_layout.name for s in result.slides] == [s.slide_layout.name for s in deck.slides]
    for a, b in zip(deck.slides, result.slides):
        assert [(s.shape_type, s.left, s.top, s.width, s.height) for s in a.shapes] == [
            (s.shape_type, s.left, s.top, s.width, s.height) for s in b.shapes]
    assert result.slides[0].notes_slide.notes_text_frame.text.strip()
    assert all(result.slides[1].shapes[1].table.cell(r, c).text.strip() for r in (0, 1) for c in (0, 1))


# --- XLIFF -----------------------------------------------------------------------------------

XLIFF12 = '''<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
 <file source-language="fr" target-language="en" datatype="plaintext" original="site.html">
  <body>
   <group id="g1">
    <trans-unit id="title"><source>Le <g id="1">président</g> a parlé<x id="2"/> hier soir.</source></trans-unit>
    <trans-unit id="code" translate="no"><source>Ne pas traduire</source></trans-unit>
   </group>
   <trans-unit id="done"><source>Merci</source><target>Thanks</target></trans-unit>
   <trans-unit id="ph"><source>Ouvrir <ph id="3">&lt;b&gt;</ph>le fichier<ph id="4">&lt;/b&gt;</ph> maintenant.</source></trans-unit>
  </body>
 </file>
</xliff>
'''
XLIFF20 = '''<xliff version="2.0" xmlns="urn:oasis:names:tc:xliff:document:2.0" srcLang="fr" trgLang="en">
 <file id="f1">
  <unit id="u1"><segment><source>Cliquez <pc id="1">ici</pc> pour <ph id="2"/> continuer.</source></segment>
   <segment><source>Merci beaucoup.</source></segment></unit>
 </file>
</xliff>
'''


def test_xliff12_fills_targets_for_review_and_keeps_ids_and_inline_tags(translator) -> None:
    from lxml import etree

    out, report = translate_file(XLIFF12.encode(), translator, name="site.xlf")
    root = etree.fromstring(out)
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    assert [u.get("id") for u in root.iterfind(".//x:trans-unit", ns)] == ["title", "code", "done", "ph"]
    for unit_id in ("title", "ph"):
        source = root.find(f".//x:trans-unit[@id='{unit_id}']/x:source", ns)
        target = root.find(f".//x:trans-unit[@id='{unit_id}']/x:target", ns)
        assert target.get("state") == "needs-review-translation" and target.get("state-qualifier") == "mt-suggestion"
        def inline(element):  # paired tags' text is translated, standalone ones' (native code) kept
            return [(e.tag, e.get("id"), e.text if e.tag.endswith(("}x", "}ph")) else "")
                    for e in element.iter() if e is not element]

        assert inline(source) == inline(target)
        assert "{tk" not in "".join(target.itertext())
    assert root.find(".//x:trans-unit[@id='code']/x:target", ns) is None
    assert root.find(".//x:trans-unit[@id='done']/x:target", ns).text == "Thanks"
    assert {u["why"] for u in report.untranslated} == {'translate="no"', "the target already holds a translation: kept"}
    assert report.structure_kept


def test_xliff20_marks_segments_translated_with_a_machine_substate(translator) -> None:
    from lxml import etree

    out, report = translate_file(XLIFF20.encode(), translator, name="app.xliff")
    ns = {"x": "urn:oasis:names:tc:xliff:document:2.0"}
    segments = etree.fromstring(out).findall(".//x:segment", ns)
    assert [(s.get("state"), s.get("subState")) for s in segments] == [("translated", "toolkit:mt")] * 2
    first = segments[0].find("x:target", ns)
    assert [(e.tag.split("}")[1], e.get("id")) for e in first.iter() if e is not first] == [("pc", "1"), ("ph", "2")]
    assert report.counts_after == report.counts_before


# --- PDF and EPUB ----------------------------------------------------------------------------

def _pdf(pages: list[list[str]], password: str | None = None) -> bytes:
    """A PDF with a text layer (Helvetica, one text line per string), built with pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                                NameObject("/Subtype"): NameObject("/Type1"),
                                                NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        ops += ["(" + line.replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in lines]
        stream = DecodedStreamObject()
        stream.set_data("\n".join([*ops, "ET"]).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_text_in_reading_order_becomes_markdown_page_by_page(translator) -> None:
    source = _pdf([["Le president a parle hier soir", "devant les journalistes."], ["Merci beaucoup."], []])
    out, report = translate_file(source, translator, name="rapport.pdf")
    text = out.decode()
    assert [int(n) for n in re.findall(r"^<!-- page (\d+) -->$", text, re.M)] == [1, 2, 3]
    assert report.counts_before == report.counts_after == {"pages": 3, "paragraphs": 2}
    assert report.untranslated == [{"where": "page 3", "why": "no text on this page (an image or a scan?); "
                                                           "OCR is not supported"}]


def _epub() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:'
                         'names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" '
                         'media-type="application/oebps-package+xml"/></rootfiles></container>')
        archive.writestr("OEBPS/content.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                         'version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                         '<dc:title>Le livre</dc:title><dc:identifier id="id">urn:x</dc:identifier><dc:language>fr'
                         '</dc:language></metadata><manifest><item id="nav" href="nav.xhtml" media-type="application/'
                         'xhtml+xml" properties="nav"/><item id="c1" href="text/ch1.xhtml" media-type="application/'
                         'xhtml+xml"/><item id="img" href="img/a.png" media-type="image/png"/></manifest><spine>'
                         '<itemref idref="c1"/></spine></package>')
        archive.writestr("OEBPS/nav.xhtml", '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/'
                         'xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Sommaire</title></head><body>'
                         '<nav epub:type="toc"><ol><li><a href="text/ch1.xhtml">Premier chapitre</a></li></ol></nav>'
                         '</body></html>')
        archive.writestr("OEBPS/text/ch1.xhtml", '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/'
                         '1999/xhtml"><head><title>Chapitre un</title></head><body><h1>Premier chapitre</h1><p>Le <b>'
                         'président</b> a parlé hier soir.</p><p><img src="../img/a.png" alt="Une image rouge"/></p>'
                         '<pre>code gardé</pre></body></html>')
        archive.writestr("OEBPS/img/a.png", _png())
    return buffer.getvalue()


def test_epub_chapters_and_navigation_through_the_html_path_everything_else_byte_for_byte(translator) -> None:
    from lxml import etree

    source = _epub()
    out, report = translate_file(source, translator, name="livre.epub")
    assert report.structure_kept and report.counts_after["chapters"] == 2
    before, after = _members(source), _members(out)
    assert list(before) == list(after) and zipfile.ZipFile(io.BytesIO(out)).infolist()[0].compress_type == 0
    assert {n for n in before if before[n] != after[n]} <= {"OEBPS/nav.xhtml", "OEBPS/text/ch1.xhtml"}
    chapter = etree.fromstring(after["OEBPS/text/ch1.xhtml"])  # still well-formed XHTML
    xhtml = "{http://www.w3.org/1999/xhtml}"
    assert [e.tag for e in chapter.iter()] == [e.tag for e in etree.fromstring(before["OEBPS/text/ch1.xhtml"]).iter()]
    assert chapter.find(f".//{xhtml}pre").text == "code gardé"
    assert chapter.find(f".//{xhtml}img").get("src") == "../img/a.png"


def test_epub_hrefs_are_urls_a_chapter_name_with_a_space_is_found(translator) -> None:
    """The package's href "text/Chapitre%201.xhtml" names the member "text/Chapitre 1.xhtml": the
    book was refused ("the package lists … which the container lacks")."""
    from toolkit.io.formats.base import rewrite_zip

    source = _epub()
    members = _members(source)
    opf = members["OEBPS/content.opf"].replace(b'href="text/ch1.xhtml"', b'href="text/Chapitre%201.xhtml#debut"')
    renamed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(rewrite_zip(source, {"OEBPS/content.opf": opf})), "r") as old, \
            zipfile.ZipFile(renamed, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "OEBPS/text/ch1.xhtml":
                info.filename = "OEBPS/text/Chapitre 1.xhtml"
            new.writestr(info, data)
    out, report = translate_file(renamed.getvalue(), translator, name="livre.epub")
    assert report.structure_kept and report.counts_after["chapters"] == 2
    assert _members(out)["OEBPS/text/Chapitre 1.xhtml"] != members["OEBPS/text/ch1.xhtml"]


# --- OpenDocument ----------------------------------------------------------------------------

def _odt() -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import A, H, Note, NoteBody, NoteCitation, P, Span

    document = OpenDocumentText()
    bold = Style(name="Gras", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    document.text.addElement(H(outlinelevel=1, text="Le journal du soir"))
    paragraph = P(text="Hier, ")
    paragraph.addElement(Span(stylename=bold, text="le président"))
    paragraph.addText(" a parlé.")
    note = Note(noteclass="footnote", id="n1")
    note.addElement(NoteCitation(text="1"))
    body = NoteBody()
    body.addElement(P(text="Une note de bas de page."))
    note.addElement(body)
    paragraph.addElement(note)
    paragraph.addText(" Voir ")
    paragraph.addElement(A(href="https://example.org", text="le site du journal"))
    paragraph.addText(" demain.")
    document.text.addElement(paragraph)
    table = Table(name="Chiffres")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for row_texts in (FRENCH[:2], FRENCH[2:4]):
        row = TableRow()
        table.addElement(row)
        for text in row_texts:
            cell = TableCell()
            cell.addElement(P(text=text))
            row.addElement(cell)
    document.text.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def test_odt_keeps_headings_spans_links_footnotes_and_tables(translator) -> None:
    from lxml import etree

    source = _odt()
    out, report = translate_file(source, translator, name="journal.odt")
    assert report.structure_kept and report.counts_after["cells"] == 4 and report.counts_after["notes"] == 1
    assert report.translated == 8  # heading, two stretches around the footnote, the footnote, four cells
    before, after = _members(source), _members(out)
    assert {n for n in before if before[n] != after[n]} == {"content.xml"}
    root = etree.fromstring(after["content.xml"])
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    link = root.find(f".//{{{text}}}a")
    assert link.get("{http://www.w3.org/1999/xlink}href") == "https://example.org"
    (note,) = root.iter(f"{{{text}}}note")
    assert note.getparent().tag == f"{{{text}}}p" and note.find(f"{{{text}}}note-citation").text == "1"
    assert "".join(note.find(f"{{{text}}}note-body").itertext()).strip()


@pytest.mark.parametrize("count", ["999999999", "-3", "x"])
def test_odt_space_counts_are_bounded_and_a_bad_one_is_one_line(count: str) -> None:
    """<text:s text:c="999999999"/> asked for a gigabyte of spaces from a file of a few bytes."""
    from toolkit.io.formats.base import rewrite_zip

    source = _odt()
    content = _members(source)["content.xml"]
    start = content.index(b"<text:p")
    inside = content.index(b">", start) + 1
    bad = rewrite_zip(source, {"content.xml": content[:inside] + f'<text:s text:c="{count}"/>'.encode()
                               + content[inside:]})
    with pytest.raises(FormatError, match=r"^x\.odt: content\.xml paragraph \d+: a text:s element with text:c="):
        read_structured(format_for("x.odt"), bad, "x.odt")


def test_odp_keeps_pages_frames_and_notes(translator) -> None:
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    deck = OpenDocumentPresentation()
    layout = PageLayout(name="Mise")
    deck.automaticstyles.addElement(layout)
    master = MasterPage(name="Maitre", pagelayoutname=layout)
    deck.masterstyles.addElement(master)
    for title in FRENCH[:2]:
        page = Page(masterpagename=master)
        frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
        box = TextBox()
        box.addElement(P(text=title))
        frame.addElement(box)
        page.addElement(frame)
        notes = Notes()
        note_frame = Frame(width="20cm", height="3cm", x="1cm", y="10cm")
        note_box = TextBox()
        note_box.addElement(P(text="Notes de l'orateur."))
        note_frame.addElement(note_box)
        notes.addElement(note_frame)
        page.addElement(notes)
        deck.presentation.addElement(page)
    buffer = io.BytesIO()
    deck.write(buffer)
    source = buffer.getvalue()
    out, report = translate_file(source, translator, name="deck.odp")
    assert report.structure_kept and report.counts_after["pages"] == 2 and report.counts_after["frames"] == 4
    assert report.translated == 4
    before, after = _members(source), _members(out)
    assert {n for n in before if before[n] != after[n]} == {"content.xml"}


# --- bad files -------------------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;">]><w:document xmlns:w="http://schemas.openxmlformats.org/'
                  b'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       b'<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file><body><trans-unit id="1">'
       b'<source>&e;</source></trans-unit></body></file></xliff>')


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("cut.docx", _docx()[:3000], "corrupt or truncated zip"),
    ("report.docx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "this is a PDF file"),
    ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted (password-protected)"),
    ("bomb.docx", _zip({"word/document.xml": b"<a>" + b" " * 8_000_000 + b"</a>"}), "zip bomb"),
    ("laughs.docx", _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": BILLION_LAUGHS}),
     "entity declarations"),
    ("xxe.xlf", XXE, "entity declarations"),
    ("other.pptx", _zip({"hello.txt": b"hi"}), "no ppt/presentation.xml"),
    ("broken.srt", b"1\n00:00:01,000 --> 00:00:0X,000\nBonjour\n", "line 1: expected a cue number and a timing line"),
    ("broken.vtt", b"WEBVTT\n\n00:01.000 -> 00:02.000\nBonjour\n", "expected a timing line"),
    ("broken.po", b'msgid "Bonjour"\nmsgstr ""\nbogus line\n', "not a valid gettext catalogue (Syntax error in po file (line 3))"),
    # polib reads this as msgid "unterminate" (its last letter dropped): the msgid would change silently.
    ("open.po", b'msgid "Bonjour"\nmsgstr ""\n\nmsgid "unterminated\nmsgstr ""\n',
     "unterminated or malformed string on line 4"),
    ("wrong.xlf", b"<html/>", "not XLIFF 1.2 or 2.0"),
    ("locked.pdf", _pdf([["Secret"]], password="pw"), "encrypted (password-protected) PDF"),
    ("scan.pdf", _pdf([[], []]), "no text layer (2 page(s) of images?); OCR is not supported"),
    ("cut.pdf", _pdf([["Bonjour"]])[:300], "not a readable PDF"),
    ("book.epub", _zip({"mimetype": b"application/epub+zip"}), "not an EPUB book"),
    ("letter.odt", _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<a/>"}),
     "not an OpenDocument text (.odt) (its mimetype is application/vnd.oasis.opendocument.spreadsheet)"),
    ("locked.odt", _zip({"content.xml": b"<a/>", "META-INF/manifest.xml": b"<m><manifest:encryption-data/></m>"}),
     "encrypted (password-protected) OpenDocument"),
])
def test_bad_files_are_one_clear_line(name: str, data: bytes, expected: str) -> None:
    fmt = format_for(name)
    with pytest.raises(FormatError) as info:
        read_structured(fmt, data, name)
    message = str(info.value)
    assert expected in message and "\n" not in message and message.startswith(name)


def test_a_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "polib", None)
    with pytest.raises(InputError, match=r"pip install 'toolkit\[documents\]'"):
        read_structured(format_for("a.po"), PO.encode(), "a.po")


def test_unknown_extension_and_forced_format() -> None:
    with pytest.raises(InputError, match="no reader for '.xyz'"):
        format_for("a.xyz")
    assert format_for("subtitles.txt", "srt").name == "srt"


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_translates_a_folder_of_documents_in_their_formats_and_a_bad_one_does_not_sink_it(
        tiny_marian: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "app.po").write_text(PO, encoding="utf-8")
    (inputs / "talk.srt").write_bytes(_srt_bytes([(0, 1000, FRENCH[0]), (1500, 3000, FRENCH[1])]))
    (inputs / "note.txt").write_text(FRENCH[2] + "\n", encoding="utf-8")
    (inputs / "broken.docx").write_bytes(b"%PDF-1.4 not a word file")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["translate", str(inputs), "-m", str(tiny_marian), "--backend", "torch",
                                      "--out", str(out), "--json", "--quiet", "--max-new-tokens", "12"])
    # A skipped document makes the exit code 3 (README's exit codes; #28.10 on branch core), and is
    # listed under `skipped` with its reason.
    assert result.exit_code == 3, result.output
    assert sorted(p.name for p in out.iterdir()) == ["app.po", "manifest.json", "note.txt", "talk.srt"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(s["id"], s["source"]) for s in manifest["skipped"]] == [("broken", str(inputs / "broken.docx"))]
    assert "this is a PDF file" in manifest["skipped"][0]["reason"]
    entries = {e["id"]: e for e in manifest["documents"]}
    assert entries["talk"]["document"]["counts_after"] == {"cues": 2, "timing_lines": 2}
    assert entries["app"]["document"]["structure_kept"] and entries["app"]["segments"]
    assert any("broken.docx: this is a PDF file" in w for w in manifest["warnings"])
    assert [(s["id"], "this is a PDF file" in s["reason"]) for s in manifest["skipped"]] == [("broken", True)]
    assert _timing_lines((out / "talk.srt").read_bytes()) == _timing_lines((inputs / "talk.srt").read_bytes())


def test_cli_a_bad_file_given_alone_is_one_line_and_exit_2(tiny_marian: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli import app

    bad = tmp_path / "cut.pptx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = CliRunner().invoke(app, ["translate", str(bad), "-m", str(tiny_marian), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"toolkit: error: {bad}: not a valid PowerPoint presentation (.pptx) "
                                                  "(corrupt or truncated zip container)"]
    assert not (tmp_path / "o").exists()


def test_summarize_reads_the_text_of_a_document(tmp_path: Path) -> None:
    from toolkit.io.documents import read_inputs

    path = tmp_path / "journal.docx"
    path.write_bytes(_docx())
    (doc,) = read_inputs([str(path)])
    assert doc.format == "docx" and "le président" in doc.text and "Édition du matin" in doc.text


# --- properties of the alignment and of the Word writer (no model needed) --------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(st.sampled_from("abc déf ,."), min_size=1, max_size=12), st.sampled_from("xyz")),
                min_size=1, max_size=6),
       st.text(st.sampled_from("uvw xyz 123."), max_size=40))
def test_restyle_never_loses_or_invents_text_or_styles(runs: list[tuple[str, str]], output: str) -> None:
    segments = [Segment(text, style) for text, style in runs]
    source = "".join(text for text, _ in runs)
    styled, _ = restyle(segments, _result(source, output))
    assert "".join(s.text for s in styled) == output
    assert {s.style for s in styled} <= {style for _, style in runs}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.text(st.characters(whitelist_categories=("L", "Zs")), min_size=1, max_size=15),
                                   st.booleans(), st.booleans()), min_size=1, max_size=5), min_size=1, max_size=5))
def test_docx_round_trip_keeps_every_run_and_its_formatting(paragraphs: list[list[tuple[str, bool, bool]]]) -> None:
    import docx

    document = docx.Document()
    for runs in paragraphs:
        paragraph = document.add_paragraph()
        for text, bold, italic in runs:
            run = paragraph.add_run(text)
            run.bold, run.italic = bold or None, italic or None
    buffer = io.BytesIO()
    document.save(buffer)
    fmt = format_for("x.docx")
    doc = read_structured(fmt, buffer.getvalue(), "x.docx")
    again = docx.Document(io.BytesIO(fmt.write(doc, [b.segments for b in doc.blocks])))

    def formatted(d):  # each paragraph's text, character by character with its formatting
        return [[(ch, bool(r.bold), bool(r.italic)) for r in p.runs for ch in r.text] for p in d.paragraphs]

    assert formatted(again) == formatted(document)


def test_pipeline_writes_the_translation_in_the_input_format_and_the_summary_as_text(
        tiny_marian: Path, tmp_path: Path) -> None:
    import docx
    from typer.testing import CliRunner

    from toolkit.cli import app

    source = tmp_path / "journal.docx"
    source.write_bytes(_docx())
    result = CliRunner().invoke(app, ["pipeline", str(source), "--translator", str(tiny_marian), "--summarizer",
                                      "lead-1", "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    translated = docx.Document(str(tmp_path / "run" / "translations" / "journal.docx"))
    assert len(translated.tables) == 1
    (summary,) = (tmp_path / "run" / "summaries").iterdir()
    assert summary.suffix == ".txt" and summary.read_text(encoding="utf-8").strip()


def test_a_member_that_lies_about_its_size_is_refused_before_any_work() -> None:
    data = bytearray(_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<a>" + b"x" * 5000 + b"</a>"}))
    # Shrink the declared size of word/document.xml in the central directory (and the local header).
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    for offset in (i for i in range(len(data) - 4) if data[i:i + 4] in (b"PK\x01\x02", b"PK\x03\x04")):
        size_at = offset + (24 if data[offset + 2] == 1 else 22)
        if int.from_bytes(data[size_at:size_at + 4], "little") == info.file_size:
            data[size_at:size_at + 4] = (100).to_bytes(4, "little")
    with pytest.raises(FormatError, match="corrupt"):
        read_structured(format_for("x.docx"), bytes(data), "x.docx")


_WORDS = st.text(st.sampled_from("abcdéf "), min_size=1, max_size=8)


@st.composite
def _inline_content(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for index in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "x", "g"] if depth < 2 else ["text", "x"]))
        if kind == "text":
            parts.append(draw(_WORDS))
        elif kind == "x":
            parts.append(f'<x id="x{depth}{index}"/>')
        else:
            parts.append(f'<g id="g{depth}{index}">{draw(_inline_content(depth + 1))}</g>')
    return "".join(parts)


@settings(max_examples=40, deadline=None)
@given(st.lists(_inline_content(), min_size=1, max_size=4))
def test_xliff_round_trip_keeps_every_inline_tag_in_order(sources: list[str]) -> None:
    from lxml import etree

    units = "".join(f'<trans-unit id="u{i}"><source>{s}</source></trans-unit>' for i, s in enumerate(sources))
    data = (f'<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file source-language="fr" '
            f'target-language="en" datatype="plaintext" original="x"><body>{units}</body></file></xliff>').encode()
    fmt = format_for("x.xlf")
    doc = read_structured(fmt, data, "x.xlf")
    root = etree.fromstring(fmt.write(doc, [b.segments for b in doc.blocks]))
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    for unit in root.iterfind(".//x:trans-unit", ns):
        source, target = unit.find("x:source", ns), unit.find("x:target", ns)
        assert [(e.tag, e.get("id")) for e in target.iter()][1:] == [(e.tag, e.get("id")) for e in source.iter()][1:]
        assert "".join(target.itertext()) == "".join(source.itertext())


def test_cli_format_forces_a_document_format_whatever_the_extension(tiny_marian: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app
    from toolkit.cli.common import TranslateFormat
    from toolkit.io.formats import FORMATS

    assert set(FORMATS) <= {f.value for f in TranslateFormat}  # every document format can be forced
    subtitles = tmp_path / "talk.txt"  # a SubRip file under a plain-text name
    subtitles.write_bytes(_srt_bytes([(0, 1000, FRENCH[0]), (1500, 3000, FRENCH[1])]))
    args = ["translate", str(subtitles), "-m", str(tiny_marian), "--backend", "torch", "--quiet",
            "--max-new-tokens", "12"]
    forced = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "forced"), "--format", "srt"])
    assert forced.exit_code == 0, forced.output
    out = (tmp_path / "forced" / "talk.txt").read_bytes()
    assert _timing_lines(out) == _timing_lines(subtitles.read_bytes())
    manifest = json.loads((tmp_path / "forced" / "manifest.json").read_text())
    assert manifest["documents"][0]["document"]["counts_after"] == {"cues": 2, "timing_lines": 2}
    plain = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output  # without --format: a text file, its timing lines go to the model
    assert "document" not in json.loads((tmp_path / "plain" / "manifest.json").read_text())["documents"][0]
    wrong = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "wrong"), "--format", "docx"])
    assert wrong.exit_code == 2 and "not a valid Word document" in wrong.stderr
    assert not (tmp_path / "wrong").exists()


def test_summarize_of_a_folder_with_an_unreadable_file_is_partial(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "note.txt").write_text(" ".join(FRENCH) + "\n", encoding="utf-8")
    (inputs / "cut.pptx").write_bytes(b"PK\x03\x04 truncated")
    result = CliRunner().invoke(app, ["summarize", str(inputs), "--model", "lead-1", "--lang", "fr",
                                      "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 3, result.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [s["id"] for s in manifest["skipped"]] == ["cut"]


def test_markdown_files_are_markdown_in_folders_too(tmp_path: Path) -> None:
    """Issue 28.4: `.markdown` is Markdown, read directly or found by a folder scan."""
    from toolkit.io.documents import read_inputs

    (tmp_path / "notes.markdown").write_text("# Titre\n\nUn texte.\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("Texte.", encoding="utf-8")
    found = read_inputs([str(tmp_path)])
    assert [(d.id, d.format) for d in found] == [("notes", "md"), ("other", "txt")]
    assert [d.format for d in read_inputs([str(tmp_path / "notes.markdown")])] == ["md"]


def test_reopen_wrappers_keeps_shared_wrappers_open_and_copies_no_source_text() -> None:
    """One helper (toolkit.io.formats.base) for the ODF and OOXML writers: consecutive pieces of
    one link stay in one link; a shell carries the wrapper's attributes, not its text or tail."""
    from lxml import etree

    from toolkit.io.formats.base import reopen_wrappers

    source = etree.fromstring('<p><a href="x"><b>old</b>tail of b</a>tail of a<i>other</i></p>')
    link, bold, other = source[0], source[0][0], source[1]
    paragraph = etree.Element("p")
    stack: list[tuple[object, object]] = []
    for chain, text in (([link], "one "), ([link, bold], "two "), ([link], "three "), ([other], "four"), ([], "!")):
        reopen_wrappers(stack, chain, paragraph.append)
        node = stack[-1][1] if stack else paragraph
        if len(node):
            node[-1].tail = (node[-1].tail or "") + text
        else:
            node.text = (node.text or "") + text
    assert etree.tostring(paragraph).decode() == '<p><a href="x">one <b>two </b>three </a><i>four</i>!</p>'
