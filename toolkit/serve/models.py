"""The model pool: one loaded model (and one batcher) per translation pair or summariser, loaded
once on first use, at most ``max_loaded`` at a time; the least recently used idle one is unloaded
to make room."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from toolkit.serve.batcher import BatchLimits, BatchReport, DynamicBatcher

log = logging.getLogger("toolkit.serve")


def estimate_tokens(text: str) -> int:
    """A model-free estimate (about four characters per subword token) for the batch budget.

    The event loop never calls a tokenizer: a fast tokenizer used from two threads at once can
    fail ("Already borrowed"), and the engine's own batches use exact counts anyway."""
    return max(1, (len(text) + 3) // 4)


@dataclass(frozen=True)
class ModelKey:
    """What a loaded model serves: ``task`` translation (``name`` = "fr-en") or summarization
    (``name`` = the language). Per-request options (summary lengths) are not part of it: they go
    with each item to the batcher, so one loaded model serves them all and labels stay bounded."""

    task: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.task}:{self.name}"


@dataclass
class Decoded:
    """A batch's outputs (one per payload: a text, or a translation unit's record) and its token
    counts, as the library reports them."""

    outputs: list[Any]
    source_tokens: int
    output_tokens: int
    reused: int = 0  # translation units served without decoding (deduplicated or from the memory)
    decoded: int = 0  # translation units given to the model


class ServedModel:
    """A library model behind a batch function (payloads in, ``Decoded`` out). Only ever called
    from the worker thread, the one thread that touches the model and its tokenizer."""

    def __init__(self, model: Any, run: Callable[[Any, list[Any]], Decoded]) -> None:
        self.model = model
        self._run = run
        self.last_source_tokens = 0
        self.last_output_tokens = 0
        self.last_reused = 0
        self.last_decoded = 0

    def __call__(self, payloads: list[Any]) -> list[Any]:
        decoded = self._run(self.model, payloads)
        self.last_source_tokens = decoded.source_tokens
        self.last_output_tokens = decoded.output_tokens
        self.last_reused, self.last_decoded = decoded.reused, decoded.decoded
        return decoded.outputs


@dataclass
class PoolEntry:
    key: ModelKey
    served: ServedModel
    batcher: DynamicBatcher
    loaded_at: float = field(default_factory=time.monotonic)
    users: int = 0


class ModelPool:
    """Loads through ``load(key) -> ServedModel`` (in a thread: loading takes seconds), keeps at
    most ``max_loaded`` models, and gives each its own batcher over the shared ``executor``."""

    def __init__(self, load: Callable[[ModelKey], ServedModel], max_loaded: int, limits: BatchLimits,
                 executor: Executor, on_batch: Callable[[ModelKey, ServedModel, BatchReport], None] | None = None,
                 on_change: Callable[[list[ModelKey]], None] | None = None) -> None:
        if max_loaded < 1:
            raise ValueError("max_loaded must be at least 1")
        self._load = load
        self.max_loaded = max_loaded
        self.limits = limits
        self._executor = executor
        self._on_batch = on_batch
        self._on_change = on_change
        self._entries: OrderedDict[ModelKey, PoolEntry] = OrderedDict()
        self._loading: set[ModelKey] = set()
        self._cond = asyncio.Condition()

    @property
    def loaded(self) -> list[ModelKey]:
        return list(self._entries)

    def queued(self) -> dict[ModelKey, int]:
        return {key: entry.batcher.queued for key, entry in self._entries.items()}

    @asynccontextmanager
    async def use(self, key: ModelKey) -> AsyncIterator[PoolEntry]:
        """The loaded entry for ``key``; it is not unloaded while in use."""
        entry = await self._acquire(key)
        try:
            yield entry
        finally:
            async with self._cond:
                entry.users -= 1
                self._cond.notify_all()

    async def _acquire(self, key: ModelKey) -> PoolEntry:
        async with self._cond:
            while True:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.users += 1
                    self._entries.move_to_end(key)  # most recently used last
                    return entry
                if key not in self._loading and len(self._entries) + len(self._loading) < self.max_loaded:
                    self._loading.add(key)
                    break
                idle = next((e for e in self._entries.values() if e.users == 0), None)
                if key not in self._loading and idle is not None:
                    await self._unload(idle)
                    continue
                await self._cond.wait()  # the same model is loading, or every loaded model is busy
        try:
            served = await asyncio.to_thread(self._load, key)
        except BaseException:
            async with self._cond:
                self._loading.discard(key)
                self._cond.notify_all()
            raise
        batcher = DynamicBatcher(served, self.limits, self._executor, self._report(key, served))
        batcher.start()
        async with self._cond:
            self._loading.discard(key)
            entry = PoolEntry(key, served, batcher, users=1)
            self._entries[key] = entry
            self._cond.notify_all()
        log.info("loaded %s (%d of at most %d models loaded)", key.label, len(self._entries), self.max_loaded)
        self._changed()
        return entry

    def _report(self, key: ModelKey, served: ServedModel) -> Callable[[BatchReport], None] | None:
        if self._on_batch is None:
            return None
        on_batch = self._on_batch
        return lambda report: on_batch(key, served, report)

    async def _unload(self, entry: PoolEntry, why: str = "least recently used") -> None:
        del self._entries[entry.key]
        await entry.batcher.close()
        log.info("unloaded %s (%s)", entry.key.label, why)
        del entry
        gc.collect()  # give the weights back now, not at some later collection
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.loaded)

    async def close(self) -> None:
        """Finish what is queued on every model, then unload them all."""
        async with self._cond:
            for entry in list(self._entries.values()):
                await self._unload(entry, "shutting down")
