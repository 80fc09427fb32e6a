# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv when it is missing. torch is pinned first so that pip takes the
# CPU build from local disk instead of pulling a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
CONTRIB := $(wildcard plugins_contrib/*/pyproject.toml)
CONTRIB_SOURCES := $(shell find plugins_contrib -type f \( -name '*.py' -o -name 'pyproject.toml' \) -not -path '*/build/*' 2>/dev/null)
DEMO_OUT ?= demo_out
# test (seconds), small or default (the README's run, about 3 minutes on 2 cores).
DEMO_SIZE ?= default

.PHONY: demo test lint venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(CONTRIB_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,dask]"
	# Contrib plugins are installed as a lab would install them: plain (non-editable) pip installs.
	for p in $(dir $(CONTRIB)); do $(BIN)/python -m pip install -q --no-deps --force-reinstall "./$$p" || exit 1; done
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sleepfm demo --out $(DEMO_OUT) --size $(DEMO_SIZE)

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
