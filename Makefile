# Two commands do everything on a fresh machine:
#   make demo   the farm publishes real posts through headless Chromium to the sandbox
#   make test   the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

# Chromium refuses to start its sandbox as root. Run as root (this machine's
# demo and tests, CI's container), the farm's browsers run without it;
# anyone else keeps it.
ifeq ($(shell id -u),0)
export FARM_CHROMIUM_NO_SANDBOX ?= true
endif

# The demo and `make serve` run the embedded default on this machine: DEBUG on,
# which lets the farm generate its secrets into ./var (a deployment sets them),
# and the sandbox platform mounted for the farm to publish to.
demo serve: export DJANGO_DEBUG ?= true
demo serve: export FARM_SANDBOX_ENABLED ?= true

.PHONY: setup browsers demo test test-restarts lint serve bench clean

setup: $(STAMP) browsers

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

browsers:
	@bash scripts/ensure-chromium

demo: setup
	$(BIN)/python manage.py demo

# The reliability tests break a running farm (kills, load): they run on their
# own, one at a time, after the rest of the suite. Those that restart PostgreSQL
# or Redis run apart (`make test-restarts`, which CI runs too): they need a
# command that restarts each service, which only the machine's owner can give.
LINT ?= lint
test: setup $(LINT)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not reliability" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m "reliability and not restarts" $(PYTEST_ARGS)

test-restarts: setup
	$(BIN)/python -m pytest -m restarts $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .

# The console, API and workers, on the embedded default unless configured.
serve: setup
	$(BIN)/python manage.py runfarm

bench: setup
	$(BIN)/python -m bench.dispatch --posts 10000 --accounts 500
	$(BIN)/python -m bench.uploads --posts 60 --browsers 3
	$(BIN)/python -m bench.soak --minutes 5

clean:
	rm -rf var .pytest_cache .ruff_cache
