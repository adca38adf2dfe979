"""The FastAPI app: LibreTranslate's API (``/translate``, ``/detect``, ``/languages``,
``/frontend/settings``, ``/suggest``, ``/spec``) plus ``/summarize``, ``/health``, ``/metrics``,
the web page at ``/`` and OpenAPI docs at ``/docs``.

Handlers only parse, check and route. ``/translate`` takes the library's document path
(toolkit.tasks.translate): the texts are planned as `toolkit translate` plans a file (``text``: a
.txt file, ``html``: an .html file, ``markdown``: an .md file, an extension of LibreTranslate's
API), the plan's units go to the model pool's dynamic batchers, which run the models in a worker
thread, and the outputs are restored, so the server's answer is the CLI's output byte for byte.
Every error is ``{"error": "..."}`` with its status code; a server-side failure is logged with
its traceback and answered without one (and without paths)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from toolkit.config import load_defaults
from toolkit.errors import ToolkitError
from toolkit.io.documents import Document
from toolkit.io.formats import SUFFIXES
from toolkit.io.results import DocumentResult
from toolkit.serve import schemas
from toolkit.serve.batcher import BatchLimits, Overloaded
from toolkit.serve.catalog import Catalog, build_catalog
from toolkit.serve.files import FileStore, FileStoreFull
from toolkit.serve.http import (
    ApiError,
    ClientGone,
    Guard,
    Shutdown,
    bearer,
    error_response,
    optional_bool,
    optional_int,
    read_params,
    unless_disconnected,
)
from toolkit.serve.limits import ApiKeys, FloodGuard, RateLimiter, TrustedProxies, key_id
from toolkit.serve.metrics import Metrics
from toolkit.serve.models import ModelKey, ModelPool, estimate_tokens
from toolkit.serve.settings import ServeSettings
from toolkit.serve.suggestions import Suggestions, SuggestionStoreFull
from toolkit.tasks.documents import open_file
from toolkit.tasks.translate import UnitResults, document_from_text, plan, restore
from toolkit.text.glossary import Glossary, extend_glossary, load_glossary
from toolkit.text.languages import ISO_639_1, normalize_language
from toolkit.version import __version__ as toolkit_version

log = logging.getLogger("toolkit.serve")

# format → the kind of file `toolkit translate` would read ("markdown" is this server's extension).
FORMATS = {"text": "txt", "html": "html", "markdown": "md"}
# A request's own glossary (the "glossary" and "keep" extension fields): bounded, as every input is.
MAX_REQUEST_TERMS = 1000
MAX_TERM_CHARS = 200
# What an uploaded file's name may keep (the rest becomes "_"): it only names the download.
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


def quality_of(result: DocumentResult) -> dict[str, Any]:
    """A translated text's ``quality``: its sentences' confidence (null unless the server runs with
    --confidence), flags and risk, as toolkit.quality.annotate recorded them, and the text's risk
    (its worst sentence's)."""
    from toolkit.quality import RISKS

    sentences = [{"source": record.source, "translation": record.output, "confidence": record.confidence,
                  "flags": record.flags or [], "risk": record.risk} for record in result.segments]
    worst = max((RISKS.index(s["risk"]) for s in sentences if s["risk"] in RISKS), default=0)
    return {"risk": RISKS[worst], "sentences": sentences}


def create_app(settings: ServeSettings, catalog: Catalog | None = None) -> FastAPI:
    """The app for ``settings`` (the catalog of models is found now; nothing is loaded until used)."""
    settings.check()
    keys = ApiKeys.load(settings.api_keys) if settings.api_keys else None
    catalog = catalog or build_catalog(settings)
    metrics = Metrics()
    limiter = RateLimiter()
    flood = FloodGuard(settings.flood_threshold, settings.flood_forgive_seconds)
    suggestions = Suggestions(settings.suggestions_dir) if settings.suggestions_dir is not None else None
    limits = BatchLimits(settings.max_batch_size, settings.max_batch_tokens, settings.max_wait_ms, settings.max_queue)
    # Detection looks at every language the identifier knows, not only the served ones: German
    # must be reported as German (and refused by name), not as the served language it is nearest.
    detect_candidates = None
    server_terms = load_glossary(settings.glossary, settings.keep)  # a bad file stops the start (exit 2)
    # The checks' thresholds for "quality": true, as `toolkit review` takes them (packaged defaults).
    quality_options = load_defaults().quality

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One worker thread runs every model call: the CPU's cores go to the engine's own threads
        # (--threads), and no model is ever used by two threads at once.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolkit-model")
        store = FileStore(settings.file_ttl, settings.max_stored_files) if settings.files else None
        app.state.files = store
        sweeper = asyncio.ensure_future(store.sweeper()) if store is not None else None
        pool = ModelPool(catalog.load, settings.max_loaded_models, limits, executor, metrics.record_batch,
                         metrics.models_changed)
        app.state.pool = pool
        if settings.preload:
            for pair in list(catalog.pairs)[: settings.max_loaded_models]:
                async with pool.use(ModelKey("translation", pair)):
                    pass
        log.info("serving %d translation pair(s) and %d summariser(s)", len(catalog.pairs), len(catalog.summarizers))
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            await pool.close()  # in-flight requests are done (uvicorn drained them); stop the batchers
            executor.shutdown(wait=True)
            if store is not None:
                store.close()

    app = FastAPI(title="toolkit serve", version=toolkit_version, lifespan=lifespan,
                  description="LibreTranslate-compatible translation, plus summarisation, with dynamic batching.")
    app.state.shutdown = Shutdown()
    largest_file = max([settings.file_size_limit, *(n for n in (keys.file_bytes if keys else {}).values() if n)])
    app.add_middleware(Guard, settings=settings, metrics=metrics, proxies=TrustedProxies(settings.forwarded_allow_ips),
                       shutdown=app.state.shutdown, largest_file=largest_file)
    if settings.cors_origins:
        app.add_middleware(_JsonCORS, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "Invalid request")

    @app.exception_handler(ToolkitError)
    async def _user_error(request: Request, exc: ToolkitError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal server error (the server log has the details)")

    # -- helpers shared by the endpoints --------------------------------------------------------

    def authorize(request: Request, params: dict[str, Any]) -> str | None:
        """403 for a bad or (with --require-key) missing key, or a client banned for flooding;
        429 over the rate limit. Returns the valid key (None without one)."""
        client = request.client.host if request.client else "unknown"
        if flood.banned(client):
            metrics.rejected.labels("banned").inc()
            raise ApiError(403, "Too many request limits violations")
        key = params.get("api_key") or bearer(request)
        found = None
        if key and keys is not None:
            found = keys.find(key) if isinstance(key, str) else None
            if found is None:
                metrics.rejected.labels("key").inc()
                raise ApiError(403, "Invalid API key")
        elif settings.require_key:
            metrics.rejected.labels("key").inc()
            raise ApiError(403, "An API key is required: pass api_key (ask the server's operator for one)")
        identity = key_id(found) if found else f"addr:{client}"
        per_minute = settings.rate_limit
        if found is not None and keys is not None and keys.limits[found] is not None:
            per_minute = keys.limits[found] or 0
        request.scope.setdefault("toolkit.log", {})["key"] = key_id(found) if found else None
        wait = limiter.check(identity, per_minute)
        if wait > 0:
            metrics.rejected.labels("rate").inc()
            flood.report(client)
            raise ApiError(429, f"Slowdown: too many requests (limit: {per_minute} per minute)",
                           {"Retry-After": str(max(1, round(wait)))})
        return found

    def texts_of(params: dict[str, Any]) -> tuple[list[str], bool, dict[str, Any]]:
        q = params.get("q")
        if q is None or q == "" or q == []:
            raise ApiError(400, "Invalid request: missing q parameter")
        batch = isinstance(q, list)
        texts = q if batch else [q]
        if not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "Invalid request: q must be a string or a list of strings")
        if batch and len(texts) > settings.batch_limit:
            metrics.rejected.labels("limit").inc()
            raise ApiError(400, f"Invalid request: request ({len(texts)}) exceeds text limit ({settings.batch_limit})")
        chars = sum(len(t) for t in texts)
        longest = max(len(t) for t in texts)
        if settings.text_char_limit and longest > settings.text_char_limit:
            metrics.rejected.labels("limit").inc()
            raise ApiError(400, f"Invalid request: request ({longest}) exceeds text limit ({settings.text_char_limit})")
        if settings.char_limit and chars > settings.char_limit:
            metrics.rejected.labels("limit").inc()
            raise ApiError(400, f"Invalid request: request ({chars}) exceeds text limit ({settings.char_limit})")
        request_log: dict[str, Any] = {"texts": len(texts), "chars": chars}
        if settings.log_texts:
            request_log["q"] = texts
        return texts, batch, request_log

    def language(value: Any, name: str) -> str:
        if not value or not isinstance(value, str):
            raise ApiError(400, f"Invalid request: missing {name} parameter")
        code = normalize_language(value)
        if code is None:
            raise ApiError(400, f"{value} is not supported")
        return code

    def detect_one(text: str, candidates: frozenset[str] | None) -> dict[str, Any]:
        from toolkit.text.detect import identify

        lang, probability = identify(text, candidates)
        return {"language": lang, "confidence": round(probability * 100, 1)}

    def bound_work(request: Request, sizes: list[int]) -> None:
        """413 when one request would queue more than its share: sentences and estimated tokens,
        all its texts and pairs together (one client must not fill the queue for everyone)."""
        work = request.scope.setdefault("toolkit.work", [0, 0])
        work[0] += len(sizes)
        work[1] += sum(sizes)
        unit = "documents" if request.url.path == "/summarize" else "sentences"
        if work[0] > settings.max_request_sentences:
            metrics.rejected.labels("work").inc()
            raise ApiError(413, f"Request too large: {work[0]} {unit}, at most {settings.max_request_sentences} "
                                "per request; split it over several requests")
        if work[1] > settings.max_request_tokens:
            metrics.rejected.labels("work").inc()
            raise ApiError(413, f"Request too large: about {work[1]} tokens, at most {settings.max_request_tokens} "
                                "per request; split it over several requests")

    async def run(request: Request, key: ModelKey, payloads: list[Any], group: tuple[Any, ...] = (),
                  bounded: bool = True, weight: int = 1) -> list[Any]:
        """``payloads`` through the model's batcher; ``bounded``: counted against the request's
        work bounds (a file is bounded by --file-char-limit instead, and queued a group at a time);
        ``weight``: each payload's estimated tokens counted that many times (an n-best search's beams)."""
        pool: ModelPool = request.app.state.pool
        tokens = [weight * estimate_tokens(p if isinstance(p, str) else p[0]) for p in payloads]
        if bounded:
            bound_work(request, tokens)

        async def submit() -> list[Any]:
            async with pool.use(key) as entry:
                return await entry.batcher.submit(payloads, tokens, group)

        try:
            return await unless_disconnected(request, submit())
        except ClientGone:
            metrics.rejected.labels("gone").inc()
            raise ApiError(499, "Client closed the request") from None
        except Overloaded as exc:
            metrics.rejected.labels("overloaded").inc()
            raise ApiError(503, str(exc), {"Retry-After": "1"}) from None
        except ToolkitError as exc:  # the model cannot be had: the server's set-up, not the request
            log.error("cannot load %s: %s", key.label, exc)
            raise ApiError(500, f"the model for {key.name} could not be loaded: {exc}") from None

    def request_terms(params: dict[str, Any]) -> Glossary | None:
        """The server's glossary extended by the request's ``glossary`` ({source: target}; in a
        form, that object as JSON) and ``keep`` (a term or a list of terms)."""
        entries, keep = params.get("glossary"), params.get("keep")
        if entries is None and keep is None:
            return server_terms
        if isinstance(entries, str):
            try:
                entries = json.loads(entries)
            except ValueError:
                raise ApiError(400, "Invalid request: glossary must be an object of source term: target term") from None
        if entries is not None and (not isinstance(entries, dict)
                                    or not all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items())):
            raise ApiError(400, "Invalid request: glossary must be an object of source term: target term")
        keep = [keep] if isinstance(keep, str) else keep
        if keep is not None and (not isinstance(keep, list) or not all(isinstance(t, str) for t in keep)):
            raise ApiError(400, "Invalid request: keep must be a term or a list of terms")
        terms = [*(entries or {}).items(), *((t, t) for t in keep or [])]
        if len(terms) > MAX_REQUEST_TERMS:
            raise ApiError(400, f"Invalid request: {len(terms)} glossary and keep terms, at most {MAX_REQUEST_TERMS}")
        if any(len(term) > MAX_TERM_CHARS or len(target) > MAX_TERM_CHARS for term, target in terms):
            raise ApiError(400, f"Invalid request: a glossary or keep term is longer than {MAX_TERM_CHARS} characters")
        try:
            return extend_glossary(server_terms, entries, keep or [])
        except ToolkitError as exc:
            raise ApiError(400, f"Invalid request: {exc}") from None

    async def translate_documents(request: Request, pair: str, docs: list[Document], glossary: Glossary | None,
                                  bounded: bool = True, alternatives: int = 0) -> list[DocumentResult]:
        """The library's plan and restore around the batcher: the same output as `toolkit translate`.
        With ``alternatives``, the units' n-best search follows in batches of its own, so that the
        translation is the one every other request gets (Translator.translate_batch does the same)."""
        src, tgt = pair.split("-")
        planned = plan(docs, src, tgt, glossary)
        key = ModelKey("translation", pair)
        per_unit = await run(request, key, planned.texts, bounded=bounded) if planned.units else []
        generated = UnitResults.join(per_unit)
        if alternatives:
            count = alternatives + 1
            generated.hypotheses = await run(request, key, [(text, count) for text in planned.texts],
                                             ("hypotheses", count), bounded, count) if planned.units else []
        return restore(planned, generated, alternatives=alternatives)

    async def translate_group(request: Request, pair: str, texts: list[str], fmt: str, glossary: Glossary | None,
                              alternatives: int = 0, quality: bool = False) -> list[dict[str, Any]]:
        """Per text: its translation, and its alternatives and quality when asked for."""
        docs = [document_from_text(text, str(i), FORMATS[fmt], "http") for i, text in enumerate(texts)]
        results = await translate_documents(request, pair, docs, glossary, alternatives=alternatives)
        if quality:
            from toolkit.quality.annotate import annotate

            src, tgt = pair.split("-")
            # CPU work (language identification, statistics): off the event loop, which keeps
            # serving the other requests; py3langid's classifiers are only read.
            await asyncio.to_thread(annotate, results, src, tgt, quality_options)
        answers = []
        for result, doc in zip(results, docs):
            answer: dict[str, Any] = {"text": result.output.replace("\n", doc.newline)}
            if alternatives:
                answer["alternatives"] = [text.replace("\n", doc.newline) for text in result.alternatives or []]
            if quality:
                answer["quality"] = quality_of(result)
            answers.append(answer)
        return answers

    def pair_for(source: str, target: str, detected: bool) -> str:
        pair = f"{source}-{target}"
        if pair not in catalog.pairs:
            raise ApiError(400, f"{ISO_639_1.get(target, target)} ({target}) is not available as a target "
                                f"language from {ISO_639_1.get(source, source)} ({source})"
                                f"{' (detected)' if detected else ''}")
        return pair

    # -- endpoints ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("toolkit.serve").joinpath("static/index.html").read_text(encoding="utf-8"))

    @app.post("/translate", response_model=schemas.TranslateResponse, response_model_exclude_none=True,
              responses=schemas.ERRORS, openapi_extra=schemas.body(schemas.TranslateBody),
              summary="Translate text (LibreTranslate API)")
    async def translate(request: Request) -> Any:
        params = await read_params(request)
        authorize(request, params)
        texts, batch, request_log = texts_of(params)
        target = language(params.get("target"), "target")
        source = params.get("source")
        fmt = params.get("format") or "text"
        if not isinstance(fmt, str) or fmt not in FORMATS:
            raise ApiError(400, f"{fmt} format is not supported")
        glossary = request_terms(params)
        alternatives = optional_int(params.get("alternatives"), "alternatives") or 0
        if alternatives > settings.alternatives_limit:
            raise ApiError(400, f"Invalid request: alternatives parameter must be <= {settings.alternatives_limit}")
        quality = optional_bool(params.get("quality"), "quality")
        detections = None
        if source == "auto":
            detections = [detect_one(text, detect_candidates) for text in texts]
            langs = [d["language"] for d in detections]
        else:
            langs = [language(source, "source")] * len(texts)
        request.scope.setdefault("toolkit.log", {}).update(request_log, source=source, target=target, format=fmt)
        groups: dict[str, list[int]] = {}
        for index, lang in enumerate(langs):
            if lang != target:  # already in the target language: returned as it is
                groups.setdefault(f"{lang}-{target}", []).append(index)
        for pair in groups:
            pair_for(pair.split("-")[0], target, source == "auto")
        # A text already in the target language comes back as it is, without alternatives or checks.
        answers: list[dict[str, Any]] = [{"text": text, "alternatives": [], "quality": {"risk": None, "sentences": []}}
                                         for text in texts]
        pairs = list(groups)
        translated = await asyncio.gather(*(translate_group(request, pair, [texts[i] for i in groups[pair]], fmt,
                                                            glossary, alternatives, quality) for pair in pairs))
        for pair, results in zip(pairs, translated):
            for index, answer in zip(groups[pair], results):
                answers[index].update(answer)
        outputs = [answer["text"] for answer in answers]
        result: dict[str, Any] = {"translatedText": outputs if batch else outputs[0]}
        if alternatives:  # LibreTranslate's shape: a list per text (a list of lists for a batch)
            listed = [answer["alternatives"] for answer in answers]
            result["alternatives"] = listed if batch else listed[0]
        if quality:  # this server's extension, absent unless asked for
            checked = [answer["quality"] for answer in answers]
            result["quality"] = checked if batch else checked[0]
        if detections is not None:
            result["detectedLanguage"] = detections if batch else detections[0]
        return result

    @app.post("/detect", response_model=list[schemas.DetectedLanguage], responses=schemas.ERRORS,
              openapi_extra=schemas.body(schemas.DetectBody), summary="Detect the language of a text")
    async def detect(request: Request) -> Any:
        params = await read_params(request)
        authorize(request, params)
        texts, _, request_log = texts_of(params)
        request.scope.setdefault("toolkit.log", {}).update(request_log)
        from toolkit.text.detect import ranked

        candidates = ranked("\n".join(texts), detect_candidates)
        # Best first, as LibreTranslate lists them; the unlikely tail (under 0.1%) says nothing.
        return [{"language": lang, "confidence": round(p * 100, 1)} for i, (lang, p) in enumerate(candidates)
                if i == 0 or p >= 0.001]

    @app.get("/languages", response_model=list[schemas.Language], summary="Languages and their targets")
    async def languages() -> Any:
        return catalog.languages()

    @app.post("/summarize", response_model=schemas.SummarizeResponse, response_model_exclude_none=True,
              responses=schemas.ERRORS, openapi_extra=schemas.body(schemas.SummarizeBody), summary="Summarise text")
    async def summarize(request: Request) -> Any:
        params = await read_params(request)
        authorize(request, params)
        texts, batch, request_log = texts_of(params)
        requested = params.get("lang") or params.get("source") or "auto"
        detected = None
        if requested == "auto":
            served = {lang for lang in catalog.summarizers if lang != "*"}
            candidates = None if "*" in catalog.summarizers or not served else frozenset(served)
            detected = detect_one("\n".join(texts), candidates)
            lang = detected["language"]
        else:
            lang = language(requested, "lang")
        if catalog.summarizer_for(lang) is None:
            served_text = ", ".join(sorted(catalog.summarizers)) or "none"
            raise ApiError(400, f"no summariser for {lang} on this server (served: {served_text})")
        lengths = {name: optional_int(params.get(name), name, settings.max_summary_length)
                   for name in ("min_length", "max_length")}
        if any(v is not None for v in lengths.values()) and catalog.is_extractive(lang):
            raise ApiError(400, "min_length and max_length apply to seq2seq summarisers; this language is served by "
                                f"{catalog.summarizer_for(lang)}, which picks whole sentences")
        low, high = lengths["min_length"], lengths["max_length"]
        if high is not None and high < 1:
            raise ApiError(400, "Invalid request: max_length must be at least 1")
        if low is not None and high is not None and low > high:
            raise ApiError(400, f"Invalid request: min_length {low} is larger than max_length {high}")
        try:  # the limits every caller has (toolkit/limits.py), checked before a model is loaded for them
            settings.generation.replace(**lengths)
        except ToolkitError as exc:  # names the field (max_length), never a CLI flag
            raise ApiError(400, f"Invalid request: {exc}") from None
        request.scope.setdefault("toolkit.log", {}).update(request_log, source=requested, target=lang)
        # Generation options go with each document: one loaded model serves every length asked for,
        # and a batch only holds documents asking for the same lengths.
        options = tuple((k, v) for k, v in sorted(lengths.items()) if v is not None)
        summaries = await run(request, ModelKey("summarization", lang), [(text, options) for text in texts], options)
        result: dict[str, Any] = {"summary": summaries if batch else summaries[0], "lang": lang}
        if detected is not None:
            result["detectedLanguage"] = detected
        return result

    @app.get("/health", summary="Liveness, and what is loaded")
    async def health(request: Request) -> Any:
        pool: ModelPool = request.app.state.pool
        return {"status": "ok", "version": toolkit_version, "translation_pairs": len(catalog.pairs),
                "summarizers": sorted(catalog.summarizers), "loaded_models": [k.label for k in pool.loaded],
                "max_loaded_models": pool.max_loaded}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus(request: Request) -> Response:
        if settings.metrics_token is not None:
            given = (bearer(request) or "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, settings.metrics_token.encode("utf-8")):
                raise ApiError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
        pool: ModelPool = request.app.state.pool
        return Response(metrics.render(pool.queued()), media_type=metrics.content_type)

    @app.get("/frontend/settings", summary="Settings for a LibreTranslate front end")
    async def frontend_settings() -> Any:
        codes = sorted(catalog.codes())
        source = "fr" if "fr" in codes else (codes[0] if codes else "auto")
        target = "en" if "en" in codes else (codes[-1] if codes else "en")
        return {"charLimit": settings.text_char_limit or settings.char_limit or -1,
                "frontendTimeout": 500, "apiKeys": settings.api_keys is not None, "keyRequired": settings.require_key,
                "suggestions": settings.suggestions_dir is not None, "filesTranslation": settings.files,
                "supportedFilesFormat": list(SUFFIXES) if settings.files else [],
                "language": {"source": {"code": source, "name": ISO_639_1.get(source, "Auto Detect")},
                             "target": {"code": target, "name": ISO_639_1.get(target, target)}}}

    @app.get("/spec", summary="The API's OpenAPI document (LibreTranslate serves its spec here)")
    async def spec(request: Request) -> Any:
        return request.app.openapi()

    @app.post("/suggest", responses=schemas.ERRORS, openapi_extra=schemas.body(schemas.SuggestBody),
              summary="Suggest a better translation (stored for the operator; off unless --suggestions-dir)")
    async def suggest(request: Request) -> Any:
        if suggestions is None:
            raise ApiError(403, "Suggestions are disabled on this server.")
        params = await read_params(request)
        authorize(request, params)
        values = {}
        for name in ("q", "s", "source", "target"):
            value = params.get(name)
            if not value or not isinstance(value, str):
                raise ApiError(400, f"Invalid request: missing {name} parameter")
            values[name] = value
        for name in ("source", "target"):
            values[name] = language(values[name], name)
        if settings.char_limit and len(values["q"]) + len(values["s"]) > settings.char_limit:
            raise ApiError(400, f"Invalid request: request ({len(values['q']) + len(values['s'])}) exceeds text "
                                f"limit ({settings.char_limit})")
        client = request.client.host if request.client else None
        record = {"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), **values, "client": client}
        try:
            await asyncio.to_thread(suggestions.add, record)
        except SuggestionStoreFull as exc:
            raise ApiError(503, str(exc)) from None
        return {"success": True}

    @app.post("/translate_file", response_model=schemas.TranslateFileResponse, responses=schemas.ERRORS,
              openapi_extra=schemas.file_body(), summary="Translate a file (LibreTranslate API)")
    async def translate_file(request: Request) -> Any:
        store = files_on(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            raise ApiError(400, "Invalid request: send the file as multipart/form-data (a file field named file)")
        params = await read_params(request)
        key = authorize(request, params)
        owner = key_id(key) if key else None
        size_limit = (keys.file_bytes.get(key) if keys is not None and key else None) or settings.file_size_limit
        char_limit = keys.file_chars.get(key) if keys is not None and key else None
        char_limit = settings.file_char_limit if char_limit is None else char_limit
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "Invalid request: missing file parameter")
        name = _UNSAFE_NAME.sub("_", PurePosixPath((upload.filename or "").replace("\\", "/")).name).strip(" .")
        if not name:
            raise ApiError(400, "Invalid request: empty file")
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise ApiError(400, f"Invalid request: file format not supported ({suffix or 'no extension'}; "
                                f"supported: {' '.join(SUFFIXES)})")
        target = language(params.get("target"), "target")
        source = params.get("source")
        if not source or not isinstance(source, str):
            raise ApiError(400, "Invalid request: missing source parameter")
        source = source if source == "auto" else language(source, "source")
        glossary = request_terms(params)
        data = await upload.read(size_limit + 1)
        if len(data) > size_limit:
            metrics.rejected.labels("size").inc()
            raise ApiError(413, f"File too large (limit: {size_limit} bytes)")
        if not data:
            raise ApiError(400, "Invalid request: empty file")
        job = await asyncio.to_thread(open_file, data, name)  # a bad file: its one line, 400 (ToolkitError)
        if char_limit and job.chars > char_limit:
            metrics.rejected.labels("limit").inc()
            raise ApiError(400, f"Invalid request: file ({job.chars} characters) exceeds text limit ({char_limit})")
        log_entry = request.scope.setdefault("toolkit.log", {})
        log_entry.update(source=source, target=target, format=job.fmt.name, bytes=len(data), chars=job.chars)
        lang = source
        if source == "auto":
            lang = detect_one(job.text()[:20_000], detect_candidates)["language"] if job.wanted else target
            log_entry["detected"] = lang
        if lang != target:  # already in the target language: written back as it is
            pair = pair_for(lang, target, source == "auto")
            # A group of blocks at a time (the library's memory bound): each group's sentences
            # share the batcher's round-robin with every other request, so a large file never
            # holds the model for its whole duration, and at most one group waits in the queue.
            for group in job.groups():
                job.take(group, await translate_documents(request, pair, job.documents(group), glossary,
                                                          bounded=False))
        output, _ = await asyncio.to_thread(job.finish)
        download = PurePosixPath(name).stem + job.output_suffix
        try:
            stored = store.put(output, job.output_suffix, download, owner)
        except FileStoreFull as exc:
            raise ApiError(503, str(exc), {"Retry-After": "5"}) from None
        return {"translatedFileUrl": f"{str(request.base_url).rstrip('/')}/download_file/{stored}"}

    @app.get("/download_file/{name}", responses=schemas.ERRORS, summary="Download a translated file (once)")
    async def download_file(request: Request, name: str) -> Response:
        store = files_on(request)
        given = request.query_params.get("api_key") or bearer(request)
        owner = key_id(given) if given and keys is not None and keys.find(given) is not None else None
        found = store.take(name, owner)
        if found is None:
            raise ApiError(404, "File not found: it expired, was already downloaded, or was never here")
        data, filename = found
        ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
        disposition = f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(filename)}'
        media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(data, media_type=media, headers={"Content-Disposition": disposition,
                                                          "Cache-Control": "no-store"})

    def files_on(request: Request) -> FileStore:
        store: FileStore | None = request.app.state.files
        if store is None:
            raise ApiError(403, "Files translation are disabled on this server.")
        return store

    return app


class _JsonCORS(CORSMiddleware):
    """Starlette's CORS middleware, with its refused preflight (plain text) as a JSON error."""

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        body = bytes(response.body).decode("utf-8", "replace")
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return error_response(response.status_code, body, headers)


