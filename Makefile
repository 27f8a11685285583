# Everyday commands. `make run` and `make test` work on a fresh clone with Python 3.11+ and make.

PYTHON ?= python3
# `make run PORT=8080`: BASE_URL, the demo provider's issuer and its registered URIs follow it.
PORT   ?= 5000
# `make run RELOAD=0` serves without reloading on code and template changes.
RELOAD ?= 1
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
STAMP  := $(VENV)/.installed

AXE    := .cache/axe/node_modules/axe-core/axe.min.js

.PHONY: help install run run-provider doctor migrate test browser-deps screenshots lint format check clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '.[dev,postgres,redis]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the app with its dev tools

migrate: $(STAMP)  ## Apply database migrations
	$(FLASK) db upgrade

# The dev server applies migrations itself, after checking that the port is free.
run: $(STAMP)  ## Serve the app with the demo provider at http://127.0.0.1:5000 (PORT=8080 to move it)
	@PORT=$(PORT) $(BIN)/python -m ops.dev_server --port $(PORT) $(if $(filter 0,$(RELOAD)),--no-reload)

doctor: $(STAMP)  ## Check this laptop before the first run: one line per check, with its fix
	@PORT=$(PORT) $(FLASK) doctor --workshop

run-provider: $(STAMP)  ## Serve the demo provider on its own at http://127.0.0.1:5001
	$(BIN)/flask --app demo_provider run --host 127.0.0.1 --port 5001

# In parallel, one worker per core (pytest-xdist); each end-to-end module (the PostgreSQL
# deployment, the browser tests) stays on one worker with its expensive fixtures (tests/conftest.py
# says how). Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: otherwise every worker
# compiles every module, and pytest rewrites every test file's asserts, on each run. (It goes to
# the usual __pycache__ folders, where pip already put the dependencies' own.)
# Temporary files (each test's SQLite database among them) go to memory where Linux offers it
# (/dev/shm): a commit then waits for no disk. pytest keeps the last three runs' files there.
TEST_TMPDIR := $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm)
test: $(STAMP) browser-deps tests/interop/node_modules/oidc-provider/package.json  ## Run the whole test suite
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n auto

# The accessibility audit's axe-core comes from the npm registry; without npm it is skipped.
# Browser tests also need Chromium (Debian: apt-get install chromium); without it they skip.
browser-deps: $(AXE)
$(AXE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4; \
	else echo "npm not found: the accessibility audit will be skipped"; fi

# The interop tests' OpenID provider (oidc-provider, pinned by tests/interop/package-lock.json)
# comes from the npm registry and runs on Node; without npm they are skipped. `touch`: npm may
# keep the package's own file dates, older than the lockfile, and reinstall at every run.
tests/interop/node_modules/oidc-provider/package.json: tests/interop/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --silent --no-audit --no-fund --prefix tests/interop && touch $@; \
	else echo "npm not found: the interop tests (oidc-provider) will be skipped"; fi

# The sign-in tests on a demo provider of their own: its consent page is then alice's first, as
# a newcomer sees it (one run's browser tests share a provider, which remembers what she allowed).
SIGN_IN_TESTS := tests/e2e/browser/test_sign_in_in_a_browser.py
screenshots: $(STAMP) browser-deps  ## Refresh the README's screenshots (needs Chromium)
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest $(SIGN_IN_TESTS)
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/e2e/browser --ignore=$(SIGN_IN_TESTS)

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test  ## Everything CI runs

clean:  ## Remove the virtual environment and caches (keeps instance/)
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache *.egg-info
