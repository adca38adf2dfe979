"""``--engine ray``: a local Ray with 2 CPUs gives the same shard files as the local engine, in
order, whatever the actor layout, and continues a run the local engine started (``--resume``).

Ray's start-up is slow, so the tests share one Ray (module scope) and one local baseline."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import seed_texts

from toolkit.errors import ToolkitError
from toolkit.execution.corpus import CorpusResult, corpus_manifest, run_corpus
from toolkit.execution.jobs import TranslateJob
from toolkit.execution.ray_engine import plan_layout, requested_threads
from toolkit.execution.work import DocumentOutput, ShardOutput
from toolkit.io.documents import Document
from toolkit.io.sharded_run import FAILURES, ShardedRun
from toolkit.options import CorpusOptions, EngineOptions, GenerationOptions

SHARD_SIZE = 4
# Ray Data copies its settings object, which warns about its own deprecated fields.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


# -- the layout of actors and threads (no Ray needed) -------------------------------------------

def test_layout_follows_threads_and_actors() -> None:
    assert plan_layout([2]) == (1, 2)  # this machine: one actor with both CPUs
    assert plan_layout([16]) == (4, 4)  # DEFAULT_THREADS per actor, as many actors as fit
    assert plan_layout([2], actors=2) == (2, 1)
    assert plan_layout([2], actors=1) == (1, 2)
    assert plan_layout([2], threads=1) == (2, 1)
    assert plan_layout([2], threads=2, actors=3) == (3, 2)  # asked for: Ray queues what does not fit yet
    assert plan_layout([8, 8], actors=3) == (3, 4)  # an actor's threads fit on one node
    assert plan_layout([8, 6, 0], threads=4) == (3, 4)  # a head node without CPUs runs no actor
    with pytest.raises(ToolkitError, match="--threads 16: .* largest node of this cluster has 8 CPUs"):
        plan_layout([8, 8], threads=16)
    with pytest.raises(ToolkitError, match="no node with a CPU"):
        plan_layout([0])


def test_requested_threads_reads_every_engine(tiny_marian: Path) -> None:
    job = _job(tiny_marian)
    assert requested_threads(job) == 0
    assert requested_threads(job.with_threads(3)) == 3


def test_outputs_are_committed_in_shard_order() -> None:
    from toolkit.execution.ray_engine import in_order

    arrived = [ShardOutput(i, 1) for i in (4, 6, 5, 8, 10)]
    assert [out.index for out in in_order(arrived, [4, 5, 6, 8, 10])] == [4, 5, 6, 8, 10]
    seen = []
    with pytest.raises(RuntimeError, match="2 of 3 shards came back"):
        for out in in_order(iter([ShardOutput(1, 1), ShardOutput(0, 1)]), [0, 1, 2]):
            seen.append(out.index)
    assert seen == [0, 1]


def test_without_the_ray_extra(monkeypatch: pytest.MonkeyPatch, tiny_marian: Path) -> None:
    from toolkit.execution.ray_engine import run_on_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(ToolkitError, match=r"--engine ray needs the ray extra: pip install 'toolkit\[ray\]'"):
        run_on_ray(_job(tiny_marian), [], lambda out: None, CorpusOptions(engine="ray"))


def test_an_address_nothing_answers_at(monkeypatch: pytest.MonkeyPatch, tiny_marian: Path) -> None:
    """One line at once, rather than Ray's minutes of retries."""
    import socket

    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from toolkit.execution.ray_engine import run_on_ray

    if ray.is_initialized():
        pytest.skip("this process joined a Ray already, which run_on_ray uses whatever the address")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens once closed
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    with pytest.raises(ToolkitError, match=rf"no Ray cluster answers at 127.0.0.1:{port} \(Connection refused\)"):
        run_on_ray(_job(tiny_marian), [], lambda out: None, CorpusOptions(engine="ray"))


# -- runs on a local Ray ------------------------------------------------------------------------

def _job(model: Path, backend: str = "auto", threads: int = 0) -> TranslateJob:
    return TranslateJob(str(model), "fr", "en", EngineOptions(backend=backend, threads=threads), GenerationOptions())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """31 JSONL lines: 28 French records (extra fields passed through, one blank text), a line that
    is not JSON and a record without text."""
    sentences = [s.strip() + "." for text in seed_texts() for s in text.replace("\n", " ").split(". ") if s.strip()]
    lines = []
    for i in range(28):
        record: dict[str, Any] = {"id": f"doc-{i}", "text": " ".join(sentences[i % len(sentences):][:1 + i % 3])}
        if i % 4 == 1:
            record["meta"] = {"source": "archive", "n": i}
        if i % 5 == 2:
            record["lang"] = "fr"
        if i == 13:
            record["text"] = "   "
        lines.append(json.dumps(record, ensure_ascii=False))
    lines.insert(6, '{"id": "broken", "text": "pas du JSON')
    lines.insert(17, json.dumps({"id": "no-text", "title": "Sans texte"}))
    path = tmp_path_factory.mktemp("corpus") / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(job: Any, corpus: Path, out: Path, options: CorpusOptions, resume: bool = False,
         before_commit: Callable[[int], None] | None = None, order: list[int] | None = None,
         described: list[dict[str, Any] | None] | None = None) -> CorpusResult:
    with ShardedRun(out, job.fingerprint(), resume=resume, inputs=[corpus]) as run:
        commit = run.commit

        def recorded(index: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if before_commit is not None:
                before_commit(index)
            if order is not None:
                order.append(index)
            return commit(index, *args, **kwargs)

        run.commit = recorded  # type: ignore[method-assign]
        result = run_corpus(job, [corpus], run, options)
        run.finish(corpus_manifest(job, [corpus], run, options, result))  # a whole manifest: the schema is checked
        if described is not None:
            described.append(run.description)
    return result


def _files(folder: Path) -> dict[str, bytes]:
    """The outputs that must be the same bytes: shards, their details, the failures."""
    names = [p for p in folder.rglob("*.jsonl") if p.name.startswith("part-")] + [folder / FAILURES]
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(names)}


@pytest.fixture(scope="module")
def local_runs(tiny_marian: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """The local engine's outputs, per backend."""
    runs = {}
    for backend in ("auto", "torch"):
        out = tmp_path_factory.mktemp("local") / "run"
        _run(_job(tiny_marian, backend), corpus, out, CorpusOptions(shard_size=SHARD_SIZE))
        runs[backend] = _files(out)
    return runs


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """One local Ray with 2 CPUs for the module (run_on_ray joins it and leaves it running)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_local_engine_s_outputs(ray_cluster: Any, tiny_marian: Path, corpus: Path, tmp_path: Path,
                                              local_runs: dict[str, dict[str, bytes]]) -> None:
    """PyTorch, 1 actor x 2 threads (--threads 2). CTranslate2 with 2 actors x 1 thread: the
    slow-shard, resume and CLI tests."""
    order: list[int] = []
    result = _run(_job(tiny_marian, "torch", 2), corpus, tmp_path / "ray",
                  CorpusOptions(shard_size=SHARD_SIZE, engine="ray"), order=order)
    expected = local_runs["torch"]
    assert _files(tmp_path / "ray") == expected
    assert order == list(range(8))  # 30 records in shards of 4, committed in order
    assert result.failed == 2 and result.outputs == 28
    failures = [json.loads(line) for line in expected[FAILURES].decode().splitlines()]
    assert [f["id"] for f in failures] == [None, "no-text"]
    assert result.cluster == {"engine": "ray", "ray_version": ray_cluster.__version__,
                              "address": result.cluster["address"], "nodes": 1, "cpus": 2,
                              "actors": 1, "threads_per_actor": 2}
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["cluster"] == result.cluster
    assert {entry["worker"].split(":")[0] for entry in manifest["shards"]} == {"ray"}


@dataclass
class SlowShardJob:
    """A translate job whose task dawdles over one document: that shard finishes last."""

    inner: TranslateJob
    slow_id: str
    command: str = "translate"

    def build(self) -> SlowTask:
        return SlowTask(self.inner.build(), self.slow_id)

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def with_threads(self, threads: int) -> SlowShardJob:
        return replace(self, inner=self.inner.with_threads(threads))


class SlowTask:
    """Also says, in its description, how many threads its process was given."""

    def __init__(self, task: Any, slow_id: str) -> None:
        self.task, self.slow_id = task, slow_id
        self.output_keys = task.output_keys

    def run(self, docs: Sequence[Document], on_progress: Any = None) -> list[DocumentOutput | str]:
        if any(d.id == self.slow_id for d in docs):
            time.sleep(6)
        return self.task.run(docs, on_progress)

    def describe(self) -> dict[str, Any]:
        import os

        import torch

        return {**self.task.describe(), "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                "mkl_threads": os.environ.get("MKL_NUM_THREADS"), "torch_threads": torch.get_num_threads()}


@pytest.fixture
def by_value() -> Iterator[None]:
    """The jobs defined here travel to the actors by value: the actors cannot import this module."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
def test_a_slow_shard_is_committed_in_its_turn(ray_cluster: Any, by_value: None, tiny_marian: Path, corpus: Path,
                                               tmp_path: Path, local_runs: dict[str, dict[str, bytes]]) -> None:
    """Shard 0 takes longest: its successors finish first on the other actor, and still wait."""
    order: list[int] = []
    described: list[dict[str, Any] | None] = []
    _run(SlowShardJob(_job(tiny_marian), "doc-0"), corpus, tmp_path / "ray",
         CorpusOptions(shard_size=SHARD_SIZE, engine="ray", actors=2), order=order, described=described)
    assert order == list(range(8))
    # Each of the 2 actors has 1 of the 2 CPUs: one thread everywhere, CTranslate2 included.
    assert described[0] is not None
    assert {k: described[0][k] for k in ("omp_threads", "mkl_threads", "torch_threads")} == {
        "omp_threads": "1", "mkl_threads": "1", "torch_threads": 1}
    assert (described[0]["inter_threads"], described[0]["intra_threads"]) == (1, 1)
    assert _files(tmp_path / "ray") == local_runs["auto"]


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_ray_resumes_a_local_run(ray_cluster: Any, tiny_marian: Path, corpus: Path, tmp_path: Path,
                                 local_runs: dict[str, dict[str, bytes]]) -> None:
    out = tmp_path / "run"

    def stop_at_third(index: int) -> None:
        if index == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _run(_job(tiny_marian), corpus, out, CorpusOptions(shard_size=SHARD_SIZE), before_commit=stop_at_third)
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == ["part-00000.jsonl", "part-00001.jsonl"]

    order: list[int] = []
    result = _run(_job(tiny_marian), corpus, out, CorpusOptions(shard_size=SHARD_SIZE, engine="ray", actors=2),
                  resume=True, order=order)
    assert order == list(range(2, 8))  # only the missing shards, in order
    assert result.resumed_shards == 2 and result.outputs == 28
    assert _files(out) == local_runs["auto"]
    workers = [entry["worker"].split(":")[0] for entry in json.loads((out / "manifest.json").read_text())["shards"]]
    assert workers == ["local"] * 2 + ["ray"] * 6


@dataclass
class UnloadableJob:
    """A job whose models cannot be loaded where it runs."""

    inner: TranslateJob
    command: str = "translate"

    def build(self) -> Any:
        raise ToolkitError("model 'acme/missing' is not in the local cache and offline mode is on")

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def with_threads(self, threads: int) -> UnloadableJob:
        return replace(self, inner=self.inner.with_threads(threads))


@pytest.mark.slow
def test_an_error_in_the_actors_is_the_user_s_error(ray_cluster: Any, by_value: None, tiny_marian: Path, corpus: Path,
                                                    tmp_path: Path) -> None:
    """A ToolkitError in an actor is the same one line here as with the local engine, not a Ray
    traceback; the run folder keeps nothing."""
    for engine in ("local", "ray"):
        with pytest.raises(ToolkitError, match=r"^model 'acme/missing' is not in the local cache"):
            _run(UnloadableJob(_job(tiny_marian)), corpus, tmp_path / engine,
                 CorpusOptions(shard_size=SHARD_SIZE, engine=engine, actors=1))
        assert not (tmp_path / engine).exists()


# -- the CLI ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("command", ["translate", "summarize", "pipeline"])
def test_cli_engine_ray_matches_engine_local(ray_cluster: Any, tiny_marian: Path, corpus: Path, tmp_path: Path,
                                             command: str) -> None:
    from typer.testing import CliRunner

    from toolkit.cli import app

    args = {"translate": ["translate", "-m", str(tiny_marian), "--src", "fr", "--tgt", "en"],
            "summarize": ["summarize", "--model", "textrank-2", "--lang", "fr"],
            "pipeline": ["pipeline", "--translator", str(tiny_marian), "--summarizer", "textrank-2", "--src", "fr",
                         "--tgt", "en"]}[command]
    runs = {}
    for engine, extra in (("local", []), ("ray", ["--actors", "2"])):
        out = tmp_path / engine
        result = CliRunner().invoke(app, [*args, str(corpus), "--shard-size", str(SHARD_SIZE), "--engine", engine,
                                          *extra, "--out", str(out), "-q"])
        assert result.exit_code == 3, result.output  # 2 records fail: a partial run
        runs[engine] = out
    assert _files(runs["ray"]) == _files(runs["local"])
    assert len(_files(runs["ray"])) == 17  # 8 shards, their details, failures.jsonl
    manifest = json.loads((runs["ray"] / "manifest.json").read_text())
    assert manifest["engine"] == "ray"
    assert manifest["cluster"]["actors"] == 2 and manifest["cluster"]["threads_per_actor"] == 1


def test_cli_engine_ray_without_the_extra(monkeypatch: pytest.MonkeyPatch, tiny_marian: Path, corpus: Path,
                                          tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(app, ["translate", "-m", str(tiny_marian), "--src", "fr", "--tgt", "en", str(corpus),
                                      "--engine", "ray", "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 2
    assert "--engine ray needs the ray extra: pip install 'toolkit[ray]'" in result.output
    assert not (tmp_path / "run").exists()


# -- issue 30.4-6: Ray's messages stay off stdout, SIGTERM exits 143, --quiet is quiet -------------

def _descendants(root: int) -> list[int]:
    """The processes under ``root`` (from /proc): Ray's raylet and workers of one CLI run only."""
    import os

    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", *args]


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HF_HUB_OFFLINE": "1",
            "RAY_ADDRESS": ""}


@pytest.mark.slow
def test_ray_out_dash_keeps_stdout_data_only_when_an_actor_dies(tiny_marian: Path, corpus: Path) -> None:
    import os
    import signal
    import subprocess
    import threading

    pytest.importorskip("ray", reason="the ray extra is not installed")
    process = subprocess.Popen(_cli("translate", str(corpus), "-m", str(tiny_marian), "--src", "fr", "--tgt", "en",
                                    "--shard-size", "2", "--engine", "ray", "--actors", "2", "--threads", "1",
                                    "--out", "-", "-q"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    killed: list[int] = []
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    lines = []
    deadline = time.monotonic() + 240
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if not killed:  # the first shard is out: kill one actor, Ray restarts it and retries its shard
            workers = [p for p in _descendants(process.pid) if "MapWorker" in _cmdline(p) or
                       "ShardActor" in _cmdline(p)]
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
        if time.monotonic() > deadline:
            process.kill()
            break
    code = process.wait(timeout=120)
    reader.join(timeout=30)
    assert killed, "no Ray actor process was found to kill"
    assert code == 3, b"".join(stderr).decode()  # two records of the corpus fail
    records = [json.loads(line) for line in lines]  # every stdout line is an output record
    assert len(records) == 28
    text = b"".join(stderr).decode()
    assert "core_worker" not in text and "(raylet)" not in text  # Ray's messages only with --debug


@pytest.mark.slow
def test_sigterm_under_ray_exits_143_and_keeps_the_shards(tiny_marian: Path, corpus: Path, tmp_path: Path) -> None:
    import signal
    import subprocess

    pytest.importorskip("ray", reason="the ray extra is not installed")
    out = tmp_path / "run"
    process = subprocess.Popen(_cli("translate", str(corpus), "-m", str(tiny_marian), "--src", "fr", "--tgt", "en",
                                    "--shard-size", "1", "--engine", "ray", "--actors", "1", "--threads", "1",
                                    "--out", str(out), "-q"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    deadline = time.monotonic() + 240
    progress = out / "progress.jsonl"
    while time.monotonic() < deadline and process.poll() is None:
        if progress.is_file() and '"shard"' in progress.read_text(encoding="utf-8"):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before a shard was committed"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    text = stderr.decode()
    assert process.returncode == 143, text
    assert "terminated" in text and "shard(s) kept" in text and "--resume" in text
    assert "*** SIGTERM" not in text and "PC: @" not in text and "core_worker" not in text
    assert stdout == b""
