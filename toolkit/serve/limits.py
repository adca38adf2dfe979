"""API keys and per-key rate limits.

The keys file has one key per line, optionally followed by that key's own limit in requests per
minute (``0``: unlimited); blank lines and ``#`` comments are skipped::

    # key                              requests/minute
    3f1c9a0e-team-newsroom             600
    b77d2c41-intern                    30
    0a9e51f3-batch-jobs                0

Keys are compared in constant time and never logged: logs name a key by a short hash.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError


def key_id(key: str) -> str:
    """A short, stable name for a key in logs and metrics (the key itself is a secret)."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


@dataclass
class ApiKeys:
    limits: dict[str, int | None] = field(default_factory=dict)  # key -> requests/minute (None: the default)

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ToolkitError(f"--api-keys {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ToolkitError(f"--api-keys {path}: cannot read it ({type(exc).__name__})") from None
        limits: dict[str, int | None] = {}
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
                raise ToolkitError(f"--api-keys {path}, line {number}: expected KEY [REQUESTS_PER_MINUTE]")
            limits[parts[0]] = int(parts[1]) if len(parts) == 2 else None
        if not limits:
            raise ToolkitError(f"--api-keys {path}: the file holds no key")
        return cls(limits)

    def find(self, candidate: str) -> str | None:
        """The matching key, compared in constant time (no timing hint about valid prefixes)."""
        found = None
        for key in self.limits:
            if hmac.compare_digest(key.encode("utf-8"), candidate.encode("utf-8")):
                found = key
        return found


class RateLimiter:
    """Token buckets: each identity (a key, or a client address) may make ``per_minute``
    requests a minute, in bursts of up to ``per_minute``. Thread-safe; idle buckets are dropped."""

    def __init__(self, max_identities: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # identity -> (tokens, last time)
        self._lock = threading.Lock()
        self._max = max_identities

    def check(self, identity: str, per_minute: int) -> float:
        """0 when the request may go ahead (and is counted), else the seconds until it may."""
        if per_minute <= 0:
            return 0.0
        now = time.monotonic()
        rate = per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(identity, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[identity] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[identity] = (tokens - 1.0, now)
            if len(self._buckets) > self._max:
                self._forget(now, rate, per_minute)
            return 0.0

    def _forget(self, now: float, rate: float, per_minute: int) -> None:
        """Drop buckets that have refilled completely (they hold no information)."""
        full = [k for k, (tokens, last) in self._buckets.items() if tokens + (now - last) * rate >= per_minute]
        for identity in full:
            del self._buckets[identity]
