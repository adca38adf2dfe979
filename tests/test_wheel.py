"""An installed wheel works on its own: built from this checkout, installed into a fresh virtual
environment, run from an empty folder with no repository around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_installs_and_runs_from_an_empty_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HF_HUB_OFFLINE="1", TOOLKIT_CACHE=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    # Built from a copy: setuptools leaves build/ in the tree it builds, and a stale build/ would
    # leak old modules into later wheels.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "outputs", "*.egg-info",
                                                                 "__pycache__", ".pytest_cache", ".hypothesis"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        tmp_path, env)
    [wheel] = list(dist.glob("toolkit-*.whl"))

    # The fresh environment borrows the test environment's third-party packages (torch & co.)
    # through a .pth line, but not its editable toolkit: only the wheel provides `toolkit`.
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(fresh), "platbase": str(fresh)}))
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = fresh / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], tmp_path, env)

    empty = tmp_path / "empty"
    empty.mkdir()
    toolkit = str(fresh / "bin" / "toolkit")
    where = run([str(python), "-c", "import toolkit; print(toolkit.__file__)"], empty, env).stdout.strip()
    assert where.startswith(str(fresh)), where
    run([toolkit, "--help"], empty, env)
    run([toolkit, "models", "list"], empty, env)
    run([toolkit, "models", "resolve", "--src", "de", "--tgt", "fr"], empty, env)  # the packaged registry

    model = empty / "tiny-marian"
    run([str(python), "-c", "from pathlib import Path; from toolkit.models.random import build_marian, FRENCH_SAMPLE; "
         f"build_marian(Path({str(model)!r}), FRENCH_SAMPLE)"], empty, env)
    (empty / "article.txt").write_text("Le gouvernement a annoncé un plan. Les syndicats ont réagi.\n", encoding="utf-8")
    run([toolkit, "translate", "article.txt", "-m", str(model), "--out", "t", "-q"], empty, env)
    assert (empty / "t" / "article.txt").read_text(encoding="utf-8").strip()
    run([toolkit, "summarize", "article.txt", "-m", "lead-1", "--lang", "fr", "--out", "s", "-q"], empty, env)
    assert (empty / "s" / "article.txt").read_text(encoding="utf-8") == "Le gouvernement a annoncé un plan."
    bart = empty / "tiny-bart"
    run([str(python), "-c", "from pathlib import Path; from toolkit.models.random import build_bart, FRENCH_SAMPLE; "
         f"build_bart(Path({str(bart)!r}), FRENCH_SAMPLE)"], empty, env)
    run([toolkit, "summarize", "article.txt", "-m", str(bart), "--lang", "fr", "--out", "b", "-q"], empty, env)
    assert (empty / "b" / "manifest.json").is_file()
