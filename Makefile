# `make run`: set up, then translate and summarise the French seed articles into outputs/seeds/.
# `make test`: set up (with test dependencies) and run the whole test suite.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-dev run test benchmark-speed clean

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
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .venv-comet-ref .pytest_cache
