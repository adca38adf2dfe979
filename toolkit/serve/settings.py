"""Everything `toolkit serve` is told, as one typed object (the CLI fills it, tests build it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.options import EngineOptions, GenerationOptions


@dataclass
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 5000
    # Pairs and summarisers named on the command line; empty: the registry and the local cache decide.
    translators: dict[str, str] = field(default_factory=dict)  # "fr-en" -> model
    summarizers: dict[str, str] = field(default_factory=dict)  # "en" (or "*": any language) -> model
    registry: Path | None = None
    allow_pivot: bool = True
    # Engines and generation, as for `toolkit translate`: the fields set here override the
    # configured defaults (toolkit.config.resolve_engine); batch sizes come from the batcher's.
    engine: EngineOptions = field(default_factory=EngineOptions)
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    # Glossary and kept terms for every translation (as `toolkit translate --glossary/--keep`).
    glossary: Path | None = None
    keep: list[str] = field(default_factory=list)
    # Dynamic batching and the model pool.
    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    max_wait_ms: float = 10.0
    max_queue: int = 10_000
    max_loaded_models: int = 2
    preload: bool = False
    # Operations.
    api_keys: Path | None = None
    require_key: bool = False
    rate_limit: int = 0  # requests per minute per key (or per client address without a key); 0: none
    char_limit: int = 20_000  # characters per request, all texts together; 0: none
    batch_limit: int = 128  # texts per request (q as a list)
    max_body_bytes: int = 1_000_000
    cors_origins: list[str] = field(default_factory=list)
    log_texts: bool = False
    graceful_timeout: float = 60.0  # p99 latency at 128 clients was 52.6 s (README, serve load benchmark)
    # Abuse: work per request, connections, time, proxies, floods.
    max_request_sentences: int = 1000  # sentences (documents, for /summarize) one request may queue
    max_request_tokens: int = 16_384  # estimated tokens one request may queue
    text_char_limit: int = 0  # characters per text (LibreTranslate's --char-limit is per text); 0: none
    max_summary_length: int = 1024  # the largest max_length/min_length a /summarize request may ask for
    alternatives_limit: int = 3  # most alternatives a /translate request may ask for (0: none offered)
    max_connections: int = 1000  # open connections; beyond, the oldest idle one is closed (503 if none is idle)
    header_timeout: float = 10.0  # seconds for a request's headers to arrive (slowloris)
    body_timeout: float = 30.0  # seconds for a request's body to arrive
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    max_header_bytes: int = 16_384  # request line and headers together (400 beyond)
    forwarded_allow_ips: list[str] = field(default_factory=list)  # proxies trusted for X-Forwarded-For
    flood_threshold: int = 0  # rate-limit violations before a temporary 403 ban; 0: no ban
    flood_forgive_seconds: float = 600.0  # one violation forgiven per this many seconds
    metrics_token: str | None = None  # Bearer token /metrics requires; None: open
    suggestions_dir: Path | None = None  # where /suggest stores suggestions; None: /suggest is off
    # /translate_file: uploads, and the private area where translations wait for their download.
    files: bool = True  # False: /translate_file and /download_file answer 403, as LibreTranslate's --disable-files-translation
    file_size_limit: int = 10_000_000  # bytes of one uploaded file (413 beyond)
    file_char_limit: int = 200_000  # characters to translate in one file (400 beyond); 0: none
    file_ttl: float = 600.0  # seconds a translated file waits for its download before it is deleted
    max_stored_files: int = 1000  # translated files waiting for download, all clients together (503 beyond)

    def body_limit(self, path: str, largest_file: int | None = None) -> int:
        """The largest request body for ``path``: an upload may be larger than a JSON request
        (its multipart framing and form fields get 64 KiB on top of the largest file a key may
        send, ``largest_file``; the handler then holds each key to its own limit)."""
        if path == "/translate_file" and self.files:
            return max(self.max_body_bytes, (largest_file or self.file_size_limit) + 65_536)
        return self.max_body_bytes

    def check(self) -> None:
        """One-line errors for values that cannot work (before any model or socket is touched)."""
        positive = {"--max-batch-size": self.max_batch_size, "--max-batch-tokens": self.max_batch_tokens,
                    "--max-loaded-models": self.max_loaded_models, "--batch-limit": self.batch_limit,
                    "--max-body-bytes": self.max_body_bytes, "--max-queue": self.max_queue,
                    "--max-request-sentences": self.max_request_sentences,
                    "--max-request-tokens": self.max_request_tokens, "--max-connections": self.max_connections,
                    "--max-header-bytes": self.max_header_bytes, "--max-summary-length": self.max_summary_length,
                    "--file-size-limit": self.file_size_limit, "--max-stored-files": self.max_stored_files}
        for option, value in positive.items():
            if value < 1:
                raise ToolkitError(f"{option} must be at least 1, got {value}")
        bounds: dict[str, float] = {"--max-wait-ms": self.max_wait_ms, "--rate-limit": self.rate_limit,
                                    "--char-limit": self.char_limit, "--graceful-timeout": self.graceful_timeout,
                                    "--text-char-limit": self.text_char_limit,
                                    "--alternatives-limit": self.alternatives_limit,
                                    "--body-timeout": self.body_timeout, "--flood-threshold": self.flood_threshold,
                                    "--flood-forgive-seconds": self.flood_forgive_seconds,
                                    "--file-char-limit": self.file_char_limit}
        for option, bound in bounds.items():
            if bound < 0:
                raise ToolkitError(f"{option} must not be negative, got {bound}")
        if not 0 <= self.port <= 65535:
            raise ToolkitError(f"--port must be between 0 and 65535, got {self.port}")
        for option, seconds in {"--header-timeout": self.header_timeout,
                                "--keep-alive-timeout": self.keep_alive_timeout, "--file-ttl": self.file_ttl}.items():
            if seconds <= 0:  # never timing out is what slowloris needs
                raise ToolkitError(f"{option} must be more than 0 seconds, got {seconds}")
        from toolkit.serve.limits import parse_network

        for spec in self.forwarded_allow_ips:
            if spec != "*":
                parse_network(spec)
        if self.metrics_token is not None and not self.metrics_token.strip():
            raise ToolkitError("--metrics-token must not be empty")
        if self.require_key and self.api_keys is None:
            raise ToolkitError("--require-key needs --api-keys FILE (the keys that are accepted)")


def parse_translators(specs: list[str]) -> dict[str, str]:
    """``SRC-TGT=MODEL`` (e.g. ``fr-en=Helsinki-NLP/opus-mt-fr-en``) → {"fr-en": model}."""
    from toolkit.text.languages import check_language

    pairs: dict[str, str] = {}
    for spec in specs:
        pair, sep, model = spec.partition("=")
        src, dash, tgt = pair.strip().partition("-")
        if not sep or not dash or not model.strip() or not src or not tgt:
            raise ToolkitError(f"--translator {spec}: expected SRC-TGT=MODEL, e.g. fr-en=Helsinki-NLP/opus-mt-fr-en")
        src, tgt = check_language(src, "--translator"), check_language(tgt, "--translator")
        if src == tgt:
            raise ToolkitError(f"--translator {spec}: source and target are the same language")
        pairs[f"{src}-{tgt}"] = model.strip()
    return pairs


def parse_summarizers(specs: list[str]) -> dict[str, str]:
    """``[LANG=]MODEL`` → {lang: model}; without ``LANG=`` the model serves every language
    (sensible for lead-N and TextRank, which need no weights)."""
    from toolkit.text.languages import check_language

    models: dict[str, str] = {}
    for spec in specs:
        lang, sep, model = spec.partition("=")
        if not sep:
            lang, model = "*", spec
        elif not lang.strip() or not model.strip():
            raise ToolkitError(f"--summarizer {spec}: expected [LANG=]MODEL, e.g. en=sshleifer/distilbart-cnn-12-6")
        else:
            lang = check_language(lang, "--summarizer")
        models[lang] = model.strip()
    return models
