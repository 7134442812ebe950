# The two commands a new user types (README): `make demo` and `make test`.
# Both set everything up from a bare clone: a local uv (through pip), then the locked environment.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# The real-browser test of the Dagster UI drives Debian's chromium (a browser Playwright downloads
# itself cannot run here); installed once, as root or through sudo.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint format sandbox setup clean postgresql

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/capsule-xero demo

sandbox: setup
	$(VENV)/bin/capsule-xero sandbox

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

# The deploy tests (tests/deploy/) prove `capsule-xero deploy`'s PostgreSQL storage and run queue
# against a real server, started by the tests themselves from Debian's binaries
# (/usr/lib/postgresql/<major>/bin, whichever major Debian ships); installed once when missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

test: lint $(CHROMIUM) postgresql
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .ruff_cache
