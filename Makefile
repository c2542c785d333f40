# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := $(VENV)/axe/axe.min.js

.PHONY: demo test install lint typecheck bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The benchmark extra (Apprise, aiohttp, py-spy) on top of the test install; only `make bench` needs it.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# axe-core (the accessibility checker the browser tests run inside each page), from the npm registry.
$(AXE):
	mkdir -p $(VENV)/axe
	cd $(VENV)/axe && npm pack --silent axe-core@4.14.1 >/dev/null && tar -xzf axe-core-4.14.1.tgz --strip-components=1 package/axe.min.js

demo: $(STAMP)
	HUB_DATA_DIR=$${HUB_DATA_DIR:-var} $(BIN)/hub demo

# Two at a time: the tests in-process, then the end-to-end ones (real Celery workers; each pytest
# worker has its own PostgreSQL schema and Redis database, tests/support/services.py). worksteal:
# the one long test (the 500-staff drill) does not leave the other worker idle at the end.
# Both phases always run; pytest's 5 ("no tests collected", e.g. PYTEST_ARGS naming no slow test)
# is not a failure.
test: $(STAMP) $(AXE)
	@ok=0; \
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not slow" $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || ok=$$rc; }; \
	$(BIN)/python -m pytest -n 2 --dist worksteal -m slow $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || ok=$$rc; }; \
	exit $$ok

lint: $(STAMP)
	$(BIN)/ruff check hub channels triggers sandbox tests benchmarks
	$(BIN)/mypy hub channels triggers sandbox benchmarks

# The console's screenshots in docs/screenshots (docs/console.md shows them), taken by the
# real-Chromium tests on the embedded default.
screenshots: $(STAMP) $(AXE)
	rm -rf docs/screenshots && mkdir -p docs/screenshots
	HUB_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/web -k "browser and sqlite"

# Figures for docs/operations.md#benchmarks (needs PostgreSQL and Redis on 127.0.0.1).
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/fanout.py --recipients 10000
	$(BIN)/python benchmarks/peers.py --sizes 10000

clean:
	rm -rf var .pytest_cache
