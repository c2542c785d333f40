# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HUB_DATA_DIR=$${HUB_DATA_DIR:-var} $(BIN)/hub demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hub channels triggers sandbox tests benchmarks
	$(BIN)/mypy hub channels triggers sandbox

bench: $(STAMP)
	$(BIN)/python benchmarks/fanout.py --recipients 10000

clean:
	rm -rf var .pytest_cache
