# `make run`: set up, then translate and summarise the French seed articles into outputs/seeds/.
# `make test`: set up (with test dependencies) and run the whole test suite, the docs build included.
# `make docs`: build the documentation site into site/ (git-ignored); a broken link, anchor or API
# reference fails it (mkdocs.yml sets strict, and --strict says so here too).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-dev run test docs benchmark-speed clean

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

$(VENV)/.installed-dev: pyproject.toml scripts/setup.sh
	TOOLKIT_EXTRAS=dev bash scripts/setup.sh
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

run: setup
	$(BIN)/toolkit pipeline seeds --out outputs/seeds --overwrite

test: setup-dev
	$(BIN)/ruff check toolkit tests benchmarks
	$(BIN)/mypy
	$(MAKE) --no-print-directory docs
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2 (noise; the build stays on MkDocs 1.6).
# Not --quiet: it hides the warnings, and then --strict has none to fail on.
docs: setup-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .venv-comet-ref .pytest_cache site
