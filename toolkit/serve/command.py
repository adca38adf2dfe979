"""The `toolkit serve` command: options → ServeSettings → the server. Registered on the CLI by
toolkit/cli.py; imports only typer until it runs, so `toolkit --help` needs no server extra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli.common import (
    GlossaryOption,
    KeepOption,
    MemoryOption,
    engine_choices,
    generation_choices,
    memory_choices,
)
from toolkit.limits import Backend, Device, bounds


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 5000,
    translator: Annotated[list[str] | None, typer.Option("--translator", help="SRC-TGT=MODEL (repeatable); default: every pair the registry routes with cached models.")] = None,
    summarizer: Annotated[list[str] | None, typer.Option("--summarizer", help="[LANG=]MODEL, MODEL a hub id, folder, lead-N or textrank[-N] (repeatable); default: the cached default summarisers.")] = None,
    registry: Annotated[Path | None, typer.Option("--registry", help="Model registry (default: the packaged registry, toolkit/data/models.yaml).")] = None,
    no_pivot: Annotated[bool, typer.Option("--no-pivot/--pivot", help="Refuse two-hop routes through English.")] = False,
    api_keys: Annotated[Path | None, typer.Option("--api-keys", help="File of API keys: KEY [REQUESTS_PER_MINUTE] \\[file-bytes=N] \\[file-chars=N] per line.")] = None,
    require_key: Annotated[bool, typer.Option("--require-key/--no-require-key", help="Refuse requests without a valid key (403).")] = False,
    rate_limit: Annotated[int, typer.Option("--rate-limit", min=0, help="Requests per minute per key or client address (0: no limit).")] = 0,
    char_limit: Annotated[int, typer.Option("--char-limit", min=0, help="Characters per request, all texts together (0: no limit).")] = 20_000,
    batch_limit: Annotated[int, typer.Option("--batch-limit", min=1, help="Texts per request when q is a list.")] = 128,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Largest request body (413 beyond).")] = 1_000_000,
    cors: Annotated[list[str] | None, typer.Option("--cors", help="Origin allowed to call the API from a browser (repeatable; * for any). Default: none.")] = None,
    max_batch_size: Annotated[int, typer.Option("--max-batch-size", min=1, help="Most sentences decoded together (1: no batching).")] = 32,
    max_batch_tokens: Annotated[int, typer.Option("--max-batch-tokens", min=16, help="Most (estimated) tokens per batch.")] = 8192,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", min=0, help="How long a sentence may wait for others to share its batch.")] = 10.0,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="Most sentences waiting per model (503 beyond).")] = 10_000,
    max_loaded_models: Annotated[int, typer.Option("--max-loaded-models", min=1, help="Most models in memory; the least recently used is unloaded.")] = 2,
    preload: Annotated[bool, typer.Option("--preload/--lazy", help="Load the first pairs' models at start-up instead of on first use.")] = False,
    device: Annotated[Device, typer.Option("--device", help="auto picks cuda when PyTorch sees a GPU.")] = "auto",
    backend: Annotated[Backend | None, typer.Option("--backend", help="auto: CTranslate2 where it supports the model, else PyTorch.")] = None,
    quantization: Annotated[str | None, typer.Option("--quantization", help="ct2 weights: int8 (CPU default), int8_float16, float16, …")] = None,
    threads: Annotated[int, typer.Option("--threads", **bounds("threads"), help="CPU threads for inference (0: the library's default).")] = 0,
    beams: Annotated[int | None, typer.Option("--beams", **bounds("num_beams"), help="Beam size (default: the model's generation config).")] = None,
    confidence: Annotated[bool, typer.Option("--confidence/--no-confidence", help="Score every translation (the confidence \"quality\": true requests get; free on ct2, measured +1.7% CPU time on torch).")] = False,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    tm: MemoryOption = None,
    graceful_timeout: Annotated[float, typer.Option("--graceful-timeout", min=0, help="Seconds to let requests in flight finish on SIGTERM (then they are answered 503).")] = 60.0,
    log_texts: Annotated[bool, typer.Option("--log-texts/--no-log-texts", help="Put request texts in the access log (off: only sizes).")] = False,
    max_request_sentences: Annotated[int, typer.Option("--max-request-sentences", min=1, help="Most sentences (documents for /summarize) one request may queue (413 beyond).")] = 1000,
    max_request_tokens: Annotated[int, typer.Option("--max-request-tokens", min=1, help="Most estimated tokens one request may queue (413 beyond).")] = 16_384,
    text_char_limit: Annotated[int, typer.Option("--text-char-limit", min=0, help="Characters per text, as LibreTranslate's --char-limit (0: no limit).")] = 0,
    max_summary_length: Annotated[int, typer.Option("--max-summary-length", min=1, help="Largest min_length/max_length a /summarize request may ask for.")] = 1024,
    alternatives_limit: Annotated[int, typer.Option("--alternatives-limit", min=0, help="Most alternatives a /translate request may ask for.")] = 3,
    max_connections: Annotated[int, typer.Option("--max-connections", min=1, help="Open connections; beyond, the oldest idle one is closed (503 when none is idle).")] = 1000,
    header_timeout: Annotated[float, typer.Option("--header-timeout", min=0.001, help="Seconds for a request's headers to arrive (408 and close beyond).")] = 10.0,
    body_timeout: Annotated[float, typer.Option("--body-timeout", min=0, help="Seconds for a request's body to arrive (408 beyond; 0: no limit).")] = 30.0,
    keep_alive_timeout: Annotated[float, typer.Option("--keep-alive-timeout", min=0.001, help="Seconds an idle keep-alive connection stays open.")] = 5.0,
    max_header_bytes: Annotated[int, typer.Option("--max-header-bytes", min=1024, help="Request line and headers together (400 beyond).")] = 16_384,
    forwarded_allow_ips: Annotated[list[str] | None, typer.Option("--forwarded-allow-ips", help="Proxy address or network whose X-Forwarded-For names the client (repeatable; * for any). Default: none, the header is ignored.")] = None,
    flood_threshold: Annotated[int, typer.Option("--flood-threshold", min=0, help="Rate-limit violations before a client is banned (403) until forgiven (0: no ban).")] = 0,
    flood_forgive_seconds: Annotated[float, typer.Option("--flood-forgive-seconds", min=1, help="One violation is forgiven per this many seconds.")] = 600.0,
    metrics_token: Annotated[str | None, typer.Option("--metrics-token", envvar="TOOLKIT_METRICS_TOKEN", help="Bearer token /metrics requires (or set TOOLKIT_METRICS_TOKEN). Default: /metrics is open.")] = None,
    suggestions_dir: Annotated[Path | None, typer.Option("--suggestions-dir", help="Folder where /suggest stores users' suggestions (suggestions.jsonl). Default: /suggest is off (403).")] = None,
    files: Annotated[bool, typer.Option("--files/--no-files", help="Translate uploaded files (/translate_file); --no-files: 403, as LibreTranslate's --disable-files-translation.")] = True,
    file_size_limit: Annotated[int, typer.Option("--file-size-limit", min=1, help="Bytes of one uploaded file (413 beyond).")] = 10_000_000,
    file_char_limit: Annotated[int, typer.Option("--file-char-limit", min=0, help="Characters to translate in one uploaded file (400 beyond; 0: no limit).")] = 200_000,
    file_ttl: Annotated[float, typer.Option("--file-ttl", min=0.001, help="Seconds a translated file waits for its download before it is deleted.")] = 600.0,
    max_stored_files: Annotated[int, typer.Option("--max-stored-files", min=1, help="Translated files waiting for download, all clients together (503 beyond).")] = 1000,
) -> None:
    """Serve translation (LibreTranslate's API) and summarisation over HTTP, with a web page at /."""
    from toolkit.cli.output import user_errors
    from toolkit.runtime import quiet_libraries
    from toolkit.serve.settings import ServeSettings, parse_summarizers, parse_translators

    quiet_libraries()
    with user_errors():
        settings = ServeSettings(
            host=host, port=port, translators=parse_translators(translator or []),
            summarizers=parse_summarizers(summarizer or []), registry=registry, allow_pivot=not no_pivot,
            engine=memory_choices(engine_choices(device, backend, quantization, threads), False, tm, None)
            .replace(confidence=confidence or None),
            generation=generation_choices(beams), glossary=glossary, keep=list(keep or []),
            max_batch_size=max_batch_size, max_batch_tokens=max_batch_tokens,
            max_wait_ms=max_wait_ms, max_queue=max_queue, max_loaded_models=max_loaded_models, preload=preload,
            api_keys=api_keys, require_key=require_key, rate_limit=rate_limit, char_limit=char_limit,
            batch_limit=batch_limit, max_body_bytes=max_body_bytes, cors_origins=list(cors or []),
            log_texts=log_texts, graceful_timeout=graceful_timeout, max_request_sentences=max_request_sentences,
            max_request_tokens=max_request_tokens, text_char_limit=text_char_limit,
            max_summary_length=max_summary_length, alternatives_limit=alternatives_limit,
            max_connections=max_connections, header_timeout=header_timeout, body_timeout=body_timeout,
            keep_alive_timeout=keep_alive_timeout, max_header_bytes=max_header_bytes,
            forwarded_allow_ips=list(forwarded_allow_ips or []), flood_threshold=flood_threshold,
            flood_forgive_seconds=flood_forgive_seconds, metrics_token=metrics_token, suggestions_dir=suggestions_dir,
            files=files, file_size_limit=file_size_limit, file_char_limit=file_char_limit, file_ttl=file_ttl,
            max_stored_files=max_stored_files)
        from toolkit.cli.output import EXIT_SIGINT, EXIT_SIGTERM, report_interrupt, set_interrupt_note
        from toolkit.runtime import Terminated
        from toolkit.serve.server import serve as run_server

        # uvicorn drains the requests in flight, then re-raises the signal it caught: one line
        # says what became of them (the CLI's own "interrupted" line is this one).
        try:
            run_server(settings)
        except Terminated as exc:
            set_interrupt_note(stopped("SIGTERM", getattr(exc, "shutdown", None), settings.graceful_timeout))
            report_interrupt("terminated")
            raise typer.Exit(EXIT_SIGTERM) from None
        except KeyboardInterrupt as exc:
            set_interrupt_note(stopped("Ctrl-C", getattr(exc, "shutdown", None), settings.graceful_timeout))
            report_interrupt("interrupted")
            raise typer.Exit(EXIT_SIGINT) from None


def stopped(signal: str, shutdown: Any, graceful_timeout: float) -> str:
    """What became of the requests in flight, truthfully (counted by the app's middleware)."""
    if shutdown is None or not shutdown.stopping:
        return f"server stopped on {signal} before serving"
    if not shutdown.cut_off:
        if not shutdown.finished:
            return f"server stopped on {signal}; no request was in flight"
        return f"server stopped on {signal} after finishing the requests in flight ({shutdown.finished})"
    return (f"server stopped on {signal}: {shutdown.finished} request(s) in flight finished, {shutdown.cut_off} "
            f"cut off at --graceful-timeout {graceful_timeout:g} s and answered 503")
