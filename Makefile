# Two commands on a fresh machine with Python 3.10+:
#   make lab    set up .venv with the notebook extras and start JupyterLab on notebooks/
#   make test   set up .venv with the test extras, lint (ruff check, ruff format --check) and run
#               the whole test suite
#   make docs   set up .venv with the docs extras and build the API reference and tutorials
#               into docs/_build/html (SPHINXOPTS="-W --keep-going" fails on any warning)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
SPHINXOPTS ?=

.PHONY: lab test docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	touch $@

# JupyterLab refuses to run as root (containers, CI machines) unless told it is deliberate
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(VENV)/.installed-notebooks
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html
	@echo "open docs/_build/html/index.html"

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis docs/_build docs/api docs/tutorials docs/jupyter_execute
