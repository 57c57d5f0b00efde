# The two commands a newcomer needs (see README):
#   make demo   set up and run the demo on the embedded store
#   make test   set up and run the tests
PY ?= python3
# two workers on the two cores; Spark, PostgreSQL and browser tests included
PYTEST_ARGS ?= -n 2
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench

$(BIN)/puente: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(BIN)/puente

setup: $(BIN)/puente

demo: setup
	$(BIN)/puente demo $(DEMO_ARGS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check puente tests
	$(BIN)/mypy puente

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)
