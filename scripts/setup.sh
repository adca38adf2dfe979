#!/usr/bin/env bash
# Create .venv and install toolkit into it (editable), choosing the PyTorch build first so that pip
# never pulls several GB of CUDA wheels onto a machine that has no GPU.
#   TOOLKIT_TORCH=auto|cpu|cuda   (default auto: cuda when nvidia-smi lists a GPU, else cpu)
#   TOOLKIT_EXTRAS=dev            (optional extras of pyproject.toml to install besides `fast`, e.g. "dev" or
#                                  "serve"; dev also builds .venv-comet-ref, the reference for tests/test_comet.py)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
python=${PYTHON:-python3}
flavour=${TOOLKIT_TORCH:-auto}
if [ "$flavour" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then flavour=cuda; else flavour=cpu; fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --quiet)
"${pip[@]}" install --upgrade pip setuptools >/dev/null

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing PyTorch $TORCH_VERSION ($flavour build)" >&2
  if [ "$flavour" = cuda ] || [ "$(uname -s)" != Linux ]; then
    # PyPI's Linux wheel is the CUDA build; macOS and Windows wheels are CPU-only anyway.
    "${pip[@]}" install "torch==$TORCH_VERSION"
  else
    # A local wheel cache (pip's find-links) may already hold the CPU build; else PyTorch's CPU index.
    "${pip[@]}" install "torch==$TORCH_VERSION+cpu" 2>/dev/null \
      || "${pip[@]}" install "torch==$TORCH_VERSION+cpu" --index-url https://download.pytorch.org/whl/cpu \
           --extra-index-url https://pypi.org/simple
  fi
fi

# `fast` (numba, for TER at corpus scale) always: the repository's set-up is the full experience.
spec=".[fast${TOOLKIT_EXTRAS:+,$TOOLKIT_EXTRAS}]"
echo "setup: installing toolkit ($spec) into .venv" >&2
"${pip[@]}" install -e "$spec" 2> >(grep -v "is ignored: it is neither" >&2)
# numba compiles TER's search on first use (~10 s) and caches it; do it now rather than in a first run.
.venv/bin/python -c "
from toolkit.evaluation.ter import compiled_search
kernel = compiled_search()
if kernel is not None:
    kernel.edits([(['a', 'b'], ['b', 'a'])])
"

# The web page's test (tests/test_serve.py) drives a real headless browser: Playwright with the
# system's chromium, since Playwright's own browser download needs more than PyPI. Installed only
# for dev set-ups, only when missing, only where apt-get can run; otherwise the test is skipped
# and says why.
if [[ ",${TOOLKIT_EXTRAS:-}," == *",dev,"* ]] && ! command -v chromium >/dev/null 2>&1 \
   && command -v apt-get >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(skip); fi
  fi
  if [ "${as_root[0]:-}" != skip ]; then
    echo "setup: installing chromium (apt-get) for the web page's browser test" >&2
    { "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium; } \
      >/dev/null 2>&1 || echo "setup: could not install chromium; the browser test will be skipped" >&2
  fi
fi

# tests/test_comet.py checks our COMET scores equal unbabel-comet's. unbabel-comet 2.2.7 (the latest)
# requires transformers<5, huggingface-hub<1, numpy<2 and protobuf<5, so it lives in its own
# environment, .venv-comet-ref, for dev set-ups only. It reuses .venv's torch (several hundred MB)
# through a .pth file that appends .venv's site-packages AFTER its own: its transformers 4.x,
# huggingface_hub 0.x, numpy 1.x and protobuf 4.x shadow .venv's. pip sees torch there and installs
# everything else (pytorch-lightning, torchmetrics 0.10, jsonargparse, entmax, pandas, scipy) into
# .venv-comet-ref; setuptools<81 because torchmetrics 0.10 imports pkg_resources. A failure here
# fails the set-up: the test must not silently lose its reference.
COMET_REF_VERSION=2.2.7
if [[ ",${TOOLKIT_EXTRAS:-}," == *",dev,"* ]] && ! .venv-comet-ref/bin/python -c \
     "from importlib.metadata import version; assert version('unbabel-comet') == '$COMET_REF_VERSION'" 2>/dev/null; then
  echo "setup: building .venv-comet-ref (unbabel-comet $COMET_REF_VERSION, the reference for the COMET tests)" >&2
  rm -rf .venv-comet-ref
  .venv/bin/python -m venv .venv-comet-ref  # the same Python as .venv, whose torch it reuses
  ref_site=$(.venv-comet-ref/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  .venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$ref_site/toolkit-venv-torch.pth"
  .venv-comet-ref/bin/python -m pip --quiet install "unbabel-comet==$COMET_REF_VERSION" "transformers>=4.17,<5" \
      "huggingface_hub<1" "numpy<2" "protobuf<5" "setuptools<81" \
      2> >(grep -v -e "is ignored: it is neither" -e "dependency resolver does not currently" \
                   -e "^toolkit .* requires" -e "^py3langid .* requires" >&2)
  .venv-comet-ref/bin/python -W ignore -c "
import comet, transformers, torch
assert transformers.__version__.startswith('4.'), transformers.__version__
assert '.venv-comet-ref' not in torch.__file__, torch.__file__
"
fi
