# Two commands do all set-up: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKLOAD ?= alexnet

.PHONY: run test lint docs docs-serve docs-check docs-regen bench bench-all bench-real bench-peers bench-sweep clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# .ci/constraints.txt pins what the ranges of setup.cfg resolve to on this project's machines.
CONSTRAINTS := -c .ci/constraints.txt

$(VENV)/.installed: $(BIN)/python setup.cfg setup.py pyproject.toml
	$(BIN)/pip install -q -e . $(CONSTRAINTS)
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg setup.py pyproject.toml .ci/constraints.txt
	$(BIN)/pip install -q -e '.[test]' $(CONSTRAINTS)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/scnn-sim run $(WORKLOAD)

# Lint, the test suite, then the install check: the wheel, installed without extras into a
# fresh venv, runs workloads / run / sweep example / plot from outside the checkout.
test: $(VENV)/.installed-test
	$(BIN)/ruff check scnn_sim tests benchmarks docs
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	PY=$(PY) BUILD_PY=$(BIN)/python .ci/wheel-check

# The manual (mkdocs.yml, docs/): `make docs` builds it into site/ (no broken link or
# reference allowed), `make docs-serve` serves it on http://127.0.0.1:8000.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Every command output, table and figure of README.md and docs/ is made by running the code:
# docs-regen refills them (after a change to what a command prints), docs-check fails naming
# the page and block that differ (all pages, slow ones included: a few minutes).
docs-regen: $(VENV)/.installed-test
	$(BIN)/python docs/regen.py

docs-check: $(VENV)/.installed-test
	$(BIN)/python docs/regen.py --check

# Speed and memory of `scnn-sim run` (benchmarks/results/bench_run.json).
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_run.py

# Every measurement the docs include from benchmarks/results/ (about 15 minutes on 2 cores).
bench-all: bench
	$(BIN)/python benchmarks/storage_table.py
	$(BIN)/python benchmarks/scnn_reproduction.py
	$(BIN)/python benchmarks/granularity_study.py

# SCALE-Sim 3.0 (PyPI, needs numpy<2) in its own venv, timed against `scnn-sim run` on the same
# dense AlexNet conv layers, alternately (benchmarks/bench_peers.py); then the sweep's scaling
# with local and dask workers (benchmarks/bench_sweep_scaling.py).
PEERS_VENV ?= .venv-peers
PEER_ROUNDS ?= 3

$(PEERS_VENV)/.installed:
	$(PY) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install -q --upgrade pip
	$(PEERS_VENV)/bin/pip install -q 'scalesim==3.0.0' 'numpy<2'
	touch $@

bench-peers: $(VENV)/.installed $(PEERS_VENV)/.installed
	$(BIN)/python benchmarks/bench_peers.py --peer-python $(PEERS_VENV)/bin/python --rounds $(PEER_ROUNDS)

bench-sweep: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_sweep_scaling.py

# The real-data study (issue 5): needs Debian's dataset-fashion-mnist (root) and torch.
bench-real: $(BIN)/python
	dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || \
		(apt-get update -q && apt-get install -y -q dataset-fashion-mnist)
	$(BIN)/pip install -q -e '.[torch]' $(CONSTRAINTS)
	$(BIN)/python benchmarks/real_study.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) build dist site *.egg-info
