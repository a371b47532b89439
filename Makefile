# Two commands do all set-up: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKLOAD ?= alexnet

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/scnn-sim run $(WORKLOAD)

test: $(VENV)/.installed-test
	$(BIN)/ruff check scnn_sim tests benchmarks
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) build *.egg-info
