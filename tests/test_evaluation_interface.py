"""The metric interface: every registered metric is a Metric, pickles to the workers as its
settings, shares one extraction path; the typed result gives today's JSON; no import cycles in
toolkit/evaluation; TER's first numba compile is announced."""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from toolkit.evaluation import EvaluationOptions, EvaluationResult, evaluate, metrics, ter
from toolkit.evaluation.base import Metric, compute
from toolkit.evaluation.registry import REGISTRY, MetricContext, build_metrics, metric_names

HYPS = ["The cat sat on the mat.", "A dog barked at the postman.", "It rains in Paris again today."]
REFS = [["The cat sat on a mat."], ["The dog barked at a postman."], ["It is raining in Paris again."]]
PACKAGE = Path(__file__).resolve().parent.parent / "toolkit" / "evaluation"


@pytest.mark.parametrize("name", ["bleu", "chrf", "ter", "rouge1", "rouge2", "rougeL", "rougeLsum"])
def test_every_metric_is_one_interface_and_pickles_as_its_settings(name: str) -> None:
    [metric] = build_metrics([name], MetricContext(lang="en"))
    assert isinstance(metric, Metric) and metric.name == name and metric.pooled
    copy = pickle.loads(pickle.dumps(metric))
    assert type(copy) is type(metric) and copy.signature(1) == metric.signature(1)
    np.testing.assert_array_equal(copy.statistics(HYPS, REFS), metric.statistics(HYPS, REFS))
    # The score from summed statistics is the score of the corpus, whatever the slicing.
    whole = compute(metric, HYPS, REFS)
    parts = np.concatenate([metric.statistics(HYPS[:1], REFS[:1]), metric.statistics(HYPS[1:], REFS[1:])])
    assert metric.from_sums(parts.sum(axis=0)) == whole.score


def test_the_registry_names_every_metric_once() -> None:
    assert {"bleu", "chrf", "ter", "rouge1", "rouge2", "rougeL", "rougeLsum", "bertscore", "comet"} <= set(REGISTRY)
    assert metric_names("BLEU,rouge,chrf") == ["bleu", "chrf", "rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert metric_names(["rougeL", "bleu"]) == ["bleu", "rougeL"]  # ROUGE last, as reports always had it


def test_options_object_and_keywords_are_the_same_evaluation() -> None:
    options = EvaluationOptions(task="translation", bootstrap=30, seed=3)
    by_object = evaluate(HYPS, REFS, ["bleu", "chrf"], options)
    by_keywords = evaluate(HYPS, REFS, metrics=["bleu", "chrf"], task="translation", bootstrap=30, seed=3)
    assert isinstance(by_object, EvaluationResult) and by_object == by_keywords
    assert by_object.score("BLEU").score == by_object["scores"][0]["score"]
    with pytest.raises(TypeError, match="beams"):
        evaluate(HYPS, REFS, beams=4)


def test_to_dict_is_the_json_structure_of_before() -> None:
    result = evaluate(HYPS, REFS, ["bleu"], EvaluationOptions(bootstrap=20), baseline=HYPS[::-1],
                      keys=[("a", 0), ("a", 1), ("b", 0)]).to_dict()
    assert list(result) == ["task", "lang", "segments_count", "documents_count", "unit", "bootstrap", "scores",
                            "baseline", "segments"]
    assert result["bootstrap"] == {"resamples": 20, "seed": 12345, "confidence": 0.95, "method": "percentile"}
    assert list(result["scores"][0]) == ["metric", "score", "ci_low", "ci_high", "signature", "higher_is_better"]
    assert list(result["baseline"]) == ["scores", "comparison", "tests"]
    assert list(result["baseline"]["comparison"][0]) == ["metric", "system", "baseline", "delta", "ci_low", "ci_high",
                                                         "p_bootstrap", "p_randomization", "system_better"]
    assert result["segments"][2] == {"doc_id": "b", "segment": 0, "chrf": result["segments"][2]["chrf"],
                                     "hypothesis": HYPS[2]}
    assert result["documents_count"] == 2


def _imports(path: Path) -> set[str]:
    """Modules of toolkit.evaluation that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{a.name}" for a in node.names if (PACKAGE / f"{a.name}.py").exists()}
            found |= submodules if node.module == "toolkit.evaluation" and submodules else {node.module}
    return {m for m in found if m.startswith("toolkit.evaluation.")}


def test_no_import_cycle_in_evaluation() -> None:
    graph = {f"toolkit.evaluation.{p.stem}": _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}

    def visit(module: str, path: list[str]) -> None:
        for target in graph.get(module, ()):
            assert target not in path, " → ".join([*path, target])
            visit(target, [*path, target])

    for module in graph:
        visit(module, [module])


def test_the_first_compiled_ter_run_says_it_compiles(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    caplog.set_level(logging.INFO)  # a diagnostic (polish #4), not a warning
    monkeypatch.setattr(ter, "kernel_cached", lambda: False)
    evaluate(HYPS, REFS, ["ter"], EvaluationOptions(bootstrap=5), baseline=HYPS)
    assert caplog.text.count("compiling TER's search once (numba") == 1  # once, though the baseline is scored too
    caplog.clear()
    evaluate(HYPS, REFS, ["bleu"], EvaluationOptions(bootstrap=5))
    monkeypatch.setattr(ter, "kernel_cached", lambda: True)
    evaluate(HYPS, REFS, ["ter"], EvaluationOptions(bootstrap=5))
    assert "compiling" not in caplog.text
    assert len(HYPS) < metrics.TER_HINT_SEGMENTS  # the no-numba hint is not what was tested


_CLI_WITH = """
import importlib.util, sys
from toolkit.evaluation import metrics, ter
ter.kernel_cached = lambda: False  # as on a first run: the compile note is due
if sys.argv[1] == "no-numba":
    real = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: None if name == "numba" else real(name, *a)
    metrics.TER_HINT_SEGMENTS = 3
from toolkit.cli import app
app(sys.argv[2:])
"""


@pytest.mark.parametrize("case", ["compile", "no-numba"])
def test_evaluate_ter_prints_no_raw_logging_line(case: str, tmp_path: Path) -> None:
    """Polish #4: `evaluate --metrics ter` showed a timestamped logging line while the kernel
    compiled. Now the compile note is a diagnostic (TOOLKIT_LOG=info), and a warning one plain line."""
    import subprocess
    import sys

    ref = Path(__file__).parent.parent / "evaluation/references/translations.fr-en.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_LOG"}
    done = subprocess.run([sys.executable, "-c", _CLI_WITH, case, "evaluate", "--hyp", str(ref), "--ref", str(ref),
                           "--metrics", "ter", "--bootstrap", "5", "--json"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "toolkit.evaluation" not in done.stderr and " WARNING " not in done.stderr
    if case == "compile":
        assert done.stderr == ""
    else:
        (line,) = done.stderr.splitlines()
        assert line.startswith("warning: TER on 25 segments in pure Python")


def test_kernel_cached_reads_numbas_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not ter.kernel_cached()
    source = Path(os.path.abspath(Path(ter.__file__).with_name("ter_kernel.py")))
    folder = tmp_path / f"{source.parent.name}_{hashlib.sha1(str(source.parent).encode()).hexdigest()}"
    folder.mkdir()
    (folder / "ter_kernel._edit_distance-27.py311.nbi").write_bytes(b"")
    assert ter.kernel_cached()
    os.utime(folder / "ter_kernel._edit_distance-27.py311.nbi", (0, 0))  # older than the source: stale
    assert not ter.kernel_cached()
