# The two commands a newcomer needs (README): `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test install install-test browser node wrk peer redis-ha apache install-bench bench messages translations

$(BIN)/idp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/idp

install: $(BIN)/idp

# Translations (Flask-Babel). After changing or adding a string: `make messages` extracts
# every _() of idp/ and templates/ into idp/translations/messages.pot and merges it into
# each catalogue; translate the new entries of idp/translations/ja/LC_MESSAGES/messages.po;
# `make translations` compiles them. The compiled .mo files are committed (shipped), and
# tests/unit/test_catalogues.py fails when a catalogue is missing a string, has an empty
# Japanese entry, or its .mo is stale.
CATALOGUES = idp/translations
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --ignore-dirs=".* __pycache__" --add-location=file --sort-output --no-wrap \
		--project=idp --copyright-holder=idp -o $(CATALOGUES)/messages.pot idp templates
	$(BIN)/pybabel -q update -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) --no-wrap --ignore-obsolete --no-fuzzy-matching

translations: install
	$(BIN)/pybabel -q compile --statistics -d $(CATALOGUES)

# Installs, migrates the database and serves the provider at http://localhost:$(PORT) with
# granian (measured cheaper per request than gunicorn: bench/README.md); PORT=5001 make run
# moves it, and IDP_ISSUER follows the port unless it is set.
PORT ?= 5000
run: export IDP_ISSUER ?= http://localhost:$(PORT)
run: install
	@$(BIN)/python -c "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
	  s.bind(('127.0.0.1', $(PORT)))" 2>/dev/null || { \
	  echo "make run: port $(PORT) is already in use (another idp, or another program)."; \
	  echo "          Stop it, or choose another port: make run PORT=5001"; exit 1; }
	$(BIN)/idp db upgrade
	@echo "idp: serving $(IDP_ISSUER)"
	$(BIN)/granian --interface wsgi --host 127.0.0.1 --port $(PORT) --workers 2 --blocking-threads 4 \
		--no-ws --respawn-failed-workers wsgi:app

# Debian's chromium for the browser tests (never a downloaded one) with a Japanese font, and
# the npm clients (the tests' own, and those of the Node recipes in docs/recipes/).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@fc-list :lang=ja | grep -q . || { apt-get update -qq && apt-get install -y -qq fonts-ipafont-gothic >/dev/null; }

node:
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	cd tests/upstream && npm ci --no-audit --no-fund --loglevel=error
	cd docs/recipes/node_openid_client && npm ci --no-audit --no-fund --loglevel=error
	cd docs/recipes/jose_api && npm ci --no-audit --no-fund --loglevel=error
	cd examples/spa && npm ci --no-audit --no-fund --loglevel=error

# Debian's redis-sentinel (and redis-server, redis-cli) for the Sentinel and Cluster tests.
redis-ha:
	@command -v redis-sentinel >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-sentinel >/dev/null; }

# Real Apache with mod_auth_openidc for the recipe test (docs/recipes/mod_auth_openidc.conf).
apache:
	@test -e /usr/lib/apache2/modules/mod_auth_openidc.so || { apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends apache2 libapache2-mod-auth-openidc >/dev/null; }

# The benchmark's load generator (Debian's wrk) and its peer (npm's oidc-provider).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

peer:
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error

$(BIN)/gunicorn: $(BIN)/idp
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BIN)/gunicorn

install-bench: $(BIN)/gunicorn wrk peer

install-test: install browser node wrk peer redis-ha apache

# Our provider beside node-oidc-provider under the same load, one table (bench/README.md).
# Options after BENCH_ARGS=, e.g. make bench BENCH_ARGS="--scale" or "--smoke".
bench: install-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# Installs everything the tests need and runs them (TEST_DATABASE_URL=postgresql+psycopg://…
# runs the same suite on PostgreSQL).
test: install-test
	$(BIN)/python -m pytest
