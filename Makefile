# labhub: `make test` sets up everything from this repository's own files and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test-deps lint test render bench clean

# A fresh virtualenv with the pinned dependencies. Enough for `make render`: no root, no apt.
setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# What only the tests drive: the system packages (Chromium, MariaDB, PostgreSQL, npm;
# installed with apt-get only when missing) and the real JupyterHub with its proxy.
test-deps: setup
	scripts/install-system-deps
	PYTHON=$(PYTHON) scripts/install-test-hub

# Lint and type-check (pyproject.toml's [tool.ruff] and [tool.mypy]) before any test runs.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: test-deps lint
	$(BIN)/pytest

# The main job offline: what the dev stack would deploy, under ./out/dev.
render: setup
	$(BIN)/labhub render --stack dev --out out/dev

bench: test-deps
	$(BIN)/python bench/render/run.py
	$(BIN)/python bench/templates/run.py
	$(BIN)/python bench/backup/run.py

clean:
	rm -rf $(VENV) .hub-venv tests/hub_env/node_modules out
