# The two commands a newcomer needs (see README):
#   make demo   set up and run the demo on the embedded store
#   make test   set up and run the fast tests (1034 tests, 6–13 min on 2 cores; bench/results/test_tiers.md)
# and for CI and before a release:
#   make test-all   the fast tests, then the slow ones (real Spark, browser, large inputs, long end-to-end runs)
PY ?= python3
# two workers on the two cores; PostgreSQL, Spark and browser tests included when those are present
PYTEST_ARGS ?= -n 2
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-all test-slow lint bench

$(BIN)/puente: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(BIN)/puente

setup: $(BIN)/puente

demo: setup
	$(BIN)/puente demo $(DEMO_ARGS)

# the fast tier: every test not marked slow
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow"

# the slow tier only
test-slow: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m slow

# the full tier: both (each test runs once)
test-all: test test-slow

# ruff, mypy --strict, and the import layers (pyproject.toml [tool.importlinter]: no upward imports, no cycles)
lint: setup
	$(BIN)/ruff check puente tests bench
	$(BIN)/mypy puente
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)
