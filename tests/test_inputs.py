"""Reading text inputs (files, folders, stdin, JSONL): encodings, newlines, ids. These were the
tests of tests/test_documents.py before that file became the structured-documents tests; moved
here unchanged, except the two assertions #28.10 and #28.12 changed (see their comments)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from toolkit.errors import InputError
from toolkit.io.documents import atomic_write_text, decode_bytes, read_inputs


def test_bom_and_crlf_are_normalised_and_remembered(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfLigne un.\r\nLigne deux.\r\n")
    [doc] = read_inputs([str(path)])
    assert doc.text == "Ligne un.\nLigne deux.\n"
    assert doc.newline == "\r\n"
    assert doc.id == "a"


def test_binary_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(InputError, match="binary"):
        read_inputs([str(path)])


def test_non_utf8_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Le président".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: not valid utf-8 at byte offset 5 \(byte 0xe9\)"):
        read_inputs([str(path)])
    [doc] = read_inputs([str(path)], encoding="latin-1")
    assert doc.text == "Le président"


def test_folder_is_read_recursively_in_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("B.")
    (tmp_path / "sub" / "a.md").write_text("# A")
    (tmp_path / "skip.csv").write_text("x,y")
    docs = read_inputs([str(tmp_path)])
    assert [d.id for d in docs] == ["b", "sub/a"]
    assert docs[1].format == "md"


def test_folder_without_text_files(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1")
    # Issue #28.10: the message omitted .html (and .htm), which folders are read for.
    with pytest.raises(InputError, match=r"no \.txt, \.md, \.html, \.htm, \.jsonl or document"):
        read_inputs([str(tmp_path)])


def test_missing_path() -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        read_inputs(["does/not/exist.txt"])


def test_jsonl_documents(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"id": 1, "text": "Un."}, {"id": "b", "text": "Deux.", "lang": "fr"}]))
    docs = read_inputs([str(path)])
    assert [(d.id, d.text, d.lang) for d in docs] == [("1", "Un.", None), ("b", "Deux.", "fr")]


@pytest.mark.parametrize("content, message", [
    ('{"id": 1}', "lacks 'text'"), ('{"text": "x"}', "lacks 'id'"), ("[1, 2]", "expected a JSON object"),
    ("{not json", "invalid JSON"),
])
def test_bad_jsonl(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_inputs([str(path)])


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    # Issue #28.12: a.txt and a.md used to be refused here; their paths now tell them apart (ids
    # "a.txt" and "a.md", tests/test_new_user.py). What no path tells apart is still refused: a
    # file and a JSONL record with the same id.
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a.md").write_text("y")
    assert [d.id for d in read_inputs([str(tmp_path / "a.txt"), str(tmp_path / "a.md")])] == ["a.txt", "a.md"]
    (tmp_path / "records.jsonl").write_text(json.dumps({"id": "a.txt", "text": "z"}) + "\n")
    with pytest.raises(InputError, match="same document id|document id 'a.txt'"):
        read_inputs([str(tmp_path / "a.txt"), str(tmp_path / "a.md"), str(tmp_path / "records.jsonl")])


def test_stdin() -> None:
    [doc] = read_inputs(["-"], stdin=io.BytesIO(b"Bonjour.\n"))
    assert (doc.id, doc.text) == ("stdin", "Bonjour.\n")


def test_decode_rejects_unknown_encoding() -> None:
    with pytest.raises(InputError, match="unknown encoding"):
        decode_bytes(b"x", "f", "no-such-codec")


def test_atomic_write_keeps_newline_style(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.txt"
    atomic_write_text(target, "a\nb", "\r\n")
    assert target.read_bytes() == b"a\r\nb"
    assert [p.name for p in target.parent.iterdir()] == ["x.txt"]
