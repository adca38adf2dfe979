"""Performance round 2: ct2 thread layout and batches in flight, torch dtype and int8, lazy start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_FILES, seed_texts
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.engines import ct2
from toolkit.engines.base import cpu_flags, has_native_bf16, torch_dtype
from toolkit.engines.loader import load_engine
from toolkit.options import EngineOptions, GenerationOptions
from toolkit.text.segment import segment_document

runner = CliRunner()
SENTENCES = [s for text in seed_texts() for _, _, s in segment_document(text, "fr").sentences]
CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbugs\t\t: none\n"


# --------------------------------------------------------------------------- ct2 thread layout

def test_thread_layout_one_single_threaded_replica_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_CT2_LAYOUT", raising=False)
    assert ct2.thread_layout(2) == (2, 1)
    assert ct2.thread_layout(8) == (8, 1)
    assert ct2.thread_layout(0, cores=4) == (4, 1)  # 0: every core
    assert ct2.thread_layout(1) == (1, 1)
    assert ct2.thread_layout(4, "cuda") == (1, 4)  # one replica per GPU
    assert ct2.thread_layout(0)[0] == os.cpu_count()
    monkeypatch.setenv("TOOLKIT_CT2_LAYOUT", "intra")  # the earlier layout, for the speed benchmark
    assert ct2.thread_layout(2) == (1, 2)


def test_ct2_plans_at_least_one_batch_per_replica(tiny_marian: Path) -> None:
    engine = load_engine(str(tiny_marian), "translation", EngineOptions(device="cpu", backend="ct2", threads=2))
    assert (engine.inter_threads, engine.intra_threads) == (2, 1)
    batches = engine.plan_batches([5, 9, 7, 3, 8, 6])
    assert len(batches) == 2 and sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0] == [1, 4, 2]  # longest first: length-sorted within the token budget
    # The plan does not follow the layout, so outputs cannot depend on --threads (resume, Ray).
    for threads in (1, 3):
        other = load_engine(str(tiny_marian), "translation", EngineOptions(device="cpu", backend="ct2", threads=threads))
        assert other.plan_batches([5, 9, 7, 3, 8, 6]) == batches


class _Done:
    def __init__(self, value: object) -> None:
        self.value = value

    def result(self) -> object:
        return self.value


def test_ct2_batches_in_flight_keep_order_and_match_synchronous_decoding(tiny_marian: Path) -> None:
    options = EngineOptions(device="cpu", backend="ct2", quantization="float32", threads=2, batch_size=3)
    engine = load_engine(str(tiny_marian), "translation", options, GenerationOptions(num_beams=2))
    texts = SENTENCES + SENTENCES[::-1]
    batches = engine.plan_batches([engine.count_tokens(t) for t in texts])
    assert len(batches) > 2 * engine.inter_threads  # more batches than the window: several in flight

    in_flight = engine.generate(texts)

    # The same engine and batches, decoded synchronously (asynchronous=False), one batch at a time.
    def synchronous(batch):
        tokens = [engine.tokenizer.convert_ids_to_tokens(list(ids)) for ids in batch]
        prefix = [engine.target_prefix] * len(batch) if engine.target_prefix else None
        results = engine.translator.translate_batch(tokens, target_prefix=prefix, max_input_length=0,
                                                    max_batch_size=0, asynchronous=False, **engine.decoding)
        return engine._collect([_Done(r) for r in results])

    engine.decode_batches = lambda batches: (synchronous(b) for b in batches)
    one_by_one = engine.generate(texts)
    assert [g.text for g in in_flight] == [g.text for g in one_by_one]
    assert [g.output_tokens for g in in_flight] == [g.output_tokens for g in one_by_one]
    # Repeated inputs, decoded in different batches, give the same outputs: results are in order.
    n = len(SENTENCES)
    assert [g.text for g in in_flight[:n]] == [g.text for g in in_flight[n:]][::-1]


def test_summarisation_with_batches_in_flight(tiny_bart: Path) -> None:
    options = EngineOptions(device="cpu", backend="ct2", quantization="float32", threads=2, batch_size=1)
    engine = load_engine(str(tiny_bart), "summarization", options, GenerationOptions(num_beams=1))
    texts = [s[:60] for s in SENTENCES[:6]]
    together = [g.text for g in engine.generate(texts)]
    assert together == [engine.generate([t])[0].text for t in texts]


# --------------------------------------------------------------------------- torch dtype and int8

def test_dtype_auto_follows_the_cpu_flags() -> None:
    assert cpu_flags(CPUINFO.format(extra="avx512_bf16")) >= {"avx512_bf16", "avx2"}
    assert has_native_bf16(cpu_flags(CPUINFO.format(extra="avx512_bf16")))
    assert has_native_bf16(cpu_flags(CPUINFO.format(extra="amx_bf16 amx_tile")))
    assert not has_native_bf16(cpu_flags(CPUINFO.format(extra="")))
    assert not has_native_bf16(cpu_flags(""))
    bf16, plain = cpu_flags(CPUINFO.format(extra="avx512_bf16")), cpu_flags(CPUINFO.format(extra=""))
    assert torch_dtype("auto", "cpu", bf16) == "bfloat16"
    assert torch_dtype("auto", "cpu", plain) == "float32"
    assert torch_dtype("auto", "cuda", plain) == "float16"
    assert torch_dtype("auto", "cuda:1", bf16) == "float16"
    assert torch_dtype("float32", "cpu", bf16) == "float32"
    assert torch_dtype("bfloat16", "cpu", plain) == "bfloat16"  # asked for: given, even if emulated


def test_torch_bfloat16_and_int8_run_and_say_so(tiny_marian: Path) -> None:
    bf16 = load_engine(str(tiny_marian), "translation", EngineOptions(device="cpu", backend="torch", dtype="bfloat16"),
                       GenerationOptions(num_beams=1))
    assert bf16.manifest()["dtype"] == "bfloat16" and bf16.manifest()["dtype_requested"] == "bfloat16"
    assert bf16.manifest()["attention"] == "eager"  # faster than SDPA for bf16 decoding on the CPU
    assert all(g.text for g in bf16.generate(SENTENCES[:3]))

    int8 = load_engine(str(tiny_marian), "translation",
                       EngineOptions(device="cpu", backend="torch", quantization="int8", dtype="auto", threads=1),
                       GenerationOptions(num_beams=1))
    quantized = [m for m in int8.model.modules() if "quantized" in type(m).__module__]
    assert quantized, "no Linear layer was quantised"
    outputs = int8.generate(SENTENCES[:3])
    assert len(outputs) == 3 and all(g.output_tokens > 0 for g in outputs)
    manifest = int8.manifest()
    assert manifest["quantization"] == "int8" and manifest["dtype"] == "float32" and manifest["threads"] == 1
    assert manifest["attention"] == "sdpa"  # transformers' default, kept in float32


def test_manifest_records_dtype_quantization_and_thread_layout(tiny_marian: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "torch",
                                 "--dtype", "bfloat16", "--threads", "1", "--beams", "1", "--max-new-tokens", "4",
                                 "--out", str(tmp_path / "torch"), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "torch" / "manifest.json").read_text())
    assert (manifest["dtype"], manifest["dtype_requested"], manifest["quantization"]) == ("bfloat16", "bfloat16", "none")
    assert manifest["attention"] == "eager"

    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                                 "--threads", "2", "--beams", "1", "--max-new-tokens", "4",
                                 "--out", str(tmp_path / "ct2"), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "ct2" / "manifest.json").read_text())
    assert (manifest["threads"], manifest["inter_threads"], manifest["intra_threads"]) == (2, 2, 1)
    assert manifest["quantization"] == "int8"
    assert manifest["malloc_arenas_limited"] is (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")


def test_malloc_arenas_are_left_alone_when_the_user_set_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert ct2.limit_malloc_arenas(2) is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setattr(os, "confstr", lambda name: None)  # musl, macOS: no glibc, nothing done
    assert ct2.limit_malloc_arenas(2) is False


def test_dtype_is_an_option_of_every_generating_command() -> None:
    for command in ("translate", "summarize", "pipeline"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert "--dtype" in result.output, command
    result = runner.invoke(app, ["translate", "x.txt", "--dtype", "float8"])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- start-up

def test_help_imports_neither_torch_nor_transformers() -> None:
    probe = ("import sys\nsys.argv = ['toolkit', '--help']\nfrom toolkit.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('torch', 'transformers', 'ctranslate2', 'markdown_it') if m in sys.modules),"
             " file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_quiet_libraries_quiets_transformers_only_once_imported() -> None:
    probe = ("import sys\nfrom toolkit.runtime import quiet_libraries\nquiet_libraries()\n"
             "assert 'transformers' not in sys.modules\n"
             "from transformers.utils import logging\n"
             "print(logging.get_verbosity() == logging.ERROR, logging.is_progress_bar_enabled())\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]


def test_language_identifier_from_the_decompressed_cache_is_py3langid_own(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from toolkit.text.langid_model import load_identifier

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    first = load_identifier()
    assert len(list((tmp_path / "cache" / "langid").iterdir())) == 1  # decompressed once, then reused
    cached = load_identifier()
    own = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    assert np.array_equal(cached.nb_ptc, own.nb_ptc) and cached.nb_ptc.dtype == own.nb_ptc.dtype
    assert np.array_equal(cached.nb_pc, own.nb_pc) and cached.nb_pc.dtype == own.nb_pc.dtype
    assert cached.nb_classes == own.nb_classes and cached.tk_output == own.tk_output
    assert cached.tk_nextmove.tobytes() == own.tk_nextmove.tobytes() and list(cached.tk_row) == list(own.tk_row)
    texts = [*SENTENCES[:5], "The president said on Monday.", "Der Präsident sagte am Montag.", "日本語の文章です。", ""]
    for text in texts:
        assert first.classify(text) == cached.classify(text) == own.classify(text)
        assert cached.rank(text) == own.rank(text)
    cached.set_languages(["fr", "en", "de"])
    own.set_languages(["fr", "en", "de"])
    assert [cached.classify(t) for t in texts] == [own.classify(t) for t in texts]
    own.set_languages(None)
    # A cache that cannot be written: py3langid loads its model itself.
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "file"))
    assert load_identifier().classify(SENTENCES[0]) == own.classify(SENTENCES[0])
