"""Prometheus metrics, in a registry of the app's own (two apps in one process never collide).

Labels stay bounded: endpoints are the server's routes (anything else is ``other``) and models
are named by what they serve (``translation:fr-en``), never by a path on the server."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("toolkit_serve_requests", "HTTP requests by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("toolkit_serve_request_duration_seconds", "Time from request to response",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("toolkit_serve_requests_in_flight", "Requests being handled", registry=r)
        self.batch_size = Histogram("toolkit_serve_batch_size", "Items (sentences or documents) per decoded batch",
                                    ["model"], buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("toolkit_serve_batch_duration_seconds", "Decoding time per batch",
                                       ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_wait = Histogram("toolkit_serve_batch_wait_seconds", "How long a batch's oldest item waited",
                                    ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("toolkit_serve_tokens", "Tokens decoded (model tokenizer), source and output",
                              ["model", "kind"], registry=r)
        self.tokens_per_second = Gauge("toolkit_serve_tokens_per_second",
                                       "Output tokens per second of the model's last batch", ["model"], registry=r)
        self.queued = Gauge("toolkit_serve_queued_items", "Items waiting for a batch", ["model"], registry=r)
        self.loaded_models = Gauge("toolkit_serve_loaded_models", "Models loaded now", registry=r)
        self.model_loaded = Gauge("toolkit_serve_model_loaded", "1 while this model is loaded", ["model"], registry=r)
        self.rejected = Counter("toolkit_serve_rejected", "Requests refused before any model ran, by reason",
                                ["reason"], registry=r)
        self.memory_hits = Counter("toolkit_serve_memory_hits", "Translation units served without decoding "
                                   "(deduplicated or from the translation memory)", ["model"], registry=r)
        self.memory_misses = Counter("toolkit_serve_memory_misses", "Translation units given to the model",
                                     ["model"], registry=r)
        self._seen: set[str] = set()

    def record_batch(self, key: Any, served: Any, report: Any) -> None:
        label = key.label
        self.batch_size.labels(label).observe(report.size)
        self.batch_seconds.labels(label).observe(report.seconds)
        self.batch_wait.labels(label).observe(report.oldest_wait)
        self.tokens.labels(label, "source").inc(served.last_source_tokens)
        self.tokens.labels(label, "output").inc(served.last_output_tokens)
        if served.last_reused or served.last_decoded:
            self.memory_hits.labels(label).inc(served.last_reused)
            self.memory_misses.labels(label).inc(served.last_decoded)
        if report.seconds > 0:
            self.tokens_per_second.labels(label).set(served.last_output_tokens / report.seconds)

    def models_changed(self, loaded: list[Any]) -> None:
        self.loaded_models.set(len(loaded))
        names = {key.label for key in loaded}
        self._seen |= names
        for name in self._seen:
            self.model_loaded.labels(name).set(1 if name in names else 0)

    def render(self, queued: dict[Any, int]) -> bytes:
        for key, count in queued.items():
            self.queued.labels(key.label).set(count)
        return generate_latest(self.registry)
