"""``--engine ray``: the shards of a record corpus processed by a pool of Ray actors, with Ray Data.

The pipeline is Ray Data's batch-inference pattern: the shard plan (``ShardSpec``\\s, a few hundred
bytes each: byte ranges of the inputs) → ``map_batches`` over a fixed pool of actors, one shard per
call → rows streamed back to this process (the driver), which commits each shard, in shard order,
exactly as the local engine does. Each actor loads the models once (``job.build()``) with
``threads`` inference threads and reads its shards' bytes itself, so the inputs must be readable at
the same path on every node.

Nothing is written by the actors: the driver owns the run folder and its completion log, which is
why the outputs are byte-identical to ``--engine local`` and why ``--resume`` works unchanged.

Failures: Ray Data runs the pool's actors with ``max_restarts=-1`` and ``max_task_retries=-1``
(its defaults, kept here): an actor whose process or node dies is restarted (loading the models
again) and its shards are retried elsewhere; a shard is still committed once, by the driver. An
error of the toolkit's (an input file that changed, a model that cannot be loaded) is raised here
as the same ``ToolkitError``; a record that fails is in ``failures.jsonl`` as with the local
engine. If the driver itself dies, ``--resume`` continues from the committed shards.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.execution.work import CorpusJob, ShardOutput, ShardProcessor
from toolkit.io.shards import ShardSpec
from toolkit.options import CorpusOptions, EngineOptions

log = logging.getLogger(__name__)

RAY_EXTRA = "--engine ray needs the ray extra: pip install 'toolkit[ray]'"
# Threads per actor when neither --threads nor --actors says: a few actors of a few threads use a
# node's cores better than one actor with all of them (decoding has long sequential stretches),
# and each actor holds its own copy of the models.
DEFAULT_THREADS = 4
# Environment variables of the driver that the actors get too (the rest of a worker's environment
# is its node's): offline mode must hold everywhere or nowhere.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ToolkitError(RAY_EXTRA) from None
    return ray


def requested_threads(job: CorpusJob) -> int:
    """The job's ``--threads`` (0: not set): the largest of its engines' settings."""
    found = [0]

    def walk(value: Any) -> None:
        if isinstance(value, EngineOptions):
            found.append(value.threads)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                walk(getattr(value, item.name))

    walk(job)
    return max(found)


def plan_layout(node_cpus: Sequence[int], threads: int = 0, actors: int | None = None) -> tuple[int, int]:
    """(actors, threads per actor) for a cluster whose alive nodes have ``node_cpus`` CPUs.

    An actor runs on one node, so its threads never exceed the largest node's CPUs. ``--threads``
    and ``--actors`` win when given; else threads is ``DEFAULT_THREADS`` (or the largest node, if
    smaller) and actors as many as fit on the nodes; with ``--actors`` alone, the most threads
    that still let that many actors fit."""
    cpus = [int(c) for c in node_cpus if c >= 1]
    if not cpus:
        raise ToolkitError("the Ray cluster has no node with a CPU to run actors on")
    largest = max(cpus)
    if threads > largest:
        raise ToolkitError(f"--threads {threads}: a Ray actor runs on one node, and the largest node of this "
                           f"cluster has {largest} CPUs")
    if not threads:
        if actors is None:
            threads = min(DEFAULT_THREADS, largest)
        else:
            threads = next((t for t in range(largest, 0, -1) if sum(c // t for c in cpus) >= actors), 1)
    if actors is None:
        actors = max(1, sum(c // threads for c in cpus))
    return actors, threads


def _limit_threads(threads: int) -> None:
    """OpenMP/MKL/BLAS pools and PyTorch sized to the actor's CPUs, before any model is loaded:
    a pool sized for the whole node in every actor oversubscribes the cores or deadlocks. (The
    variables are also in the actor's runtime environment, so they hold from the process's
    start; PyTorch, imported later, takes its thread count from them.)"""
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:  # imported already (by Ray Data's worker): set it as the variables say
        torch.set_num_threads(threads)
        with suppress(RuntimeError):  # already fixed once parallel work ran
            torch.set_num_interop_threads(threads)


class ShardActor:
    """One actor of the pool: loads the models once, then processes a shard per call."""

    def __init__(self, job: CorpusJob, threads: int) -> None:
        _limit_threads(threads)
        self.error: bytes | None = None
        self.processor: ShardProcessor | None = None
        try:
            self.processor = ShardProcessor(job.build(), worker=f"ray:{socket.gethostname()}:{os.getpid()}")
        except ToolkitError as exc:  # reported with the first shard and raised by the driver
            self.error = _pickle_error(exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        outputs, errors = [], []
        for data in batch["spec"]:
            output, error = b"", self.error or b""
            if self.processor is not None:
                try:
                    output = pickle.dumps(self.processor.process(pickle.loads(data)))
                except ToolkitError as exc:
                    error = _pickle_error(exc)
            outputs.append(output)
            errors.append(error)
        return {"index": np.asarray(batch["index"]), "output": np.array(outputs, dtype=object),
                "error": np.array(errors, dtype=object)}


def _pickle_error(exc: ToolkitError) -> bytes:
    try:
        pickle.loads(pickle.dumps(exc))
        return pickle.dumps(exc)
    except Exception:  # an exception class that does not round-trip: its message
        return pickle.dumps(ToolkitError(str(exc)))


@contextmanager
def ray_session(options: CorpusOptions) -> Iterator[tuple[Any, str]]:
    """Ray, and where it runs: the Ray this process already joined, the cluster at
    ``--ray-address``/``RAY_ADDRESS``, or a local Ray with this machine's CPUs. Only a Ray
    joined here is left (shut down) at the end."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray, _address(ray, options.ray_address)
        return
    address = options.ray_address or os.environ.get("RAY_ADDRESS") or None
    forwarded = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    debug = log.isEnabledFor(logging.DEBUG)
    # Ray's own messages (start-up, token authentication) only with --debug, and so are the
    # actors' logs: what a user needs comes back as outputs, failures and errors.
    settings: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.INFO if debug else logging.ERROR,
                                "log_to_driver": debug,
                                "runtime_env": {"env_vars": forwarded} if forwarded else None}
    if address:
        _check_reachable(address)
    try:
        with _own_sigterm():
            if address:
                ray.init(address=address, **settings)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, **settings)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        hint = ""
        if address and "RAY_AUTH_MODE" not in os.environ:
            # Recent Ray clusters use token authentication by default, and a client given an
            # address sends its token only when told to.
            hint = ("; if the cluster uses token authentication (Ray's default), set RAY_AUTH_MODE=token and its "
                    "token (~/.ray/auth_token, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)")
        raise ToolkitError(f"--engine ray: cannot start or join {where} ({str(exc).splitlines()[0]}){hint}") from None
    try:
        yield ray, address or "local"
    finally:
        ray.shutdown()


@contextmanager
def _own_sigterm() -> Iterator[None]:
    """``ray.init`` replaces the SIGTERM handler with ``sys.exit(15)`` (and its core worker's
    C++ handler prints a stack dump): the toolkit's is put back, so that SIGTERM still exits
    143 with the count of shards kept."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def quiet_ray_streams(debug: bool) -> Iterator[None]:
    """stdout carries data only: Ray's driver prints raylet messages ("A worker died…", task
    failures) to ``sys.stdout``, and its core worker in this process writes C++ log lines
    (``core_worker.cc … max_restarts``) to file descriptor 2. While Ray runs, the first go to
    stderr with ``--debug`` and nowhere otherwise; without ``--debug`` descriptor 2 goes to the
    null device too, the toolkit's own messages keeping the terminal through a copy of it."""
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    copy = None
    with open(os.devnull, "w", encoding="utf-8") as null:
        sys.stdout = saved_stderr if debug else null
        try:
            if not debug:
                with suppress(AttributeError, OSError, ValueError):  # a stderr without a descriptor: Python only
                    descriptor = saved_stderr.fileno()
                    saved_stderr.flush()
                    copy = os.dup(descriptor)
                    os.dup2(null.fileno(), descriptor)
                    sys.stderr = os.fdopen(os.dup(copy), "w", buffering=1, errors="backslashreplace",
                                           encoding=getattr(saved_stderr, "encoding", None) or "utf-8")
            yield
        finally:
            if copy is not None:
                with suppress(OSError, ValueError):
                    sys.stderr.flush()
                    sys.stderr.close()
                os.dup2(copy, saved_stderr.fileno())
                os.close(copy)
            sys.stdout, sys.stderr = saved_stdout, saved_stderr


def _check_reachable(address: str) -> None:
    """A ``host:port`` that nothing answers at is one line now: Ray would retry for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # ray://… (Ray Client), auto, …: Ray's own checks
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise ToolkitError(f"--engine ray: no Ray cluster answers at {address} ({exc.strerror or exc}); start one "
                           "with `ray start --head`, or check --ray-address / RAY_ADDRESS") from None


def _address(ray: Any, requested: str | None) -> str:
    if requested:
        log.warning("--ray-address %s: this process already joined a Ray; using that one", requested)
    context = ray.get_runtime_context()
    gcs = getattr(context, "gcs_address", None)
    return str(gcs) if gcs else "local"


@contextmanager
def _data_context(ray: Any) -> Iterator[None]:
    """Ray Data settings for this run (restored after): results in input order, and neither
    progress bars nor console messages of Ray Data's (the toolkit shows its own progress; Ray
    Data still logs to its session's ``ray-data.log``)."""
    context = ray.data.DataContext.get_current()
    wanted = {"enable_progress_bars": False, "print_on_execution_start": False}
    wanted = {name: value for name, value in wanted.items() if hasattr(context, name)}  # older Ray: fewer
    saved = {name: getattr(context, name) for name in wanted}
    saved_order = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    for name, value in wanted.items():
        setattr(context, name, value)
    consoles = [h for h in logging.getLogger("ray.data").handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in consoles]
    if not log.isEnabledFor(logging.DEBUG):
        for handler in consoles:
            handler.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.execution_options.preserve_order = saved_order
        for name, value in saved.items():
            setattr(context, name, value)
        for handler, level in zip(consoles, levels):
            handler.setLevel(level)


def run_on_ray(job: CorpusJob, specs: Sequence[ShardSpec], commit: Callable[[ShardOutput], None],
               options: CorpusOptions) -> dict[str, Any]:
    """Process ``specs`` on Ray and ``commit`` each output here, in shard order; returns the
    cluster's description for the manifest."""
    with quiet_ray_streams(log.isEnabledFor(logging.DEBUG)), ray_session(options) as (ray, address):
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        node_cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
        actors, threads = plan_layout(node_cpus, requested_threads(job), options.actors)
        cluster = {"engine": "ray", "ray_version": ray.__version__, "address": address, "nodes": len(nodes),
                   "cpus": sum(node_cpus), "actors": actors, "threads_per_actor": threads}
        if not specs:
            return cluster
        actors = min(actors, len(specs))  # an actor with no shard would load the models for nothing
        cluster["actors"] = actors
        fit = sum(c // threads for c in node_cpus)
        if actors > fit:
            log.warning("--actors %d: %d of them fit on the cluster's CPUs now (%d thread(s) each); the others wait "
                        "for CPUs (from an autoscaler, or other jobs ending)", actors, fit, threads)
        log.info("ray: %d actor(s) x %d thread(s) on %d node(s), %d shard(s)", actors, threads, len(nodes), len(specs))
        with _data_context(ray):
            _stream(ray, job, specs, commit, actors, threads)
        return cluster


def _stream(ray: Any, job: CorpusJob, specs: Sequence[ShardSpec], commit: Callable[[ShardOutput], None],
            actors: int, threads: int) -> None:
    items = [{"index": spec.index, "spec": pickle.dumps(spec)} for spec in specs]
    # One shard per block: each actor call is one shard, handed to whichever actor is free.
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ShardActor, fn_constructor_kwargs={"job": job.with_threads(threads), "threads": threads},
        batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=threads,
        runtime_env={"env_vars": {name: str(threads) for name in THREAD_ENV}})
    for out in in_order((_output(row) for row in dataset.iter_rows()), [spec.index for spec in specs]):
        commit(out)


def _output(row: dict[str, Any]) -> ShardOutput:
    if row["error"]:
        raise pickle.loads(row["error"])
    out: ShardOutput = pickle.loads(row["output"])
    return out


def in_order(outputs: Iterable[ShardOutput], order: Sequence[int]) -> Iterator[ShardOutput]:
    """``outputs`` in the order of ``order``'s shard indices, each as soon as its turn comes.

    Ray Data returns them in order already (``preserve_order``, which holds results that are early
    in Ray's object store, where they can spill to disk); this is the driver's guarantee anyway,
    since the run folder's correctness depends on it."""
    position = 0
    waiting: dict[int, ShardOutput] = {}
    for out in outputs:
        if position < len(order) and out.index != order[position]:
            log.debug("ray: shard %d arrived before shard %d; it waits for its turn", out.index, order[position])
        waiting[out.index] = out
        while position < len(order) and order[position] in waiting:
            yield waiting.pop(order[position])
            position += 1
    if position != len(order) or waiting:  # a bug (of Ray's or ours), not the user's
        raise RuntimeError(f"ray: {position} of {len(order)} shards came back in order, "
                           f"{len(waiting)} unexpected")
