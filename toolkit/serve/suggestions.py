"""LibreTranslate's ``/suggest``: better translations sent by users, kept for the operator to
review, one JSON object a line in ``suggestions.jsonl`` inside ``--suggestions-dir`` (appended,
never rewritten; the toolkit writes nothing else there)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.io.safe_paths import inside

FILE_NAME = "suggestions.jsonl"
MAX_BYTES = 100_000_000  # the store stops growing here: a flood of suggestions cannot fill the disk


class SuggestionStoreFull(Exception):
    pass


class Suggestions:
    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolkitError(f"--suggestions-dir {folder}: cannot create it ({exc.strerror or exc})") from None
        self.path = inside(folder, FILE_NAME)
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line.encode("utf-8")) > MAX_BYTES:
                raise SuggestionStoreFull(f"the suggestion store is full ({MAX_BYTES} bytes)")
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
