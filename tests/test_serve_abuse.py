"""`toolkit serve` under abuse (issue #27): abandoned and oversized work, slow and idle
connections, client input that used to give a 500, forged addresses, floods, per-request
generation options, detection over every language, shutdown. A real server on a loopback port,
tiny random-weight models; every loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from serve_helpers import abandoned_request, free_port, metric, running  # noqa: E402
from test_serve import FRENCH, _serve, _wait_healthy, assert_clean_error  # noqa: E402

from toolkit.serve.settings import ServeSettings  # noqa: E402

GERMAN = "Der Bundestag hat am Mittwoch ein neues Gesetz über den Wohnungsbau beschlossen."


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def server(tiny_marian: Path, tiny_bart: Path) -> Iterator[str]:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, summarizers={"en": str(tiny_bart)},
                             max_wait_ms=20, max_request_sentences=300, cors_origins=["https://news.example"])
    with running(settings) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as session:
        yield session


# -- 1. abandoned work, bounded work, fairness ------------------------------------------------------

def test_a_large_request_shares_batches_with_small_ones_and_leaves_the_queue_when_cancelled() -> None:
    from toolkit.serve.batcher import BatchLimits, DynamicBatcher

    seen: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        seen.append(list(items))
        return [item.upper() for item in items]

    async def scenario() -> None:
        executor = ThreadPoolExecutor(1)
        batcher = DynamicBatcher(run, BatchLimits(max_batch_size=8, max_batch_tokens=1000, max_wait_ms=20), executor)
        batcher.start()
        large = [f"large-{i}" for i in range(80)]
        big, small = await asyncio.gather(batcher.submit(large, [1] * 80), batcher.submit(["small"], [1]))
        assert big == [s.upper() for s in large] and small == ["SMALL"]
        assert "small" in seen[0]  # served in the first batch, not after the 80 sentences before it (FIFO)
        seen.clear()
        # An abandoned request leaves the queue at once: nothing of it waits or is decoded later.
        gone = asyncio.ensure_future(batcher.submit([f"gone-{i}" for i in range(200)], [1] * 200))
        await asyncio.sleep(0)
        assert batcher.queued == 200
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        assert batcher.queued == 0 and batcher.waiting_requests == 0
        assert await batcher.submit(["next"], [1]) == ["NEXT"]
        assert sum(len(b) for b in seen) <= 8 + 1  # at most the batch already taken before the cancel
        seen.clear()
        # Items of different groups (generation options) never share a batch.
        await asyncio.gather(*(batcher.submit([f"g{g}-{i}" for i in range(3)], [1] * 3, group=(g,)) for g in range(3)))
        assert all(len({item.split("-")[0] for item in batch}) == 1 for batch in seen)
        await batcher.close()
        executor.shutdown()

    asyncio.run(scenario())


def test_an_abandoned_large_request_is_dropped_and_a_small_one_is_served(tiny_marian: Path) -> None:
    # One sentence a batch: the large request takes many decoding rounds, so abandoning it matters.
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, max_batch_size=1, max_wait_ms=0, preload=True)
    sentences = 400
    text = " ".join(f"Phrase numéro {i} du texte." for i in range(sentences))
    body = json.dumps({"q": text, "source": "fr", "target": "en"}).encode()
    with running(settings) as url, httpx.Client(base_url=url, timeout=60) as session:
        with abandoned_request(url, session, b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                               b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body, "the large request never queued"):
            pass  # the client goes away as soon as its request is queued
        metrics = session.get("/metrics").text
        assert metric(metrics, "toolkit_serve_queued_items") == 0
        decoded = metric(metrics, 'toolkit_serve_batch_size_sum{model="translation:fr-en"}')
        small = session.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en"})
        assert small.status_code == 200
        after = metric(session.get("/metrics").text, 'toolkit_serve_batch_size_sum{model="translation:fr-en"}')
        assert after == decoded + 1  # nothing of the abandoned request was decoded before it
        assert decoded < sentences


def test_one_request_cannot_queue_more_than_its_share(client: httpx.Client) -> None:
    flood = "Oui. Non. " * 200  # 400 sentences, 2 KB: within the character limit
    assert_clean_error(client.post("/translate", json={"q": flood, "source": "fr", "target": "en"}), 413,
                       "400 sentences, at most 300 per request")
    assert client.post("/translate", json={"q": "Oui. Non.", "source": "fr", "target": "en"}).status_code == 200


# -- 2. slow and idle connections, the connection limit -------------------------------------------

@pytest.fixture(scope="module")
def strict(tiny_marian: Path) -> Iterator[str]:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, header_timeout=0.5, keep_alive_timeout=0.5,
                             body_timeout=0.5, max_connections=8)
    with running(settings) as url:
        yield url


def test_idle_and_slowloris_connections_are_closed(strict: str) -> None:
    port = int(strict.rsplit(":", 1)[1])
    start = time.monotonic()
    assert b"408" in _raw(port, b"", timeout=5)  # a connection that never sends a request
    assert time.monotonic() - start < 4
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # headers a byte at a time
        answer = b""
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)
            sock.setblocking(False)
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408") and b'{"error": "Request headers not received' in answer
    # A body that trickles in is cut off by --body-timeout, with a JSON 408.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100"
                     b"\r\n\r\n{")
        sock.settimeout(5)
        reply = sock.recv(4096)
    assert b" 408 " in reply.split(b"\r\n")[0] and b"Request body not received" in reply


def test_idle_connections_cannot_lock_out_new_clients(tiny_marian: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, header_timeout=30, max_connections=8)
    with running(settings) as url:
        port = int(url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]  # over the limit of 8
        try:
            time.sleep(0.2)
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200  # the oldest idle one made room
            closed = 0
            for sock in idle[:13]:
                sock.settimeout(2)
                try:
                    closed += sock.recv(1) == b""
                except (TimeoutError, ConnectionResetError):
                    closed += 1
            assert closed >= 5
        finally:
            for sock in idle:
                sock.close()


def test_accept_errors_are_logged_once_per_interval() -> None:
    from toolkit.serve.connections import ThrottledAcceptErrors

    logger = logging.getLogger("test.accept")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.addFilter(ThrottledAcceptErrors(interval=60))
    try:
        error = OSError(24, "Too many open files")
        for _ in range(1000):
            logger.error("socket.accept() out of system resource", exc_info=(OSError, error, None))
        logger.error("something else")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2 and records[0].exc_info is None and "Too many open files" in records[0].getMessage()


# -- 3. no 500 from client input ---------------------------------------------------------------------

@pytest.mark.parametrize(("path", "content", "fragment"), [
    ("/translate", b'{"q": ' + b"[" * 3000 + b"]" * 3000 + b', "source": "fr", "target": "en"}', "nested too deeply"),
    ("/translate", b'{"q": "Bonjour \\ud800", "source": "fr", "target": "en"}', "lone surrogate"),
    ("/translate", b'{"q": "Bonjour", "source": "fr", "target": "\\ud800"}', "lone surrogate"),
    ("/translate", b'{"q": "Bonjour", "source": "fr", "target": "en", "alternatives": "abc"}', "alternatives"),
    ("/translate", b'{"q": "Bonjour", "source": "fr", "target": "en", "alternatives": 99}', "alternatives"),
    ("/summarize", b'{"q": "Hello there.", "lang": "en", "max_length": 1000000000000000000000000000000}',
     "max_length parameter must be <= 1024"),
    ("/summarize", b'{"q": "Hello there.", "lang": "en", "max_length": true}', "whole number"),
    ("/summarize", b'{"q": "Hello there.", "lang": "en", "max_length": 7.5}', "whole number"),
    ("/detect", b'{"q": "\\udfff"}', "lone surrogate"),
])
def test_client_input_is_a_clean_400_and_the_connection_stays_usable(client: httpx.Client, path: str,
                                                                      content: bytes, fragment: str) -> None:
    response = client.post(path, content=content, headers={"Content-Type": "application/json"})
    body = assert_clean_error(response, 400, fragment)
    assert "--" not in body["error"]  # the client's parameters are named, not the CLI's flags
    assert response.headers.get("connection") != "close"
    assert client.get("/health").status_code == 200


def test_huge_headers_and_refused_preflights_are_json(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    reply = _raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head and json.loads(body)["error"]
    preflight = httpx.options(f"{server}/translate", headers={"Origin": "https://evil.example",
                                                               "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 400 and "Disallowed CORS origin" in preflight.json()["error"]


def test_a_bug_is_one_json_500_with_cors_closing_the_connection(tiny_marian: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    import toolkit.serve.app as app_module
    from toolkit.serve.catalog import Catalog

    class Broken(Catalog):
        def languages(self) -> list:
            raise RuntimeError("a bug in the catalog")

    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, cors_origins=["https://news.example"])
    monkeypatch.setattr(app_module, "build_catalog", lambda s: Broken(s, pairs={"fr-en": str(tiny_marian)}))
    with caplog.at_level(logging.ERROR), running(settings) as url:
        response = httpx.get(f"{url}/languages", headers={"Origin": "https://news.example"}, timeout=30)
        time.sleep(0.2)
    assert_clean_error(response, 500, "internal server error")
    assert response.headers["connection"] == "close"
    assert response.headers["access-control-allow-origin"] == "https://news.example"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "a bug in the catalog" in str(tracebacks[0].exc_info[1])


def test_no_request_body_gives_a_5xx(client: httpx.Client) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
                        st.floats(allow_nan=False), st.text(max_size=30),
                        st.sampled_from(["fr", "en", "auto", "de", "html", "text", "\ud800", "", "0", "-1"]))
    values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=2))
    keys = st.sampled_from(["q", "source", "target", "format", "alternatives", "api_key", "lang", "min_length",
                            "max_length", "s"])
    bodies = st.dictionaries(keys, values, max_size=6)

    @hypothesis.settings(max_examples=60, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(path=st.sampled_from(["/translate", "/detect", "/summarize", "/suggest"]), body=bodies)
    def no_5xx(path: str, body: dict) -> None:
        content = json.dumps(body, ensure_ascii=True).encode()  # lone surrogates travel as \\ud800 escapes
        response = client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code < 500, (path, body, response.text)
        assert "error" in response.json() or response.status_code == 200

    no_5xx()


# -- 4. generation options are per request, not a model ---------------------------------------------

def test_summary_lengths_do_not_load_models_or_grow_metrics(client: httpx.Client) -> None:
    article = "The council met on Monday. It approved the budget. Residents asked questions. " * 5
    first = client.post("/summarize", json={"q": article, "lang": "en", "max_length": 5})
    assert first.status_code == 200
    size = len(client.get("/metrics").text)
    for length in range(6, 16):
        assert client.post("/summarize", json={"q": article, "lang": "en", "max_length": length}).status_code == 200
    assert client.post("/summarize", json={"q": article, "lang": "en"}).status_code == 200
    loaded = client.get("/health").json()["loaded_models"]
    assert [m for m in loaded if m.startswith("summarization")] == ["summarization:en"]
    metrics = client.get("/metrics").text
    assert "max_length" not in metrics and len(metrics) < size * 1.2


# -- 6. forged addresses, floods, /metrics --------------------------------------------------------------

def _limited(url: str, forwarded: bool) -> list[int]:
    with httpx.Client(base_url=url, timeout=60) as session:
        return [session.post("/translate", json={"q": "Merci.", "source": "fr", "target": "en"},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {}).status_code
                for i in range(4)]


def test_a_forged_forwarded_for_does_not_escape_the_rate_limit(tiny_marian: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, rate_limit=2)
    with caplog.at_level("INFO", logger="toolkit.serve.access"), running(settings) as url:
        assert _limited(url, forwarded=True) == [200, 200, 429, 429]
        time.sleep(0.1)
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "toolkit.serve.access"]
    assert {e["client"] for e in entries} == {"127.0.0.1"}  # the real peer, not the forged address
    trusted = ServeSettings(translators={"fr-en": str(tiny_marian)}, rate_limit=2, forwarded_allow_ips=["127.0.0.1"])
    caplog.clear()
    with caplog.at_level("INFO", logger="toolkit.serve.access"), running(trusted) as url:
        assert _limited(url, forwarded=True) == [200, 200, 200, 200]  # behind a proxy the operator trusts
        time.sleep(0.1)
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "toolkit.serve.access"]
    assert any(e["client"] == "203.0.113.1" and e["peer"] == "127.0.0.1" for e in entries)


def test_trusted_proxies_take_the_rightmost_untrusted_address() -> None:
    from toolkit.serve.limits import TrustedProxies

    proxies = TrustedProxies(["10.0.0.0/8"])
    headers = [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.7, 10.1.2.3")]
    assert proxies.client(("10.0.0.1", 5), headers) == ("198.51.100.7", 0)
    assert proxies.client(("192.0.2.1", 5), headers) == ("192.0.2.1", 5)  # not a trusted peer
    assert TrustedProxies([]).client(("10.0.0.1", 5), headers) == ("10.0.0.1", 5)


def test_repeated_violations_are_banned_and_metrics_can_be_protected(tiny_marian: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, rate_limit=1, flood_threshold=2,
                             metrics_token="s3cret")
    ask = {"q": "Merci.", "source": "fr", "target": "en"}
    with running(settings) as url, httpx.Client(base_url=url, timeout=60) as session:
        codes = [session.post("/translate", json=ask).status_code for _ in range(4)]
        assert codes == [200, 429, 429, 403]
        assert_clean_error(session.post("/translate", json=ask), 403, "Too many request limits violations")
        assert_clean_error(session.get("/metrics"), 401, "Unauthorized")
        assert session.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert session.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_the_flood_ban_is_forgiven_over_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.serve import limits

    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    flood = limits.FloodGuard(threshold=2, forgive_seconds=600)
    flood.report("a")
    assert not flood.banned("a")
    flood.report("a")
    assert flood.banned("a") and not flood.banned("b")
    now[0] += 601
    assert not flood.banned("a")


# -- 7. detection over every language ------------------------------------------------------------------

def test_auto_detects_unserved_languages_and_refuses_them_by_name(client: httpx.Client) -> None:
    assert_clean_error(client.post("/translate", json={"q": GERMAN, "source": "auto", "target": "en"}), 400,
                       "from German (de) (detected)")
    detected = client.post("/detect", json={"q": GERMAN}).json()
    assert detected[0]["language"] == "de"
    confidences = [d["confidence"] for d in detected]
    assert confidences == sorted(confidences, reverse=True) and all(0 <= c <= 100 for c in confidences)


# -- 8. a bad --translator is exit 2 at start -----------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--translator", "fr-en=/nonexist"], "--translator fr-en=/nonexist: unknown model '/nonexist'"),
    (["--summarizer", "en=./no/such/folder"], "--summarizer en=./no/such/folder: unknown model"),
    (["--translator", "fr-en=Helsinki-NLP/opus-mt-xx-yy"], "not in the local Hugging Face cache"),
])
def test_a_bad_model_reference_is_one_line_at_start(args: list[str], message: str) -> None:
    process = _serve("--port", str(free_port()), *args)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert stderr.strip().count("\n") == 0 and stderr.startswith("toolkit: error:") and message in stderr


# -- 5. shutdown tells the truth -----------------------------------------------------------------------

@pytest.mark.slow
def test_requests_cut_off_at_shutdown_get_a_json_503_and_the_count_is_true(tiny_marian: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Batches wait 20 s for company: the requests are still in flight when the 1 s grace ends.
    process = _serve("--port", str(port), "--translator", f"fr-en={tiny_marian}", "--preload",
                     "--max-wait-ms", "20000", "--max-batch-size", "64", "--graceful-timeout", "1")
    answers: list[httpx.Response] = []
    try:
        _wait_healthy(url, process)

        def ask() -> None:
            answers.append(httpx.post(f"{url}/translate", json={"q": FRENCH, "source": "fr", "target": "en"},
                                      timeout=60))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(60)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert len(answers) == 4
    for answer in answers:
        assert_clean_error(answer, 503, "shutting down")
        assert answer.headers["retry-after"]
    assert process.returncode == 143
    lines = [line for line in stderr.splitlines() if line.startswith("toolkit:")]
    assert lines == ["toolkit: terminated; server stopped on SIGTERM: 0 request(s) in flight finished, 4 cut off at "
                     "--graceful-timeout 1 s and answered 503"]
    assert "Traceback" not in stderr


def test_ctrl_c_prints_one_honest_line(tiny_marian: Path) -> None:
    port = free_port()
    process = _serve("--port", str(port), "--translator", f"fr-en={tiny_marian}")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    lines = [line for line in stderr.splitlines() if line.startswith("toolkit:")]
    assert lines == ["toolkit: interrupted; server stopped on Ctrl-C; no request was in flight"]
    assert "nothing was written" not in stderr


# -- 9. the rest of LibreTranslate's API --------------------------------------------------------------

def test_frontend_settings_spec_and_alternatives(client: httpx.Client) -> None:
    front = client.get("/frontend/settings").json()
    assert front["charLimit"] == 20_000 and front["suggestions"] is False and front["keyRequired"] is False
    assert front["language"]["source"]["code"] == "fr" and front["language"]["target"]["code"] == "en"
    spec = client.get("/spec").json()
    assert "/translate" in spec["paths"] and "/suggest" in spec["paths"]
    answer = client.post("/translate", json={"q": FRENCH, "source": "fr", "target": "en", "alternatives": 2}).json()
    # n-best lists are decoded now (tests/test_alternatives.py): a list of at most 2 other strings.
    assert isinstance(answer["alternatives"], list) and len(answer["alternatives"]) <= 2 and answer["translatedText"]
    assert answer["translatedText"] not in answer["alternatives"]
    assert_clean_error(client.post("/suggest", json={"q": "a", "s": "b", "source": "fr", "target": "en"}), 403,
                       "Suggestions are disabled")


def test_suggestions_are_stored_only_when_enabled(tiny_marian: Path, tmp_path: Path) -> None:
    folder = tmp_path / "suggestions"
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, suggestions_dir=folder, text_char_limit=10)
    with running(settings) as url, httpx.Client(base_url=url, timeout=60) as session:
        ok = session.post("/suggest", data={"q": "Merci.", "s": "Thank you.", "source": "fr", "target": "en"})
        assert ok.json() == {"success": True}
        assert_clean_error(session.post("/suggest", json={"q": "Merci.", "source": "fr", "target": "en"}), 400,
                           "missing s")
        assert_clean_error(session.post("/translate", json={"q": ["court", "bien trop long"], "source": "fr",
                                                            "target": "en"}), 400, "exceeds text limit (10)")
    assert os.listdir(folder) == ["suggestions.jsonl"]
    stored = [json.loads(line) for line in (folder / "suggestions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(s["q"], s["s"], s["source"], s["target"]) for s in stored] == [("Merci.", "Thank you.", "fr", "en")]


def test_the_libretranslate_client_sees_ranked_detections(server: str) -> None:
    libretranslatepy = pytest.importorskip("libretranslatepy")
    detections = libretranslatepy.LibreTranslateAPI(server).detect(GERMAN)
    assert detections[0]["language"] == "de" and len(detections) >= 1


def test_the_cli_accepts_every_abuse_setting(tiny_marian: Path) -> None:
    port = free_port()
    process = _serve("--port", str(port), "--translator", f"fr-en={tiny_marian}", "--max-request-sentences", "5",
                     "--max-connections", "50", "--header-timeout", "2", "--forwarded-allow-ips", "10.0.0.0/8",
                     "--flood-threshold", "3", "--metrics-token", "t", "--alternatives-limit", "1",
                     env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 401
        too_many = httpx.post(f"http://127.0.0.1:{port}/translate", timeout=60,
                              json={"q": "Un. Deux. Trois. Quatre. Cinq. Six.", "source": "fr", "target": "en"})
        assert_clean_error(too_many, 413, "at most 5 per request")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    bad = _serve("--port", str(free_port()), "--forwarded-allow-ips", "not-an-ip", "--translator", f"fr-en={tiny_marian}")
    _, stderr = bad.communicate(timeout=120)
    assert bad.returncode == 2 and "--forwarded-allow-ips not-an-ip" in stderr
