"""API keys, per-key rate limits, the flood ban and the proxies trusted to name the client.

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
import ipaddress
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
    # key -> its own /translate_file limits (file-bytes=N, file-chars=N on its line; None: the server's)
    file_bytes: dict[str, int | None] = field(default_factory=dict)
    file_chars: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ToolkitError(f"--api-keys {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ToolkitError(f"--api-keys {path}: cannot read it ({type(exc).__name__})") from None
        keys = cls()
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, *rest = line.split()
            rate = rest.pop(0) if rest and rest[0].isdigit() else None
            sizes: dict[str, int] = {}
            for part in rest:
                name, sep, value = part.partition("=")
                if not sep or name not in ("file-bytes", "file-chars") or not value.isdigit() or name in sizes:
                    raise ToolkitError(f"--api-keys {path}, line {number}: expected KEY [REQUESTS_PER_MINUTE] "
                                       "[file-bytes=N] [file-chars=N]")
                sizes[name] = int(value)
            keys.limits[key] = int(rate) if rate is not None else None
            keys.file_bytes[key] = sizes.get("file-bytes")
            keys.file_chars[key] = sizes.get("file-chars")
        if not keys.limits:
            raise ToolkitError(f"--api-keys {path}: the file holds no key")
        return keys

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


class FloodGuard:
    """LibreTranslate's flood ban (``--req-flood-threshold``): an identity refused for going over
    the rate limit ``threshold`` times is banned (403) until forgiven; one violation is forgiven
    every ``forgive_seconds`` (LibreTranslate: every 10 minutes). ``threshold`` 0: off."""

    def __init__(self, threshold: int, forgive_seconds: float = 600.0, max_identities: int = 100_000) -> None:
        self.threshold = threshold
        self.forgive_seconds = forgive_seconds
        self._violations: dict[str, tuple[int, float]] = {}  # identity -> (count, when last counted down)
        self._lock = threading.Lock()
        self._max = max_identities

    def _count(self, identity: str, now: float) -> int:
        count, since = self._violations.get(identity, (0, now))
        forgiven = int((now - since) // self.forgive_seconds) if self.forgive_seconds > 0 else count
        if forgiven:
            count = max(0, min(count, self.threshold) - forgiven)
            since += forgiven * self.forgive_seconds
        if count:
            self._violations[identity] = (count, since)
        else:
            self._violations.pop(identity, None)
        return count

    def banned(self, identity: str) -> bool:
        if self.threshold <= 0:
            return False
        with self._lock:
            return self._count(identity, time.monotonic()) >= self.threshold

    def report(self, identity: str) -> None:
        """One more violation (a 429) by ``identity``."""
        if self.threshold <= 0:
            return
        now = time.monotonic()
        with self._lock:
            count = self._count(identity, now)
            _, since = self._violations.get(identity, (0, now))
            self._violations[identity] = (count + 1, since)
            if len(self._violations) > self._max:  # bounded memory: forget the oldest entry
                del self._violations[next(iter(self._violations))]


class TrustedProxies:
    """Which peers may say who the client is (``X-Forwarded-For``): the addresses and networks
    given with --forwarded-allow-ips (``*``: any peer). Without them the header is ignored, so a
    client cannot pick its own address for the rate limit or the access log."""

    def __init__(self, specs: list[str]) -> None:
        self.any = "*" in specs
        self.networks = [parse_network(spec) for spec in specs if spec != "*"]

    def trusts(self, host: str) -> bool:
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]) -> tuple[str, int] | None:
        """The client's address: the peer's, or behind trusted proxies the right-most address in
        X-Forwarded-For that is not itself a trusted proxy (the left of it can be forged)."""
        if peer is None or not (self.any or self.networks) or not self.trusts(peer[0]):
            return peer
        values = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
        hops = [hop.strip() for value in values for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # not an address: the proxy did not write this header
            if not self.trusts(hop):
                return (hop, 0)
        return (hops[0], 0) if hops else peer


def parse_network(spec: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        raise ToolkitError(f"--forwarded-allow-ips {spec}: expected an IP address, a network (10.0.0.0/8) or *") \
            from None
