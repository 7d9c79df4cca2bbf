# The two commands a newcomer needs (README): `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test install install-test browser node wrk peer install-bench bench

$(BIN)/idp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/idp

install: $(BIN)/idp

# Installs, migrates the database and serves the provider at http://localhost:5000 with
# granian (measured cheaper per request than gunicorn: bench/README.md).
run: install
	$(BIN)/idp db upgrade
	$(BIN)/granian --interface wsgi --host 127.0.0.1 --port 5000 --workers 2 --blocking-threads 4 \
		--no-ws --respawn-failed-workers wsgi:app

# Debian's chromium for the browser tests (never a downloaded one), and the npm clients.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

node:
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	cd tests/upstream && npm ci --no-audit --no-fund --loglevel=error

# The benchmark's load generator (Debian's wrk) and its peer (npm's oidc-provider).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

peer:
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error

$(BIN)/gunicorn: $(BIN)/idp
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BIN)/gunicorn

install-bench: $(BIN)/gunicorn wrk peer

install-test: install browser node wrk peer

# Our provider beside node-oidc-provider under the same load, one table (bench/README.md).
# Options after BENCH_ARGS=, e.g. make bench BENCH_ARGS="--scale" or "--smoke".
bench: install-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# Installs everything the tests need and runs them (TEST_DATABASE_URL=postgresql+psycopg://…
# runs the same suite on PostgreSQL).
test: install-test
	$(BIN)/python -m pytest
