# credgraph: the two commands of the README, and the checks.
#   make run    set up, start the managed Neo4j, generate a sample, load, propagate, summarise
#   make test   the whole test suite against a real Neo4j that the tests start themselves
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= sample
SCALE  ?= 2000
SEED   ?= 7

.PHONY: setup run test check lint typecheck unit bench clean

$(BIN)/credgraph: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

setup: $(BIN)/credgraph
	$(BIN)/credgraph neo4j install

run: setup
	$(BIN)/credgraph demo --out $(SAMPLE) --scale $(SCALE) --seed $(SEED)

lint: $(BIN)/credgraph
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/credgraph
	$(BIN)/mypy

unit: $(BIN)/credgraph
	$(BIN)/pytest -m "not integration"

test: setup lint typecheck
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .credgraph-test
