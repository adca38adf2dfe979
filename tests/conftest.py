"""Test session: never touch the network; tiny random-weight models are built once per session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted CTranslate2 models go to a fresh cache, never the user's.
os.environ["TOOLKIT_CACHE"] = __import__("tempfile").mkdtemp(prefix="toolkit-test-cache-")

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def evaluate_error(*args: str) -> str:
    """The one error line of a `toolkit evaluate` that must fail as a user error (exit 2, one line)."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(app, ["evaluate", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), result.stderr
    return lines[0]


def seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in SEED_FILES]


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MarianMT with random weights and a tokenizer trained on the seeds, saved like a real one."""
    from toolkit.models.random import build_marian

    return build_marian(tmp_path_factory.mktemp("models") / "tiny-marian-fr-en", seed_texts())


@pytest.fixture(scope="session")
def tiny_marian_short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like tiny_marian, but its input limit is 32 tokens, so seed sentences must be split."""
    from toolkit.models.random import build_marian

    return build_marian(tmp_path_factory.mktemp("models") / "tiny-marian-short", seed_texts(), max_positions=32)


@pytest.fixture(scope="session")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BART summariser (byte-level BPE) whose 64-token window is far shorter than a seed article."""
    from toolkit.models.random import build_bart

    return build_bart(tmp_path_factory.mktemp("models") / "tiny-bart", seed_texts(), max_positions=64)


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A T5 (SentencePiece) with the `summarize: ` prefix in its config, 128-token window."""
    from toolkit.models.random import build_t5

    return build_t5(tmp_path_factory.mktemp("models") / "tiny-t5", seed_texts())


GERMAN = ["Der russische Präsident gratulierte seinem kasachischen Amtskollegen am Montag.",
          "Mehr als zweihundert Menschen wurden bei den Unruhen getötet.",
          "Russland wird alles tun, um den Präsidenten zu unterstützen, fügte er hinzu."]


@pytest.fixture(scope="session")
def tiny_en_de(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.models.random import ENGLISH_SAMPLE, build_marian

    return build_marian(tmp_path_factory.mktemp("models") / "tiny-en-de", ENGLISH_SAMPLE, GERMAN, source_lang="en",
                        target_lang="de", seed=1)


@pytest.fixture(scope="session")
def tiny_en_mul(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.models.random import ENGLISH_SAMPLE, build_marian

    return build_marian(tmp_path_factory.mktemp("models") / "tiny-en-mul", ENGLISH_SAMPLE, GERMAN + seed_texts(),
                        source_lang="en", target_lang="mul", target_tokens=[">>deu<<", ">>fra<<"], seed=2)


@pytest.fixture
def generate_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of texts in each call of the torch engine's ``generate`` (it still runs)."""
    from toolkit.engines.base import TorchEngine

    calls: list[int] = []
    original = TorchEngine.generate

    def record(self, texts, on_batch=None):
        calls.append(len(texts))
        return original(self, texts, on_batch)

    monkeypatch.setattr(TorchEngine, "generate", record)
    return calls


@pytest.fixture(autouse=True, scope="session")
def manifests_follow_the_schema() -> Iterator[None]:
    """Every manifest any test writes is validated against the shipped JSON Schema."""
    import json

    import jsonschema

    from toolkit.config import packaged
    from toolkit.io.runs import RunFolder
    from toolkit.io.sharded_run import ShardedRun

    validator = jsonschema.Draft202012Validator(json.loads(packaged("manifest.schema.json").read_text()))
    def check(target: Path) -> None:
        written = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        errors = sorted(validator.iter_errors(written), key=lambda e: list(e.path))
        assert not errors, f"manifest.json does not follow the schema: {errors[0].message} at {list(errors[0].path)}"

    original_commit, original_finish = RunFolder.commit, ShardedRun.finish

    def commit(self: RunFolder, manifest: dict) -> Path:
        target = original_commit(self, manifest)
        check(target)
        return target

    def finish(self: ShardedRun, manifest: dict) -> Path:  # the corpus layout's manifest too
        target = original_finish(self, manifest)
        check(target)
        return target

    patcher = pytest.MonkeyPatch()
    patcher.setattr(RunFolder, "commit", commit)
    patcher.setattr(ShardedRun, "finish", finish)
    yield
    patcher.undo()


def interactive_signals() -> None:
    """A ``preexec_fn`` for children that tests interrupt: a shell's background jobs (a CI runner
    started with ``&``) have SIGINT ignored, which Python keeps, so Ctrl-C would never arrive; the
    child gets the disposition an interactive user's process has."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
