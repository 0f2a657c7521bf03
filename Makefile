# The two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PORT

.PHONY: run test chaos bench install test-deps lock clean

# Exact versions with hashes from the lock; the project itself without resolving anything again.
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
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

# After a change to pyproject.toml's dependencies: the runtime lock (deployments) and the dev lock.
lock: install
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --strip-extras -o requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --strip-extras --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) instance .pytest_cache
