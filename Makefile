# labhub: `make test` sets up everything from this repository's own files and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test render bench clean

# A fresh virtualenv with the pinned dependencies, plus the system packages the tests drive
# (Chromium for the browser test), installed only when missing.
setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	scripts/install-system-deps
	touch $@

test: setup
	$(BIN)/pytest

# The main job offline: what the dev stack would deploy, under ./out/dev.
render: setup
	$(BIN)/labhub render --stack dev --out out/dev

bench: setup
	$(BIN)/python bench/render/run.py
	$(BIN)/python bench/templates/run.py

clean:
	rm -rf $(VENV) out
