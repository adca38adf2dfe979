"""`toolkit serve`: a real server on a free loopback port, real HTTP clients (httpx, the
LibreTranslate client, a headless browser), tiny random-weight models. Expected outputs come from
the library itself, so the tests hold whatever a random model emits."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from browser import headless_page  # noqa: E402
from conftest import SEED_FILES, interactive_signals, seed_texts  # noqa: E402  (after the skips: the server's extra may be absent)
from serve_helpers import free_port, running  # noqa: E402

from toolkit.io.documents import Document  # noqa: E402
from toolkit.options import GenerationOptions  # noqa: E402
from toolkit.serve.settings import ServeSettings  # noqa: E402
from toolkit.text.segment import segment_document  # noqa: E402

FRENCH = "Le gouvernement a présenté mercredi un nouveau projet de loi sur le logement."
TOOLKIT = Path(sys.executable).with_name("toolkit")


def seed_sentences() -> list[str]:
    return [s for text in seed_texts() for _, _, s in segment_document(text, "fr").sentences]


@pytest.fixture(scope="module")
def library(tiny_marian: Path):
    """The same model through the library: what every server answer must equal."""
    from toolkit.tasks.translate import Translator

    return Translator.from_pretrained(str(tiny_marian), "fr", "en")


@pytest.fixture(scope="module")
def base(tiny_marian: Path, tiny_bart: Path) -> Iterator[str]:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)},
                             summarizers={"en": str(tiny_bart), "fr": "textrank-2"}, max_wait_ms=50)
    with running(settings) as url:
        yield url


@pytest.fixture(scope="module")
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=120) as session:
        yield session


def assert_clean_error(response: httpx.Response, status: int, *fragments: str) -> dict:
    """``{"error": one line}``, the status, no traceback, no server path."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"] and "\n" not in body["error"]
    assert "Traceback" not in response.text and "/tmp" not in response.text and "site-packages" not in response.text
    for fragment in fragments:
        assert fragment in body["error"]
    return body


# -- LibreTranslate's API --------------------------------------------------------------------------

def test_translate_json_form_and_lists_match_the_library(client: httpx.Client, library) -> None:
    expected = library.translate([FRENCH])[0]
    as_json = client.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en"})
    assert as_json.status_code == 200 and as_json.json() == {"translatedText": expected}
    as_form = client.post("/translate", data={"q": FRENCH, "source": "fr", "target": "en"})
    assert as_form.json() == {"translatedText": expected}
    multipart = client.post("/translate", files={"q": (None, FRENCH), "source": (None, "fr"), "target": (None, "en")})
    assert multipart.json() == {"translatedText": expected}
    texts = [FRENCH, "Merci beaucoup.", ""]
    listed = client.post("/translate", json={"q": texts, "source": "fr", "target": "en"}).json()
    assert listed == {"translatedText": library.translate(texts[:2]) + [""]}


def test_a_document_keeps_its_paragraphs_as_the_library_does(client: httpx.Client, library) -> None:
    text = SEED_FILES[0].read_text(encoding="utf-8")[:1500]
    expected = library.translate_document(Document(id="seed", text=text, source="seed")).output
    response = client.post("/translate", json={"q": text, "source": "fr", "target": "en"})
    assert response.json()["translatedText"] == expected
    assert response.json()["translatedText"].count("\n") == text.count("\n")


def test_html_keeps_the_markup_and_translates_the_text(client: httpx.Client, library) -> None:
    markup = '<p class="lead">Bonjour à tous.</p><!-- note --><ul><li>Merci beaucoup.</li></ul><code>x = 1</code>'
    out = client.post("/translate", json={"q": markup, "source": "fr", "target": "en", "format": "html"}).json()
    hello, thanks = library.translate(["Bonjour à tous.", "Merci beaucoup."])
    import html

    assert out["translatedText"] == (f'<p class="lead">{html.escape(hello, quote=False)}</p><!-- note --><ul><li>'
                                     f'{html.escape(thanks, quote=False)}</li></ul><code>x = 1</code>')


def test_auto_detection(client: httpx.Client, library) -> None:
    single = client.post("/translate", json={"q": FRENCH, "source": "auto", "target": "en"}).json()
    assert single["translatedText"] == library.translate([FRENCH])[0]
    assert single["detectedLanguage"]["language"] == "fr" and 50 < single["detectedLanguage"]["confidence"] <= 100
    english = "The government presented a new housing bill on Wednesday."
    listed = client.post("/translate", json={"q": [FRENCH, english], "source": "auto", "target": "en"}).json()
    assert [d["language"] for d in listed["detectedLanguage"]] == ["fr", "en"]
    assert listed["translatedText"] == [library.translate([FRENCH])[0], english]  # already English: as it is
    detected = client.post("/detect", data={"q": FRENCH}).json()
    assert detected[0]["language"] == "fr" and 0 < detected[0]["confidence"] <= 100


def test_languages(client: httpx.Client) -> None:
    assert client.get("/languages").json() == [{"code": "en", "name": "English", "targets": []},
                                               {"code": "fr", "name": "French", "targets": ["en"]}]


def test_the_libretranslate_client_works_unchanged(base: str, library) -> None:
    libretranslatepy = pytest.importorskip("libretranslatepy")
    client = libretranslatepy.LibreTranslateAPI(base)
    assert client.translate(FRENCH, "fr", "en") == library.translate([FRENCH])[0]
    assert client.detect(FRENCH)[0]["language"] == "fr"
    assert {lang["code"] for lang in client.languages()} == {"fr", "en"}


@pytest.mark.parametrize(("request_kwargs", "status", "fragment"), [
    ({"content": b'{"q": "Bonjour", "source": "fr",', "headers": {"Content-Type": "application/json"}}, 400,
     "Invalid JSON"),
    ({"content": b'["Bonjour"]', "headers": {"Content-Type": "application/json"}}, 400, "Invalid JSON"),
    ({"json": {"source": "fr", "target": "en"}}, 400, "missing q"),
    ({"json": {"q": FRENCH, "target": "en"}}, 400, "missing source"),
    ({"json": {"q": FRENCH, "source": "fr"}}, 400, "missing target"),
    ({"json": {"q": FRENCH, "source": "xx", "target": "en"}}, 400, "xx is not supported"),
    ({"json": {"q": FRENCH, "source": "fr", "target": "klingon"}}, 400, "klingon is not supported"),
    ({"json": {"q": FRENCH, "source": "de", "target": "en"}}, 400, "not available as a target language from German"),
    ({"json": {"q": FRENCH, "source": "fr", "target": "en", "format": "pdf"}}, 400, "pdf format is not supported"),
    ({"json": {"q": [FRENCH, 3], "source": "fr", "target": "en"}}, 400, "list of strings"),
    ({"json": {"q": {"a": 1}, "source": "fr", "target": "en"}}, 400, "list of strings"),
    ({"content": "q=caf\xe9".encode("latin-1"), "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     400, "UTF-8"),
    ({"content": b"<q>x</q>", "headers": {"Content-Type": "application/xml"}}, 400, "unsupported content type"),
    ({"content": b"x" * 1_000_001, "headers": {"Content-Type": "application/json"}}, 413, "too large"),
])
def test_bad_requests_are_refused_cleanly(client: httpx.Client, request_kwargs: dict, status: int,
                                          fragment: str) -> None:
    assert_clean_error(client.post("/translate", **request_kwargs), status, fragment)


def test_a_huge_body_without_content_length_is_refused(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"q=" + b"a" * 50_000

    assert_clean_error(client.post("/translate", content=chunks(),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}), 413, "too large")


def test_unknown_routes_and_methods_answer_in_json(client: httpx.Client) -> None:
    assert_clean_error(client.get("/nothing-here"), 404)
    assert_clean_error(client.get("/translate"), 405)


# -- beyond LibreTranslate -------------------------------------------------------------------------

def test_summarize_with_a_seq2seq_model_and_textrank(client: httpx.Client, tiny_bart: Path) -> None:
    from toolkit.tasks.summarize import load_summarizer

    english = (Path(__file__).parent.parent / "evaluation" / "sources").glob("*.jsonl")
    article = json.loads(next(iter(sorted(english))).read_text(encoding="utf-8").splitlines()[0])["text"][:3000]
    expected = load_summarizer(str(tiny_bart), "en").summarize_documents([Document("a", article, "a")])[0].output
    assert client.post("/summarize", json={"q": article, "lang": "en"}).json() == {"summary": expected, "lang": "en"}
    french = SEED_FILES[0].read_text(encoding="utf-8")
    textrank = load_summarizer("textrank-2", "fr").summarize_documents([Document("s", french, "s")])[0].output
    auto = client.post("/summarize", data={"q": french}).json()
    assert auto["summary"] == textrank and auto["lang"] == "fr" and auto["detectedLanguage"]["language"] == "fr"
    limited = load_summarizer(str(tiny_bart), "en", generation=GenerationOptions(max_length=8)).summarize_documents([Document("a", article, "a")])
    assert client.post("/summarize", json={"q": article, "lang": "en", "max_length": 8}).json()["summary"] \
        == limited[0].output
    assert_clean_error(client.post("/summarize", json={"q": french, "lang": "fr", "max_length": 20}), 400, "textrank")
    assert_clean_error(client.post("/summarize", json={"q": article, "lang": "en", "min_length": 9, "max_length": 3}),
                       400, "larger than max_length")
    assert_clean_error(client.post("/summarize", json={"q": article, "lang": "de"}), 400, "no summariser for de")
    assert_clean_error(client.post("/summarize", json={"q": article, "lang": "en", "max_length": "long"}), 400,
                       "not a number")


def test_health_metrics_and_docs(client: httpx.Client) -> None:
    client.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en"})
    health = client.get("/health").json()
    assert health["status"] == "ok" and "translation:fr-en" in health["loaded_models"]
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in ('toolkit_serve_requests_total{endpoint="/translate",status="200"}',
                 'toolkit_serve_request_duration_seconds_bucket{endpoint="/translate"',
                 'toolkit_serve_batch_size_bucket{le="1.0",model="translation:fr-en"}',
                 'toolkit_serve_tokens_total{kind="output",model="translation:fr-en"}',
                 "toolkit_serve_tokens_per_second{", 'toolkit_serve_model_loaded{model="translation:fr-en"} 1.0',
                 "toolkit_serve_loaded_models "):
        assert name in metrics.text, name
    schema = client.get("/openapi.json").json()
    assert {"/translate", "/detect", "/languages", "/summarize", "/health"} <= set(schema["paths"])
    assert "application/x-www-form-urlencoded" in schema["paths"]["/translate"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


# -- dynamic batching --------------------------------------------------------------------------------

def _batches(client: httpx.Client) -> tuple[float, float]:
    """(batches, sentences) decoded so far for fr-en, from the metrics."""
    lines = client.get("/metrics").text.splitlines()

    def value(prefix: str) -> float:
        return next(float(line.split()[-1]) for line in lines if line.startswith(prefix))

    return (value('toolkit_serve_batch_size_count{model="translation:fr-en"}'),
            value('toolkit_serve_batch_size_sum{model="translation:fr-en"}'))


def test_concurrent_requests_get_the_same_translations_as_sequential_ones(client: httpx.Client, base: str) -> None:
    sentences = seed_sentences()
    sequential = [client.post("/translate", json={"q": s, "source": "fr", "target": "en"}).json()["translatedText"]
                  for s in sentences]
    batches_before, items_before = _batches(client)

    async def all_at_once() -> list[str]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as session:
            responses = await asyncio.gather(*(session.post("/translate", json={"q": s, "source": "fr", "target": "en"})
                                               for s in sentences))
        return [r.json()["translatedText"] for r in responses]

    concurrent = asyncio.run(all_at_once())
    assert concurrent == sequential
    batches, items = _batches(client)
    assert items - items_before == len(sentences)
    assert batches - batches_before < len(sentences)  # requests shared batches


def test_a_client_that_disconnects_does_not_break_the_batch(client: httpx.Client, base: str) -> None:
    sentences = seed_sentences()
    long_text = " ".join(sentences * 4)
    expected = [client.post("/translate", json={"q": s, "source": "fr", "target": "en"}).json()["translatedText"]
                for s in sentences[:6]]

    async def scenario() -> list[str]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as session:
            async def impatient() -> None:
                with pytest.raises(httpx.TimeoutException):
                    await session.post("/translate", json={"q": long_text, "source": "fr", "target": "en"},
                                       timeout=0.02)

            results = await asyncio.gather(impatient(), *(
                session.post("/translate", json={"q": s, "source": "fr", "target": "en"}) for s in sentences[:6]))
        return [r.json()["translatedText"] for r in results[1:]]

    assert asyncio.run(scenario()) == expected
    assert client.get("/health").json()["status"] == "ok"


def test_batcher_keeps_order_bounds_batches_and_isolates_failures() -> None:
    from toolkit.serve.batcher import BatchLimits, DynamicBatcher

    seen: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        seen.append(items)
        if "boom" in items:
            raise ValueError("bad input")
        return [item[::-1] for item in items]

    async def scenario() -> None:
        executor = ThreadPoolExecutor(1)
        batcher = DynamicBatcher(run, BatchLimits(max_batch_size=4, max_batch_tokens=100, max_wait_ms=50), executor)
        batcher.start()
        requests = [[f"r{r}s{s}" for s in range(r % 3 + 1)] for r in range(8)]
        results = await asyncio.gather(*(batcher.submit(req, [1] * len(req)) for req in requests))
        assert results == [[item[::-1] for item in req] for req in requests]
        assert all(len(batch) <= 4 for batch in seen) and max(len(batch) for batch in seen) > 1
        seen.clear()
        good, bad = await asyncio.gather(batcher.submit(["ok"], [1]), batcher.submit(["boom"], [1]),
                                         return_exceptions=True)
        assert good == ["ko"] and isinstance(bad, ValueError)
        seen.clear()
        waiting = asyncio.ensure_future(batcher.submit(["gone"], [1]))
        await asyncio.sleep(0)
        waiting.cancel()
        assert await batcher.submit(["kept"], [1]) == ["tpek"]
        assert ["gone"] not in seen and all("gone" not in batch for batch in seen)
        assert await batcher.submit(["x" * 10, "y"], [500, 1]) == ["x" * 10, "y"]  # over the token budget: alone
        assert ["x" * 10] in seen
        await batcher.close()
        executor.shutdown()

    asyncio.run(scenario())


def test_sequential_mode_decodes_one_sentence_at_a_time(tiny_marian: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, max_batch_size=1)
    with running(settings) as url, httpx.Client(base_url=url, timeout=120) as session:
        async def burst() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                await asyncio.gather(*(client.post("/translate", json={"q": s, "source": "fr", "target": "en"})
                                       for s in seed_sentences()[:8]))

        asyncio.run(burst())
        batches, items = _batches(session)
        assert batches == items == 8


def test_the_pool_keeps_at_most_max_loaded_models(tiny_marian: Path, tiny_marian_short: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian), "es-en": str(tiny_marian_short)},
                             max_loaded_models=1)
    with running(settings) as url, httpx.Client(base_url=url, timeout=120) as session:
        first = session.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en"}).json()
        assert session.get("/health").json()["loaded_models"] == ["translation:fr-en"]
        session.post("/translate", json={"q": FRENCH, "source": "es", "target": "en"})
        assert session.get("/health").json()["loaded_models"] == ["translation:es-en"]
        again = session.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en"}).json()
        assert again == first and session.get("/health").json()["loaded_models"] == ["translation:fr-en"]
        assert 'toolkit_serve_model_loaded{model="translation:es-en"} 0.0' in session.get("/metrics").text


def test_a_model_that_cannot_load_is_a_clean_500(tmp_path: Path) -> None:
    broken = tmp_path / "secret-models" / "broken"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")
    with running(ServeSettings(translators={"fr-en": str(broken)})) as url:
        response = httpx.post(f"{url}/translate", json={"q": FRENCH, "source": "fr", "target": "en"}, timeout=60)
    body = assert_clean_error(response, 500, "fr-en")
    assert "secret-models" not in body["error"]


# -- operations ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guarded(tiny_marian: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys.write_text("# key  requests/minute\nnewsroom-key\nintern-key 2\n", encoding="utf-8")
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, api_keys=keys, require_key=True,
                             char_limit=200, batch_limit=3, max_body_bytes=5000, cors_origins=["https://news.example"])
    with running(settings) as url:
        yield url


def test_keys_rate_limits_and_size_limits(guarded: str) -> None:
    with httpx.Client(base_url=guarded, timeout=60) as session:
        ask = {"q": "Merci.", "source": "fr", "target": "en"}
        assert_clean_error(session.post("/translate", json=ask), 403, "API key is required")
        assert_clean_error(session.post("/translate", json={**ask, "api_key": "guess"}), 403, "Invalid API key")
        assert session.post("/translate", json={**ask, "api_key": "newsroom-key"}).status_code == 200
        assert session.post("/translate", data={**ask, "api_key": "newsroom-key"}).status_code == 200
        assert session.post("/translate", json=ask, headers={"Authorization": "Bearer newsroom-key"}).status_code == 200
        assert [session.post("/translate", json={**ask, "api_key": "intern-key"}).status_code for _ in range(2)] \
            == [200, 200]
        limited = session.post("/translate", json={**ask, "api_key": "intern-key"})
        assert_clean_error(limited, 429, "Slowdown")
        assert int(limited.headers["retry-after"]) >= 1
        assert session.post("/translate", json={**ask, "api_key": "newsroom-key"}).status_code == 200  # others go on
        keyed = {"source": "fr", "target": "en", "api_key": "newsroom-key"}
        assert_clean_error(session.post("/translate", json={**keyed, "q": "a" * 201}), 400,
                           "request (201) exceeds text limit (200)")
        assert_clean_error(session.post("/translate", json={**keyed, "q": ["a", "b", "c", "d"]}), 400,
                           "request (4) exceeds text limit (3)")
        assert_clean_error(session.post("/translate", json={**keyed, "q": "a" * 6000}), 413, "too large")
        assert session.get("/languages").status_code == 200  # no key needed to list languages
        metrics = session.get("/metrics").text
        assert "newsroom-key" not in metrics and 'toolkit_serve_rejected_total{reason="rate"} 1.0' in metrics


def test_cors_only_for_the_allowed_origin(guarded: str, base: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(f"{guarded}/translate", headers={"Origin": "https://news.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "https://news.example"
    other = httpx.options(f"{guarded}/translate", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    default = httpx.get(f"{base}/languages", headers={"Origin": "https://news.example"})
    assert "access-control-allow-origin" not in default.headers  # no CORS unless asked for


def test_access_log_has_no_texts_by_default(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Le mot de passe est hirondelle."
    with caplog.at_level("INFO", logger="toolkit.serve.access"):
        client.post("/translate", json={"q": secret, "source": "fr", "target": "en"})
        time.sleep(0.1)
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "toolkit.serve.access"]
    entry = next(e for e in entries if e["path"] == "/translate")
    assert entry["status"] == 200 and entry["chars"] == len(secret) and entry["source"] == "fr"
    assert "hirondelle" not in caplog.text


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(TOOLKIT), "serve", *args], env=env or {**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interactive_signals)


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight(tiny_marian: Path, library) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # A long batching wait keeps the request in flight when SIGTERM arrives.
    process = _serve("--port", str(port), "--translator", f"fr-en={tiny_marian}", "--preload",
                     "--max-wait-ms", "3000", "--max-batch-size", "64")
    try:
        _wait_healthy(url, process)
        answer: dict = {}
        thread = threading.Thread(target=lambda: answer.update(httpx.post(
            f"{url}/translate", json={"q": FRENCH, "source": "fr", "target": "en"}, timeout=60).json()))
        thread.start()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        thread.join(60)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert answer == {"translatedText": library.translate([FRENCH])[0]}
    assert process.returncode == 143
    assert "server stopped on SIGTERM after finishing the requests in flight" in stderr
    assert "Traceback" not in stderr
    access = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]  # one JSON object a line
    assert any(e["path"] == "/translate" and e["status"] == 200 and e["ts"] for e in access)
    assert FRENCH not in stderr  # request texts stay out of the logs


@pytest.mark.parametrize(("args", "message"), [
    (["--translator", "fr-en"], "expected SRC-TGT=MODEL"),
    (["--translator", "xx-en=m"], "unknown language code"),
    (["--require-key"], "--require-key needs --api-keys"),
    (["--api-keys", "/nonexistent/keys.txt", "--translator", "fr-en=m"], "no such file"),
    (["--max-batch-size", "0"], "--max-batch-size must be at least 1"),
])
def test_cli_usage_errors_are_one_line(args: list[str], message: str) -> None:
    process = _serve("--port", str(free_port()), *args)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert stderr.strip().count("\n") == 0 and stderr.startswith("toolkit: error:") and message in stderr


def test_a_port_in_use_is_one_line(tiny_marian: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _serve("--port", str(taken.getsockname()[1]), "--translator", f"fr-en={tiny_marian}")
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2 and stderr.startswith("toolkit: error: cannot listen on 127.0.0.1:")


# -- the web page, in a real headless browser --------------------------------------------------------

@pytest.mark.slow
def test_web_page_translates_and_summarises_in_a_browser(base: str, client: httpx.Client) -> None:
    text = "Bonjour à tous.\nLe gouvernement a présenté mercredi un nouveau projet de loi sur le logement."
    expected = client.post("/translate", json={"q": text, "source": "auto", "target": "en"}).json()
    summary = client.post("/summarize", json={"q": text, "lang": "auto"}).json()
    with headless_page() as page:
        page.goto(base + "/")
        page.wait_for_function("document.querySelectorAll('#source-lang option').length > 1")
        assert page.locator("#target-lang").input_value() == "en"
        page.fill("#source-text", text)
        page.click("#translate")
        page.wait_for_function("document.getElementById('timing').textContent.startsWith('Translated in')")
        assert page.locator("#result").text_content() == expected["translatedText"]
        assert "French (fr" in page.locator("#detected").text_content()
        page.click("#summarize")
        page.wait_for_function("document.getElementById('timing').textContent.startsWith('Summarised in')")
        assert page.locator("#result").text_content() == summary["summary"]
        page.select_option("#source-lang", "fr")
        page.fill("#source-text", "   ")
        page.click("#translate")
        assert "Type or paste" in page.locator("#error").text_content()


def _fake_hub_cache(root: Path, repo_id: str, model: Path) -> None:
    """A Hugging Face cache holding ``model`` under ``repo_id``, laid out as huggingface_hub does."""
    repo = root / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in model.iterdir():
        shutil.copy(file, snapshot / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_without_translators_the_pairs_come_from_the_registry_and_the_cache(tiny_marian: Path, tmp_path: Path,
                                                                             library) -> None:
    _fake_hub_cache(tmp_path / "hf", "Helsinki-NLP/opus-mt-fr-en", tiny_marian)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve("--port", str(port), env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    try:
        _wait_healthy(url, process)
        assert httpx.get(f"{url}/languages").json() == [{"code": "en", "name": "English", "targets": []},
                                                         {"code": "fr", "name": "French", "targets": ["en"]}]
        answer = httpx.post(f"{url}/translate", json={"q": FRENCH, "source": "fr", "target": "en"}, timeout=120)
        assert answer.json() == {"translatedText": library.translate([FRENCH])[0]}
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def test_nothing_to_serve_is_one_line(tmp_path: Path) -> None:
    process = _serve("--port", str(free_port()), env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2 and stderr.startswith("toolkit: error: no model to serve")


@pytest.mark.parametrize("markup", [
    '<p class="a"> Bonjour à tous.  Comment allez-vous ? </p>\n<br/><img src="x.png" alt="Une image">',
    ("<!DOCTYPE html><html><head><style>p { color: red; }</style><script>if (a < b) { x(); }</script></head>"
     "<body><h1>Titre</h1>\n\n<p>Premier paragraphe. Deuxième phrase.</p><pre>  code   gardé </pre></body></html>"),
    "Texte sans balises.\n\nDeuxième paragraphe.",
    "<p>Fish &amp; chips &lt;3</p><!-- commentaire -->",
])
def test_html_comes_back_unchanged_when_every_sentence_maps_to_itself(markup: str) -> None:
    """The server's HTML path is the library's (serve/markup.py is gone): plan, then restore."""
    from toolkit.io.results import SegmentRecord
    from toolkit.tasks.translate import UnitResults, document_from_text, plan, restore

    planned = plan([document_from_text(markup, "page", "html")], "fr", "en")
    rebuilt = restore(planned, UnitResults([SegmentRecord(0, i, t, t) for i, t in enumerate(planned.texts)]))
    assert rebuilt[0].output == markup
    sentences = " | ".join(planned.texts)
    for kept in ("<p", "</", "<!--", "color: red", "x();", "gardé", "x.png"):
        assert kept not in sentences  # tags, attributes, comments, script, style and pre are not translated
    # As `toolkit translate` does with a page, an image's alt text is translated.
    assert ("Une image" in sentences) == ("Une image" in markup)


def test_a_full_queue_is_a_clean_503(tiny_marian: Path) -> None:
    with running(ServeSettings(translators={"fr-en": str(tiny_marian)}, max_queue=2)) as url:
        response = httpx.post(f"{url}/translate", json={"q": "Un. Deux. Trois.", "source": "fr", "target": "en"},
                              timeout=60)
        assert_clean_error(response, 503, "too many sentences are waiting")
        assert response.headers["retry-after"] == "1"
        assert httpx.post(f"{url}/translate", json={"q": "Un. Deux.", "source": "fr", "target": "en"},
                          timeout=60).status_code == 200
