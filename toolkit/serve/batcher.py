"""Dynamic batching: items (sentences, documents) from concurrent requests are decoded together.

Each request puts its items on the model's queue (one queue per request) and awaits their
futures. A collector task takes items round-robin from the waiting requests, keeps collecting until the batch is full (``max_batch_size`` items
or ``max_batch_tokens`` estimated tokens) or the oldest item has waited ``max_wait_ms``, and runs
the model on the whole batch in a worker thread, so the event loop keeps serving requests. While
a batch decodes, new items queue up: under load the next batch is full at once and nobody waits
for the timer. Each output goes back to its own item's future, so every request gets its own
results in its own order, whatever else shared the batch.

A request that goes away (its client disconnected, its task was cancelled) cancels its futures
and its waiting items leave the queue at once; items already in a batch are decoded with it and
their results dropped. A batch that fails is retried item by item, so one bad input fails only its request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("toolkit.serve")


@dataclass(frozen=True)
class BatchLimits:
    """How big a batch may grow and how long its first item may wait for company.

    ``max_batch_size=1`` disables batching: every item is decoded alone, in arrival order."""

    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    max_wait_ms: float = 10.0
    max_queue: int = 10_000  # items waiting per model; beyond it requests are refused (bounded memory)


class Overloaded(Exception):
    """The model's queue is full: the request is refused rather than queued without bound."""


_NO_GROUP = object()


@dataclass
class _Item:
    payload: Any
    tokens: int
    future: asyncio.Future
    group: Hashable = ()
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class BatchReport:
    """What one decoded batch was, for metrics."""

    size: int
    tokens: int
    seconds: float
    oldest_wait: float


class DynamicBatcher:
    """One per loaded model. ``run`` maps a list of payloads to a list of outputs, one each, and
    is only ever called from ``executor`` (so a model is never used by two threads at once when
    the executor has one worker).

    Each request's items wait in a queue of their own; a batch takes one item from each waiting
    request in turn (oldest request first), so a large request shares every batch with the small
    ones that arrived after it instead of making them wait until it is done. Items of one batch
    share a ``group`` (e.g. equal generation options): a batch never mixes groups."""

    def __init__(self, run: Callable[[list[Any]], list[Any]], limits: BatchLimits, executor: Executor,
                 on_batch: Callable[[BatchReport], None] | None = None) -> None:
        self._run = run
        self.limits = limits
        self._executor = executor
        self._on_batch = on_batch
        self._requests: deque[deque[_Item]] = deque()  # one queue per waiting request, oldest first
        self._count = 0  # items waiting, all requests together
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def queued(self) -> int:
        return self._count

    @property
    def waiting_requests(self) -> int:
        return len(self._requests)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._collect(), name="toolkit-batcher")

    async def submit(self, payloads: Sequence[Any], tokens: Sequence[int], group: Hashable = ()) -> list[Any]:
        """The outputs for ``payloads``, in their order (``tokens``: each payload's estimated size;
        ``group``: only items of equal groups are decoded together)."""
        if self._closing or self._task is None:
            raise Overloaded("the server is shutting down")
        if self._count + len(payloads) > self.limits.max_queue:
            raise Overloaded(f"too many sentences are waiting: {self._count} queued, {len(payloads)} more asked "
                             f"for, at most {self.limits.max_queue}; retry later")
        if not payloads:
            return []
        loop = asyncio.get_running_loop()
        items = deque(_Item(p, t, loop.create_future(), group) for p, t in zip(payloads, tokens))
        futures = [item.future for item in items]
        self._requests.append(items)
        self._count += len(items)
        self._wakeup.set()
        try:
            return list(await asyncio.gather(*futures))
        except BaseException:
            for future in futures:  # the request is gone (or failed): its items are not decoded
                future.cancel()
            self._forget(items)
            raise

    def _forget(self, items: deque[_Item]) -> None:
        """Take a request's waiting items off the queue at once (they hold places in --max-queue)."""
        for index, waiting in enumerate(self._requests):
            if waiting is items:
                del self._requests[index]
                self._count -= len(waiting)
                return

    async def close(self) -> None:
        """Decode what is queued, then stop (graceful shutdown, or the model being unloaded)."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    def _drop_done(self, waiting: deque[_Item]) -> None:
        while waiting and waiting[0].future.done():
            waiting.popleft()
            self._count -= 1

    def _drop_cancelled(self) -> None:
        while self._requests:
            self._drop_done(self._requests[0])
            if self._requests[0]:
                return
            self._requests.popleft()

    def _full(self) -> bool:
        size = tokens = 0
        group: Any = _NO_GROUP
        for waiting in self._requests:
            for item in waiting:
                if item.future.done():
                    continue
                if group is _NO_GROUP:
                    group = item.group
                elif item.group != group:
                    continue
                size += 1
                tokens += item.tokens
                if size >= self.limits.max_batch_size or tokens >= self.limits.max_batch_tokens:
                    return True
        return False

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        tokens = 0
        group: Any = _NO_GROUP
        taking = over_budget = False
        while not over_budget and len(batch) < self.limits.max_batch_size:
            taking = False
            for waiting in self._requests:  # one item from each request per round
                self._drop_done(waiting)
                if not waiting or len(batch) >= self.limits.max_batch_size:
                    continue
                item = waiting[0]
                if group is _NO_GROUP:
                    group = item.group
                elif item.group != group:
                    continue
                if batch and tokens + item.tokens > self.limits.max_batch_tokens:
                    over_budget = True  # a single item over the budget still goes, alone
                    break
                batch.append(waiting.popleft())
                self._count -= 1
                tokens += item.tokens
                taking = True
            if not taking:
                break
        self._requests = deque(waiting for waiting in self._requests if waiting)
        return batch

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._requests:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Wait for company until the batch is full or the oldest item's time is up.
            deadline = min(waiting[0].enqueued for waiting in self._requests if waiting) + self.limits.max_wait_ms / 1000
            while not self._closing and not self._full():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            batch = self._take()
            if batch:
                await self._decode(loop, batch)

    async def _decode(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        start = time.monotonic()
        try:
            outputs = await loop.run_in_executor(self._executor, self._run, [item.payload for item in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"the model returned {len(outputs)} outputs for {len(batch)} inputs")
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].future, exception=exc)
                return
            log.warning("a batch of %d failed (%s); decoding its items one by one", len(batch), type(exc).__name__)
            for item in batch:
                if not item.future.done():
                    await self._decode(loop, [item])
            return
        seconds = time.monotonic() - start
        for item, output in zip(batch, outputs):
            _settle(item.future, result=output)
        if self._on_batch is not None:
            self._on_batch(BatchReport(len(batch), sum(i.tokens for i in batch), seconds,
                                       start - min(i.enqueued for i in batch)))


def _settle(future: asyncio.Future, result: Any = None, exception: BaseException | None = None) -> None:
    if future.done():  # its request went away meanwhile: the result is dropped
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
