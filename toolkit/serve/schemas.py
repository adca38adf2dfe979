"""The request and response shapes, for the OpenAPI documentation (``/docs``).

Bodies are parsed by hand (JSON or form-encoded, as LibreTranslate accepts both), so these
models document the API rather than validate it; the app's own checks give LibreTranslate's
``{"error": ...}`` answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class TranslateBody(BaseModel):
    q: str | list[str] = Field(description="Text to translate, or a list of texts", examples=["Bonjour le monde."])
    source: str = Field(description="Source language code, or auto to detect it", examples=["fr"])
    target: str = Field(description="Target language code", examples=["en"])
    format: Literal["text", "html", "markdown"] = Field(
        "text", description="text (as a .txt file), html (only the text between tags is translated) or markdown "
                            "(an extension: as a .md file)")
    glossary: dict[str, str] | None = Field(
        None, description="Extension: source term → target term, on top of the server's --glossary (at most 1000 "
                          "terms of 200 characters; in a form, this object as JSON)",
        examples=[{"Kremlin": "Kremlin"}])
    keep: str | list[str] | None = Field(None, description="Extension: terms kept as they are (as --keep)")
    alternatives: int = Field(0, ge=0, description="Alternative translations wanted (at most --alternatives-limit): "
                                                   "the text with each sentence's k-th other hypothesis of an n-best "
                                                   "beam search, distinct, none equal to translatedText")
    quality: bool = Field(False, description="Extension: per sentence, confidence, flags and risk (toolkit review's "
                                             "checks); confidence is null unless the server runs with --confidence")
    api_key: str | None = Field(None, description="API key (needed when the server runs with --require-key)")


class SuggestBody(BaseModel):
    q: str = Field(description="The original text")
    s: str = Field(description="The suggested translation")
    source: str = Field(description="Language of q")
    target: str = Field(description="Language of s")
    api_key: str | None = None


class DetectedLanguage(BaseModel):
    language: str
    confidence: float = Field(description="0-100, as LibreTranslate")


class Flag(BaseModel):
    name: str = Field(description="untranslated, wrong-language, repetition, length-ratio, numbers, terms or truncated")
    reason: str


class SentenceQuality(BaseModel):
    source: str
    translation: str
    confidence: float | None = Field(description="Mean log-probability per token (<= 0); null without --confidence")
    flags: list[Flag]
    risk: Literal["ok", "review", "likely-wrong"]


class TextQuality(BaseModel):
    risk: Literal["ok", "review", "likely-wrong"] | None = Field(
        description="The worst sentence's; null for a text already in the target language (returned as it is)")
    sentences: list[SentenceQuality]


class TranslateResponse(BaseModel):
    translatedText: str | list[str]
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = Field(
        None, description="Only with source=auto")
    alternatives: list[str] | list[list[str]] | None = Field(None, description="Only with alternatives > 0")
    quality: TextQuality | list[TextQuality] | None = Field(None, description="Only with quality: true")


class DetectBody(BaseModel):
    q: str = Field(examples=["Bonjour le monde, comment allez-vous ?"])
    api_key: str | None = None


class SummarizeBody(BaseModel):
    q: str | list[str] = Field(description="Text to summarise, or a list of texts")
    lang: str = Field("auto", description="Language of the text, or auto to detect it")
    min_length: int | None = Field(None, ge=0, description="Shortest summary in tokens (seq2seq summarisers)")
    max_length: int | None = Field(None, ge=1, description="Longest summary in tokens (seq2seq summarisers)")
    api_key: str | None = None


class SummarizeResponse(BaseModel):
    summary: str | list[str]
    lang: str
    detectedLanguage: DetectedLanguage | None = None


class Language(BaseModel):
    code: str
    name: str
    targets: list[str]


class ErrorResponse(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request (missing or bad parameter, unknown language, "
                                                 "over the character limit)"},
    403: {"model": ErrorResponse, "description": "Missing or invalid API key, or banned for repeated rate-limit "
                                                 "violations"},
    404: {"model": ErrorResponse, "description": "Download: the file expired, was already downloaded, or is "
                                                 "not this key's"},
    408: {"model": ErrorResponse, "description": "Request body not received in time (--body-timeout)"},
    413: {"model": ErrorResponse, "description": "Request body too large, or more work than one request may queue"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    500: {"model": ErrorResponse, "description": "Server error (details only in the server log)"},
    503: {"model": ErrorResponse, "description": "Overloaded or shutting down; retry later"},
}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint taking ``model`` as JSON or as a form."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }}}


class TranslateFileResponse(BaseModel):
    translatedFileUrl: str = Field(description="Where to download the translated file, once, before --file-ttl "
                                               "(with the same api_key when the upload had one)")


def file_body() -> dict[str, Any]:
    """``openapi_extra`` for ``/translate_file``: a multipart form, as LibreTranslate's."""
    text = {"type": "string"}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "source", "target"],
        "properties": {"file": {"type": "string", "format": "binary"},
                       "source": {**text, "description": "Source language code, or auto"},
                       "target": {**text, "description": "Target language code"},
                       "api_key": text}}}}}}
