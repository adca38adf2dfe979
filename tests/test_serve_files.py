"""`POST /translate_file` and `GET /download_file` (LibreTranslate's file API): a real server on a
loopback port, plain HTTP (httpx; libretranslatepy has no file call), tiny random-weight models.
The expected bytes come from `toolkit translate` itself, so the tests hold whatever the model emits."""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from browser import headless_page  # noqa: E402
from serve_helpers import abandoned_request, metric, running  # noqa: E402
from test_documents import PO, _docx, _pdf, _srt_bytes, _zip  # noqa: E402
from test_serve import assert_clean_error  # noqa: E402

from toolkit.serve.settings import ServeSettings  # noqa: E402

FRENCH = ["Le président a parlé hier soir.", "Les journalistes ont posé des questions.", "Merci beaucoup."]
SRT = _srt_bytes([(0, 1000, FRENCH[0]), (1500, 3000, FRENCH[1]), (3500, 4200, FRENCH[2])])
KEYS = "newsroom-key\nintern-key\n"


@pytest.fixture(scope="module")
def served(tiny_marian: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServeSettings]]:
    keys = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys.write_text(KEYS, encoding="utf-8")
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, api_keys=keys, max_wait_ms=20)
    with running(settings) as url:
        yield url, settings


@pytest.fixture(scope="module")
def client(served: tuple[str, ServeSettings]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=300) as session:
        yield session


def upload(client: httpx.Client, name: str, data: bytes, **fields: str) -> httpx.Response:
    return client.post("/translate_file", files={"file": (name, data, "application/octet-stream")},
                       data={"source": "fr", "target": "en", **fields})


def download(client: httpx.Client, response: httpx.Response, **params: str) -> httpx.Response:
    assert response.status_code == 200, response.text
    url = response.json()["translatedFileUrl"]
    assert url.startswith(str(client.base_url).rstrip("/") + "/download_file/")
    return client.get(url, params=params)


def cli_output(model: Path, tmp_path: Path, name: str, data: bytes) -> bytes:
    """What `toolkit translate FILE --out DIR` writes for the same file and model."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    source = tmp_path / "in" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["translate", str(source), "-m", str(model), "--src", "fr", "--tgt", "en",
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return (out / name).read_bytes()


# -- the same bytes as the CLI, the structure kept -------------------------------------------------

@pytest.mark.parametrize("name", ["journal.docx", "talk.srt", "app.po"])
def test_a_file_comes_back_byte_for_byte_as_the_cli_writes_it(name: str, client: httpx.Client, tiny_marian: Path,
                                                              tmp_path: Path) -> None:
    data = {"journal.docx": _docx(), "talk.srt": SRT, "app.po": PO.encode()}[name]
    expected = cli_output(tiny_marian, tmp_path, name, data)
    got = download(client, upload(client, name, data))
    assert got.status_code == 200 and got.content == expected
    assert f'filename="{name}"' in got.headers["content-disposition"]
    if name.endswith(".docx"):
        import docx

        a, b = docx.Document(io.BytesIO(data)), docx.Document(io.BytesIO(got.content))
        assert [p.style.name for p in a.paragraphs] == [p.style.name for p in b.paragraphs]
        assert len(b.tables) == 1 and len(b.tables[0]._cells) == 4
    elif name.endswith(".srt"):
        import srt

        before, after = list(srt.parse(data.decode())), list(srt.parse(got.content.decode()))
        assert [(c.index, c.start, c.end) for c in after] == [(c.index, c.start, c.end) for c in before]
    else:
        import polib

        before, after = polib.pofile(PO), polib.pofile(got.content.decode())
        assert [(e.msgctxt, e.msgid, e.msgid_plural) for e in after] == [
            (e.msgctxt, e.msgid, e.msgid_plural) for e in before]
        assert all("fuzzy" in e.flags for e in after if e.msgid != "Annuler")


def test_auto_detection_and_a_pdf_comes_back_as_markdown(client: httpx.Client) -> None:
    pdf = _pdf([[FRENCH[0], FRENCH[1]], [FRENCH[2]]])
    got = download(client, upload(client, "rapport.pdf", pdf, source="auto"))
    assert got.status_code == 200 and 'filename="rapport.md"' in got.headers["content-disposition"]
    assert got.content.decode().count("<!-- page ") == 2


def test_frontend_settings_list_the_file_formats_as_libretranslate_does(client: httpx.Client) -> None:
    settings = client.get("/frontend/settings").json()
    assert settings["filesTranslation"] is True
    formats = settings["supportedFilesFormat"]
    assert {".docx", ".pptx", ".odt", ".odp", ".epub", ".srt", ".vtt", ".po", ".xlf", ".pdf"} <= set(formats)
    assert all(f.startswith(".") for f in formats)


# -- never reachable by another key, a guessed name, twice, or late ----------------------------------

def test_a_file_is_downloaded_once_and_only_by_its_key(client: httpx.Client) -> None:
    answer = upload(client, "talk.srt", SRT, api_key="newsroom-key")
    url = answer.json()["translatedFileUrl"]
    name = url.rsplit("/", 1)[1]
    token = name.split(".")[0]
    assert len(token) == 32 and int(token, 16) >= 0  # 128 random bits
    assert_clean_error(client.get(url), 404, "File not found")  # no key
    assert_clean_error(client.get(url, params={"api_key": "intern-key"}), 404, "File not found")  # another key
    assert_clean_error(client.get(url, headers={"Authorization": "Bearer intern-key"}), 404, "File not found")
    first = client.get(url, headers={"Authorization": "Bearer newsroom-key"})
    assert first.status_code == 200 and first.content.count(b"-->") == 3
    assert_clean_error(client.get(url, params={"api_key": "newsroom-key"}), 404, "File not found")  # second time


@pytest.mark.parametrize("name", ["0" * 32 + ".srt", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "x" * 300,
                                  "0123456789abcdef0123456789abcdef.srt%00.txt"])
def test_a_guessed_or_crafted_name_is_a_clean_404(client: httpx.Client, name: str) -> None:
    response = client.get(f"/download_file/{name}")
    assert response.status_code == 404 and list(response.json()) == ["error"]


def test_the_private_area_is_0700_and_holds_only_files_waiting_for_download(
        served: tuple[str, ServeSettings], client: httpx.Client) -> None:
    answer = upload(client, "talk.srt", SRT)
    name = answer.json()["translatedFileUrl"].rsplit("/", 1)[1]
    roots = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("toolkit-serve-files-*") if (p / name).exists()]
    assert len(roots) == 1
    assert stat.S_IMODE(roots[0].stat().st_mode) == 0o700
    assert stat.S_IMODE((roots[0] / name).stat().st_mode) == 0o600
    assert client.get(f"/download_file/{name}").status_code == 200
    assert not (roots[0] / name).exists()  # deleted once downloaded


def test_expired_files_are_swept_and_the_area_is_removed_at_shutdown(tiny_marian: Path) -> None:
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("toolkit-serve-files-*"))
    with running(ServeSettings(translators={"fr-en": str(tiny_marian)}, file_ttl=0.5)) as url:
        roots = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("toolkit-serve-files-*")) - before
        assert len(roots) == 1
        root = roots.pop()
        with httpx.Client(base_url=url, timeout=120) as session:
            answer = upload(session, "talk.srt", SRT)
            name = answer.json()["translatedFileUrl"].rsplit("/", 1)[1]
            assert (root / name).exists()
            deadline = time.monotonic() + 10
            while (root / name).exists() and time.monotonic() < deadline:  # the background sweep
                time.sleep(0.1)
            assert not (root / name).exists()
            assert_clean_error(session.get(f"/download_file/{name}"), 404, "File not found")
            upload(session, "talk.srt", SRT)  # one still waiting at shutdown
    assert not root.exists()


# -- limits and bad files: a clean 4xx JSON with the CLI's reason --------------------------------------

def test_size_and_character_limits(tiny_marian: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, file_size_limit=2000, file_char_limit=60)
    with running(settings) as url, httpx.Client(base_url=url, timeout=120) as session:
        assert_clean_error(upload(session, "big.srt", SRT + b"\n" * 3000), 413, "too large")
        assert_clean_error(upload(session, "talk.srt", SRT), 400, "exceeds text limit (60)")
        small = _srt_bytes([(0, 1000, FRENCH[2])])
        assert download(session, upload(session, "small.srt", small)).status_code == 200


def test_limits_per_key(tiny_marian: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("free-key file-bytes=500 file-chars=40\nbig-key 100 file-bytes=9000 file-chars=0\n", encoding="utf-8")
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, api_keys=keys, file_size_limit=2000,
                             file_char_limit=60)
    with running(settings) as url, httpx.Client(base_url=url, timeout=120) as session:
        assert_clean_error(upload(session, "talk.srt", SRT, api_key="free-key"), 400, "exceeds text limit (40)")
        assert_clean_error(upload(session, "pad.srt", SRT + b"\n" * 600, api_key="free-key"), 413, "limit: 500 bytes")
        assert_clean_error(upload(session, "talk.srt", SRT), 400, "exceeds text limit (60)")  # the server's
        big = SRT + b"\n" * 5000  # over the server's 2,000 bytes, within the key's 9,000; no character limit
        assert download(session, upload(session, "big.srt", big, api_key="big-key"), api_key="big-key").status_code == 200


def test_a_bad_keys_line_is_one_line(tmp_path: Path) -> None:
    from toolkit.errors import ToolkitError
    from toolkit.serve.limits import ApiKeys

    keys = tmp_path / "keys.txt"
    keys.write_text("k 10 file-size=3\n", encoding="utf-8")
    with pytest.raises(ToolkitError, match="line 1: expected KEY \\[REQUESTS_PER_MINUTE\\] \\[file-bytes=N\\]"):
        ApiKeys.load(keys)


BAD = [
    ("cut.docx", _docx()[:3000], "cut.docx: not a valid Word document (.docx) (corrupt or truncated zip container)"),
    ("report.docx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "report.docx: this is a PDF file"),
    ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted (password-protected)"),
    ("bomb.docx", _zip({"word/document.xml": b"<a>" + b" " * 8_000_000 + b"</a>"}), "zip bomb"),
    ("broken.srt", b"1\n00:00:01,000 --> 00:00:0X,000\nBonjour\n", "line 1: expected a cue number and a timing line"),
    ("broken.po", b'msgid "Bonjour"\nmsgstr ""\nbogus line\n', "not a valid gettext catalogue (Syntax error"),
    ("scan.pdf", _pdf([[], []]), "no text layer (2 page(s) of images?); OCR is not supported"),
]


@pytest.mark.parametrize(("name", "data", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_a_400_with_the_clis_reason(client: httpx.Client, name: str, data: bytes, reason: str) -> None:
    assert_clean_error(upload(client, name, data), 400, reason)


def test_bad_requests(client: httpx.Client) -> None:
    assert_clean_error(upload(client, "notes.xyz", b"hello"), 400, "file format not supported")
    assert_clean_error(upload(client, "empty.srt", b""), 400, "empty file")
    assert_clean_error(client.post("/translate_file", data={"source": "fr", "target": "en"}), 400,
                       "multipart/form-data")
    assert_clean_error(client.post("/translate_file", files={"source": (None, "fr"), "target": (None, "en")}), 400,
                       "missing file parameter")
    assert_clean_error(upload(client, "talk.srt", SRT, target="de"), 400, "not available as a target language")
    assert_clean_error(upload(client, "talk.srt", SRT, api_key="guess"), 403, "Invalid API key")


def test_files_can_be_turned_off(tiny_marian: Path) -> None:
    off = ServeSettings(translators={"fr-en": str(tiny_marian)}, files=False)
    with running(off) as url, httpx.Client(base_url=url, timeout=60) as session:
        assert_clean_error(upload(session, "talk.srt", SRT), 403, "disabled")
        settings = session.get("/frontend/settings").json()
        assert settings["filesTranslation"] is False and settings["supportedFilesFormat"] == []


# -- the web page ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_web_page_uploads_a_file_and_offers_its_download(client: httpx.Client) -> None:
    expected = download(client, upload(client, "talk.srt", SRT)).content
    with headless_page() as page:
        page.goto(str(client.base_url) + "/")
        page.wait_for_function("!document.getElementById('files').hidden")
        assert ".srt" in (page.locator("#source-file").get_attribute("accept") or "")
        page.select_option("#source-lang", "fr")
        page.click("#translate-file")
        assert "Choose a file" in page.locator("#error").text_content()
        page.set_input_files("#source-file", files=[{"name": "talk.srt", "mimeType": "application/x-subrip",
                                                     "buffer": SRT}])
        page.click("#translate-file")
        page.wait_for_function("document.getElementById('timing').textContent.startsWith('File translated in')")
        href = page.locator("#download").get_attribute("href")
        assert href and "/download_file/" in href and page.locator("#download").is_visible()
        assert client.get(href).content == expected
        page.set_input_files("#source-file", files=[{"name": "broken.srt", "mimeType": "application/x-subrip",
                                                     "buffer": b"1\nnot a timing line\nBonjour\n"}])
        page.click("#translate-file")
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert "expected a cue number and a timing line" in page.locator("#error").text_content()
        assert page.locator("#download").is_hidden()


# -- the batcher: a large file shares it, and a client that goes away takes its file's work along -------

def test_a_large_file_shares_the_batcher_and_a_disconnect_drops_its_work(tiny_marian: Path) -> None:
    # One sentence a batch: the file takes many decoding rounds, so sharing and abandoning matter.
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, max_batch_size=1, max_wait_ms=0, preload=True)
    cues = 300
    data = _srt_bytes([(i * 2000, i * 2000 + 1500, f"Phrase numéro {i} du sous-titre.") for i in range(cues)])
    boundary = "toolkit-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in (("source", "fr"), ("target", "en"))]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="long.srt"\r\n'
                 "Content-Type: application/x-subrip\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode())
    body = b"".join(parts)
    request = (b"POST /translate_file HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary="
               + boundary.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    with running(settings) as url, httpx.Client(base_url=url, timeout=60) as session:
        with abandoned_request(url, session, request, "the file's sentences never queued"):
            small = session.post("/translate", json={"q": FRENCH[2], "source": "fr", "target": "en"})
            assert small.status_code == 200
            # The small request was answered while the file's sentences were still waiting: it did
            # not wait for the file.
            assert metric(session.get("/metrics").text, "toolkit_serve_queued_items") > 0
        metrics = session.get("/metrics").text
        assert metric(metrics, "toolkit_serve_queued_items") == 0
        decoded = metric(metrics, 'toolkit_serve_batch_size_sum{model="translation:fr-en"}')
        assert decoded < cues
        time.sleep(0.5)
        assert metric(session.get("/metrics").text, 'toolkit_serve_batch_size_sum{model="translation:fr-en"}') \
            == decoded  # nothing more of the abandoned file is decoded


def test_a_failed_store_leaves_no_partial_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A write that fails half-way (a full disk) left its partial file in the private folder,
    which shutdown then could not remove."""
    from toolkit.serve import files

    store = files.FileStore(ttl=60, max_files=4, parent=tmp_path)

    def full(fd: int, mode: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fchmod", full)
    with pytest.raises(OSError, match="No space left"):
        store.put(b"data", ".srt", "talk.srt", None)
    assert list(store.root.iterdir()) == [] and len(store) == 0
    store.close()
    assert not store.root.exists()
