"""The private area for `/translate_file`: translated files waiting for their download.

A folder the server creates at start (mode 0700, under the system's temporary folder) and
removes at shutdown. Each file is named by a random 128-bit token (plus its extension): the
name is the only way to it, so it cannot be guessed, and it is bound to the API key that
uploaded it (when keys are on). A file is deleted when it is downloaded, or after its time to
live by a background sweep. Every path comes from ``safe_paths.inside``; the store only ever
deletes files it wrote itself."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.io.safe_paths import inside

log = logging.getLogger("toolkit.serve")

# A download name: the token (32 hex digits) and the file's extension; anything else is not ours.
_NAME = re.compile(r"([0-9a-f]{32})(\.[a-z0-9]{1,8})")


class FileStoreFull(Exception):
    """Too many translated files are waiting for their download."""


@dataclass
class Stored:
    path: Path
    filename: str  # the name the client gets in Content-Disposition
    owner: str | None  # key_id of the uploading key; None: keys are off, or none was given
    expires: float  # time.monotonic() deadline


class FileStore:
    def __init__(self, ttl: float, max_files: int, parent: Path | None = None) -> None:
        self.ttl = ttl
        self.max_files = max_files
        # mkdtemp creates the folder with mode 0700 already; chmod says so even under an odd umask.
        self.root = Path(tempfile.mkdtemp(prefix="toolkit-serve-files-", dir=parent))
        os.chmod(self.root, 0o700)
        self.files: dict[str, Stored] = {}

    def put(self, data: bytes, suffix: str, filename: str, owner: str | None) -> str:
        """Store ``data``; returns its download name (token + suffix)."""
        self.sweep()
        if len(self.files) >= self.max_files:
            raise FileStoreFull(f"too many translated files are waiting for download ({self.max_files}); "
                                "retry in a moment")
        token = secrets.token_hex(16)
        name = f"{token}{suffix}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad suffix {suffix!r}")
        path = inside(self.root, name)
        with open(path, "xb") as out:  # x: never over a file that is not ours
            try:
                os.fchmod(out.fileno(), 0o600)
                out.write(data)
            except BaseException:  # a full disk: the partial file is ours; not left for close() to trip on
                path.unlink(missing_ok=True)
                raise
        self.files[token] = Stored(path, filename, owner, time.monotonic() + self.ttl)
        return name

    def take(self, name: str, owner: str | None) -> tuple[bytes, str] | None:
        """The file's bytes and download file name, deleted from the store; None when the name
        is not one of ours, has expired, was already downloaded, or belongs to another key (one
        answer for all: the client learns nothing about other clients' files)."""
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        token = match.group(1)
        stored = self.files.get(token)
        if stored is None or stored.path.name != name or stored.expires <= time.monotonic():
            return None
        if stored.owner is not None and not hmac.compare_digest(stored.owner, owner or ""):
            return None
        del self.files[token]
        try:
            data = stored.path.read_bytes()
        finally:
            stored.path.unlink(missing_ok=True)
        return data, stored.filename

    def sweep(self) -> int:
        """Delete the files whose time is up; returns how many."""
        now = time.monotonic()
        expired = [token for token, stored in self.files.items() if stored.expires <= now]
        for token in expired:
            self.files.pop(token).path.unlink(missing_ok=True)
        return len(expired)

    async def sweeper(self) -> None:
        """The background sweep, until cancelled (at shutdown)."""
        interval = max(0.05, min(30.0, self.ttl / 4))
        while True:
            await asyncio.sleep(interval)
            removed = self.sweep()
            if removed:
                log.info("removed %d expired translated file(s)", removed)

    def close(self) -> None:
        """Delete every file still waiting, then the folder (it only ever held our files)."""
        for stored in self.files.values():
            stored.path.unlink(missing_ok=True)
        self.files.clear()
        try:
            self.root.rmdir()
        except OSError:  # something else appeared in our private folder: leave it, say so
            log.warning("the temporary folder for translated files was not empty at shutdown; left in place")

    def __len__(self) -> int:
        return len(self.files)

