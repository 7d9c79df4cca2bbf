# The two commands a newcomer needs (README): `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test install install-test browser node

$(BIN)/idp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/idp

install: $(BIN)/idp

# Installs, migrates the database and serves the provider at http://localhost:5000.
run: install
	$(BIN)/idp db upgrade
	$(BIN)/gunicorn --workers 2 --threads 4 --bind 127.0.0.1:5000 wsgi:app

# Debian's chromium for the browser tests (never a downloaded one), and the npm clients.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

node:
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	cd tests/upstream && npm ci --no-audit --no-fund --loglevel=error

install-test: install browser node

# Installs everything the tests need and runs them (TEST_DATABASE_URL=postgresql+psycopg://…
# runs the same suite on PostgreSQL).
test: install-test
	$(BIN)/python -m pytest
