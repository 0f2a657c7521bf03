# The two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PORT

.PHONY: run test chaos bench install test-deps clean

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
	$(BIN)/python scripts/audit_dependencies.py
	$(BIN)/python -m pytest

# The fault suite at full size: 500 users, 10,000 events, Graph down 120 s, a worker SIGKILLed 3 times.
chaos: install test-deps
	$(BIN)/python -m tests.chaos.run --users 500 --events 10000 --graph-down 120 --kills 3

# The performance benchmark (not part of `make test`): PostgreSQL, then SQLite; prints the targets' table.
bench: install test-deps
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache
