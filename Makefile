# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make demo   -> virtualenv from pinned requirements + the whole default workflow
#   make test   -> the same virtualenv + the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: setup demo test test-fast lint corpus readme-results bench bench-scan bench-preprocess bench-train bench-dag bench-predict bench-volumes clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/snakemake --cores $(CORES)

# Tests run in TEST_WORKERS pytest-xdist workers, a module at a time, longest first (the order
# is tests/conftest.py's); the shared tiny run is built once for all. TEST_WORKERS=0: in-process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# make test: every test (tests/unit and tests/workflow, the Snakemake runs included).
test: setup
	$(PYTEST)

# make test-fast: the unit tier only (tests/unit: no Snakemake run, no real training), in about
# two minutes; the workflow tier is tests/workflow (marked slow). See tests/README.md.
test-fast: setup
	$(PYTEST) tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

corpus: setup
	$(BIN)/python tests/realcorpus/build.py

# Copy the headline tables of the last run (results/report/summary.md) into README.md.
readme-results: setup
	$(BIN)/python -m mriseq.report.summary README.md results/report/summary.md

bench: bench-scan bench-preprocess bench-train bench-dag bench-predict

bench-scan: setup
	$(BIN)/python tests/benchmarks/bench_scan.py

bench-preprocess: setup
	$(BIN)/python tests/benchmarks/bench_preprocess.py

bench-train: setup
	$(BIN)/python tests/benchmarks/bench_train.py

bench-dag: setup
	$(BIN)/python tests/benchmarks/bench_dag.py

# Predict mode end to end on a generated 2,000-series archive, with the models of a finished demo.
bench-predict: setup
	$(BIN)/python tests/benchmarks/bench_predict.py

# Volumes per series of a generated archive in the vendors' layouts, before and after the check
# that keeps one acquisition's repeated passes together, beside what a reader names.
bench-volumes: setup
	$(BIN)/python tests/benchmarks/bench_volumes.py

clean:
	rm -rf results logs benchmarks resources/synthetic .snakemake
