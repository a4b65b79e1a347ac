# credgraph: the two commands of the README, and the checks.
#   make run    set up, start the managed Neo4j, generate a sample, load, propagate, summarise
#   make test   the whole test suite against a real Neo4j that the tests start themselves
#   make mutate mutation testing of the engine and the validator (docs/testing.md)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= sample
SCALE  ?= 2000
SEED   ?= 7

.PHONY: setup run test check lint typecheck unit bench clean mutate

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

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml: which files, which
# unit tests). Starts afresh in mutants/ (git-ignored), niced; MUTANTS='glob' limits
# the run, e.g. MUTANTS='credgraph.graph.engine.debtrank.*'. Then `mutmut results`
# lists the survivors and `mutmut show NAME` shows one (docs/testing.md).
MUTATE_JOBS ?= 2
MUTANTS ?=
mutate: $(BIN)/credgraph
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS)
	$(BIN)/mutmut results

bench: setup
	$(BIN)/python benchmarks/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .credgraph-test mutants
