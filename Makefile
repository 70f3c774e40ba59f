# The two commands of the quick start, and the checks CI runs. Each target creates the
# virtual environment it needs (Python 3.11+), so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test check lint typecheck bench bench-quick messages clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed  ## run the all-in-one demo (embedded broker if none answers)
	$(BIN)/toolhut demo $(DEMO_ARGS)

test: $(VENV)/.dev-installed  ## run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy toolhut toolhut_cli firmware_bridge hut_gateway server labels

check: lint typecheck test

# Every benchmark against its raw parts, then docs/benchmarks.md from the results: long, for a
# quiet machine. QUICK=1 (or bench-quick) runs each for a few seconds and keeps no figure.
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

bench-quick: $(VENV)/.dev-installed  ## what CI runs: every bench, briefly, so none can rot
	$(BIN)/python bench/run.py --quick

# The message catalogues (toolhut/i18n): extract every marked text from the code and the
# templates, add the new ones to each language's .po, compile the .mo files. Translate the
# new entries in toolhut/i18n/locale/zh_CN/LC_MESSAGES/toolhut.po, then run it again.
messages: $(VENV)/.dev-installed
	$(BIN)/python tools/catalogue.py update

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
