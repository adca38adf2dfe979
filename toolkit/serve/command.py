"""The `toolkit serve` command: options → ServeSettings → the server. Registered on the CLI by
toolkit/cli.py; imports only typer until it runs, so `toolkit --help` needs no server extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.common import Backend, Device, GlossaryOption, KeepOption


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 5000,
    translator: Annotated[list[str] | None, typer.Option("--translator", help="SRC-TGT=MODEL (repeatable); default: every pair the registry routes with cached models.")] = None,
    summarizer: Annotated[list[str] | None, typer.Option("--summarizer", help="[LANG=]MODEL, MODEL a hub id, folder, lead-N or textrank[-N] (repeatable); default: the cached default summarisers.")] = None,
    registry: Annotated[Path | None, typer.Option("--registry", help="Model registry (default: the packaged registry, toolkit/data/models.yaml).")] = None,
    no_pivot: Annotated[bool, typer.Option("--no-pivot/--pivot", help="Refuse two-hop routes through English.")] = False,
    api_keys: Annotated[Path | None, typer.Option("--api-keys", help="File of API keys: KEY [REQUESTS_PER_MINUTE] per line.")] = None,
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
    device: Annotated[Device, typer.Option("--device", help="auto picks cuda when PyTorch sees a GPU.")] = Device.auto,
    backend: Annotated[Backend | None, typer.Option("--backend", help="auto: CTranslate2 where it supports the model, else PyTorch.")] = None,
    quantization: Annotated[str | None, typer.Option("--quantization", help="ct2 weights: int8 (CPU default), int8_float16, float16, …")] = None,
    threads: Annotated[int, typer.Option("--threads", min=0, help="CPU threads for inference (0: the library's default).")] = 0,
    beams: Annotated[int | None, typer.Option("--beams", min=1, help="Beam size (default: the model's generation config).")] = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    graceful_timeout: Annotated[float, typer.Option("--graceful-timeout", min=0, help="Seconds to let requests in flight finish on SIGTERM.")] = 30.0,
    log_texts: Annotated[bool, typer.Option("--log-texts/--no-log-texts", help="Put request texts in the access log (off: only sizes).")] = False,
) -> None:
    """Serve translation (LibreTranslate's API) and summarisation over HTTP, with a web page at /."""
    from toolkit.console import quiet_libraries, user_errors
    from toolkit.serve.settings import ServeSettings, parse_summarizers, parse_translators

    quiet_libraries()
    with user_errors():
        settings = ServeSettings(
            host=host, port=port, translators=parse_translators(translator or []),
            summarizers=parse_summarizers(summarizer or []), registry=registry, allow_pivot=not no_pivot,
            device=device.value, backend=backend.value if backend else None, quantization=quantization,
            glossary=glossary, keep=list(keep or []),
            threads=threads, beams=beams, max_batch_size=max_batch_size, max_batch_tokens=max_batch_tokens,
            max_wait_ms=max_wait_ms, max_queue=max_queue, max_loaded_models=max_loaded_models, preload=preload,
            api_keys=api_keys, require_key=require_key, rate_limit=rate_limit, char_limit=char_limit,
            batch_limit=batch_limit, max_body_bytes=max_body_bytes, cors_origins=list(cors or []),
            log_texts=log_texts, graceful_timeout=graceful_timeout)
        from toolkit.console import EXIT_SIGINT, EXIT_SIGTERM, Terminated
        from toolkit.serve.server import serve as run_server

        # uvicorn drains the requests in flight, then re-raises the signal it caught.
        try:
            run_server(settings)
        except Terminated:
            print("toolkit: server stopped on SIGTERM after finishing the requests in flight", file=sys.stderr)
            raise typer.Exit(EXIT_SIGTERM) from None
        except KeyboardInterrupt:
            print("toolkit: server stopped on Ctrl-C after finishing the requests in flight", file=sys.stderr)
            raise typer.Exit(EXIT_SIGINT) from None
