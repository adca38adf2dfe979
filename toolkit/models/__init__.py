"""Models: hub and local references (``hub``), the translation registry, tiny random models for tests."""
