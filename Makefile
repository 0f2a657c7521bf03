# The two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PORT

.PHONY: run test install test-deps clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/flask --app bot db-upgrade
	$(BIN)/flask --app bot demo-data
	$(BIN)/flask --app bot serve

test-deps:
	scripts/install-test-deps

test: install test-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) instance .pytest_cache
