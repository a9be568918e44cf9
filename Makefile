# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make demo   -> virtualenv from pinned requirements + the whole default workflow
#   make test   -> the same virtualenv + the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: setup demo test lint corpus readme-results bench bench-scan bench-preprocess bench-train bench-dag bench-predict clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest

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

clean:
	rm -rf results logs benchmarks resources/synthetic .snakemake
