# latepay: `make demo` runs the whole job on the bundled sample; `make test` runs every check.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MPLBACKEND := Agg
export OMP_WAIT_POLICY := PASSIVE

.PHONY: install demo test test-fast lint bench clean

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/latepay demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Everything: ruff, then every test (the slow ones too: whole workloads, notebooks, a browser).
test: lint
	$(BIN)/pytest

# The quick run between edits (2 to 3 minutes on 2 cores): ruff, then the tests not marked slow.
test-fast: lint
	$(BIN)/pytest -m "not slow"

# Scale benchmark (default 1M invoices; N=10000000 for the 10M run); appends to benchmarks/RESULTS.md.
N ?= 1000000
bench: install
	$(BIN)/python benchmarks/run.py --invoices $(N)

clean:
	rm -rf data/warehouse.duckdb data/mlflow.db data/mlartifacts data/outputs
