# svdd: `make test` sets everything up and runs the tests; `make run` runs the main job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-slow lint run results bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0          # the CPU wheel; an unpinned torch pulls a CUDA build
	$(BIN)/pip install -q -e '.[dev,docking,fcd,pmo]'   # every extra: the tests use them all
	$(BIN)/pip install -q --no-deps PyTDC==1.1.15 guacamol==0.5.5  # reward=pmo, its tests' reference (pyproject.toml)
	touch $@

test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m slow

lint: install
	$(BIN)/ruff check svdd_cli scripts tests

run: install
	$(BIN)/svdd run domain=dna reward=enhancer

results: install                                # docs/results.md's DNA table (a few minutes on 2 cores)
	$(BIN)/python scripts/compare_samplers.py

bench: install                                  # svdd vs ancestral wall-time ratio
	$(BIN)/python scripts/bench_svdd_overhead.py

clean:
	rm -rf $(VENV) runs multirun outputs
