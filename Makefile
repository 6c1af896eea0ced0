# Beidui — the two commands a newcomer needs: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
PORT    ?= 8501
PYTHON  ?= python3

.PHONY: run run-replicas test test-quick lint bench setup clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python requirements.txt
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## make run: install, migrate, seed the demo workshop, start the app on $(PORT)
run: $(VENV)/.installed
	$(PY) -m core.setup
	$(PY) -m streamlit run evaluation_app.py --server.port $(PORT) --server.address 0.0.0.0 \
		--browser.serverAddress "$$($(PY) -m core.setup --host)" --browser.serverPort $(PORT)

## make run-replicas N=2: N app processes on one PostgreSQL behind nginx on $(PORT)
## (needs DATABASE_URL=postgresql+psycopg://… and Debian's nginx; docs/deployment.md)
N ?= 2
run-replicas: $(VENV)/.installed
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
		echo "nginx is missing: sudo apt-get install nginx (Debian), then run this again."; exit 1; }
	@case "$$DATABASE_URL" in postgresql*) ;; *) \
		echo "Replicas share one PostgreSQL: set DATABASE_URL=postgresql+psycopg://user@host:5432/db"; \
		echo "(SQLite is for one process: use 'make run')."; exit 1;; esac
	$(PY) -m scripts.replicas --replicas $(N) --port $(PORT)

## make test: lint, type-check core/, then the whole pytest suite
test: $(VENV)/.installed-dev lint
	$(PY) -m pytest

## make test-quick: the suite without browser and server-process tests
test-quick: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not e2e and not slow"

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## make bench: print the benchmark figures (never pass/fail)
bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks.cast
	$(PY) -m benchmarks.tally
	$(PY) -m benchmarks.gc_setting
	$(PY) -m benchmarks.room --phones 50

clean-venv:
	rm -rf $(VENV)
