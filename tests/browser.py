"""A page in real headless Chromium, driven by Playwright (the web page and review.html tests).
Playwright's own browser download cannot reach its host: the system's chromium is used."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def headless_page() -> Iterator[Any]:
    """A fresh page; the test is skipped where chromium or the playwright package is missing."""
    path = chromium()
    if path is None:
        pytest.skip("no chromium found (apt-get install chromium; `make test` installs it where apt-get works)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield browser.new_page()
        finally:
            browser.close()
