"""Benchmarks: quality, speed and memory of models and backends, measured side by side."""
