"""Issue #28, items 3, 10, 11 and 12 (what a new user tripped over): the help says what the code
reads and needs, limits are reported as the user set them, empty documents count as skipped,
torch's deprecation noise stays out of `-q`, any folder can be translated (ids from relative
paths), and `benchmark` writes nothing outside --out and the user cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import InputError
from toolkit.io.documents import read_inputs

runner = CliRunner()
FRENCH = "Le président a parlé hier soir. Il a annoncé une réforme."


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "300"})


# Issue #24.6: one option group, and every option still in --help with its help.

FLAGS = {
    "translate": "--model --src --tgt --no-pivot --registry --out --format --beams --max-new-tokens --batch-size "
                 "--device --backend --quantization --dtype --threads --revision --encoding --overwrite --json --quiet "
                 "--glossary --keep --shard-size --resume --engine --ray-address --actors --no-dedupe --tm --tm-max-entries "
                 "--no-checks --on-risk",
    "summarize": "--model --lang --summary-lang --min-length --max-length --beams --length-penalty --no-repeat-ngram "
                 "--out --format --batch-size --device --backend --quantization --dtype --threads --revision "
                 "--encoding --overwrite --json --quiet --shard-size --resume --engine --ray-address --actors",
    "pipeline": "--translator --summarizer --order --src --tgt --summary-lang --no-pivot --registry --min-length "
                "--max-length --length-penalty --no-repeat-ngram --beams --glossary --keep --out --device --backend "
                "--quantization --dtype --threads --encoding --overwrite --json --quiet --shard-size --resume "
                "--engine --ray-address --actors --no-checks --on-risk",
}  # the options of each command before the group (HEAD 563a84c)


@pytest.mark.parametrize("command", sorted(FLAGS))
def test_every_option_is_still_offered_with_its_help(command: str) -> None:
    import typer.main

    click_command = typer.main.get_command(app).commands[command]
    options = {p.opts[0]: p for p in click_command.params if p.opts[0].startswith("--")}
    assert set(FLAGS[command].split()) == set(options) - {"--help"}
    assert all(p.help for p in options.values()), [name for name, p in options.items() if not p.help]
    shown = run(command, "--help").output
    assert all(flag in shown for flag in FLAGS[command].split())


def test_the_group_is_one_typed_object() -> None:
    import dataclasses

    from toolkit.cli.group import RunOptions

    names = {f.name for f in dataclasses.fields(RunOptions)}
    assert {"out", "device", "backend", "quiet", "shard_size", "resume", "engine_name"} <= names


# Item 10: help and messages.

@pytest.mark.parametrize("command", ["translate", "summarize", "pipeline"])
def test_help_names_html_inputs_and_the_ray_extra(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert "*.html" in result.output
    assert "pip install 'toolkit[ray]'" in result.output  # Rich used to read [ray] as markup and drop it


def test_an_empty_folder_names_every_readable_extension(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"folder holds no \.txt, \.md, \.html, \.htm, \.jsonl or document "):
        read_inputs([str(tmp_path)])


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_the_generation_limit_is_the_one_the_user_set(tiny_marian: Path, tmp_path: Path, backend: str) -> None:
    from toolkit.tasks.translate import Translator

    translator = Translator.from_pretrained(str(tiny_marian), backend=backend, max_new_tokens=6)
    assert translator.engine.output_limit(10) == 6  # ct2 said 5: its decoding length leaves out the forced </s>
    (tmp_path / "a.txt").write_text(FRENCH)
    result = run("translate", str(tmp_path / "a.txt"), "-m", str(tiny_marian), "--src", "fr", "--tgt", "en",
                 "--backend", backend, "--max-new-tokens", "6", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    limits = [w for w in manifest["warnings"] if "generation limit" in w]
    assert all("the 6-token generation limit" in w for w in limits), limits


def test_an_empty_document_is_listed_as_skipped_and_the_exit_code_says_so(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_text("  \n\n")
    (tmp_path / "in" / "ok.txt").write_text(FRENCH)
    result = run("summarize", str(tmp_path / "in"), "-m", "lead-1", "--lang", "fr", "--out", str(tmp_path / "o"), "-q")
    assert result.exit_code == 3, result.output  # README's exit codes: 3 when documents were skipped
    assert "empty.txt: empty or whitespace-only document, skipped" in result.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert [(s["id"], s["reason"]) for s in manifest["skipped"]] == [("empty", "empty or whitespace-only document")]
    assert [d["id"] for d in manifest["documents"]] == ["ok"]


# Item 11: torch's multi-line UserWarning with --backend torch --quantization int8.

def test_quiet_torch_int8_prints_no_torch_warning(tiny_marian: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH)
    # A fresh process: Python shows a warning once per place, so an earlier test could hide it.
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "toolkit", "translate", str(tmp_path / "a.txt"), "-m", str(tiny_marian),
                           "--src", "fr", "--tgt", "en", "--backend", "torch", "--quantization", "int8", "-q",
                           "--max-new-tokens", "4", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "UserWarning" not in proc.stderr and "quantize_per_tensor" not in proc.stderr, proc.stderr


# Item 12: ids from the path relative to the input root.

def test_ids_tell_apart_same_named_files(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    (folder / "sub").mkdir(parents=True)
    for name in ("x.txt", "x.md", "y.txt", "sub/z.txt"):
        (folder / name).write_text(FRENCH)
    assert sorted(d.id for d in read_inputs([str(folder)])) == ["sub/z", "x.md", "x.txt", "y"]  # unique ids kept
    for name in ("a/x.txt", "b/x.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(FRENCH)
    assert [d.id for d in read_inputs([str(tmp_path / "a/x.txt"), str(tmp_path / "b/x.txt")])] == ["a/x", "b/x"]
    assert [d.id for d in read_inputs([str(tmp_path / "a"), str(tmp_path / "b")])] == ["a/x", "b/x"]
    assert [d.id for d in read_inputs([str(tmp_path / "a/x.txt")])] == ["x"]  # alone, as before
    # What cannot be told apart by its path is still refused: stdin twice.
    with pytest.raises(InputError, match="two inputs have the document id 'stdin'"):
        read_inputs(["-", "-"], stdin=__import__("io").BytesIO(b"x"))


def test_a_folder_with_same_named_files_is_processed_and_mirrored(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    for name in ("x.txt", "x.md", "a/y.txt", "b/y.txt"):
        (folder / name).write_text(FRENCH)
    out = tmp_path / "out"
    result = run("summarize", str(folder), "-m", "lead-1", "--lang", "fr", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {d["id"]: d["output_file"] for d in manifest["documents"]} == {
        "x.txt": "x.txt", "x.md": "x.md", "a/y": "a/y.txt", "b/y": "b/y.txt"}
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["a/y.txt", "b/y.txt", "manifest.json", "x.md", "x.txt"]
    # Two files of the same name given one by one: their folders tell them apart.
    result = run("summarize", str(folder / "a/y.txt"), str(folder / "b/y.txt"), "-m", "lead-1", "--lang", "fr",
                 "--out", str(tmp_path / "two"), "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "two" / "a" / "y.txt").is_file() and (tmp_path / "two" / "b" / "y.txt").is_file()


# Item 3: benchmark writes nothing outside --out (and the user cache); config paths from the config.

def test_benchmark_from_another_folder_writes_only_under_out(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name in ("seeds", "evaluation", "configs"):
        shutil.copytree(REPO / name, project / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache = tmp_path / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(elsewhere)
        patch.setenv("TOOLKIT_CACHE", str(cache))
        result = runner.invoke(app, ["benchmark", str(project / "configs/benchmarks/smoke.yaml"), "--systems", "lead-3",
                                     "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert list(elsewhere.iterdir()) == []  # it used to create ./outputs/benchmarks/{cache,models}
    assert (tmp_path / "run" / "results.json").is_file() and (cache / "benchmarks").is_dir()
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["datasets"]["seeds"]["sources"] == [str(project / "seeds")]
    assert {d for d in json.loads((tmp_path / "run" / "results.json").read_text())["quality"][0]["per_document"]} == {
        p.stem for p in SEED_FILES}
