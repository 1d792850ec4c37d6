# Partnernetz: `make run` serves the app with demo data, `make test` runs the whole suite,
# `make test-fast` all but the tests marked slow, `make lint` checks style and import layers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app network
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-fast lint install install-dev translations bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

# Compiled catalogues are build output; the .po files are the source.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d network/translations

run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo ""
	@echo "Partnernetz läuft auf http://$(HOST):$(PORT)/  (Strg+C beendet)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# For development; CI runs `make test`.
test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The import-layer contracts live in .importlinter; until it exists only ruff runs.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install-dev
	$(BIN)/python bench/search.py
	$(BIN)/python bench/map.py
	$(BIN)/python bench/slots.py
	$(BIN)/python bench/abuse.py

clean:
	rm -rf $(VENV) .pytest_cache
