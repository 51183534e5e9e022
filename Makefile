# The whole set-up is two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed

BENCH_STAMP   := $(VENV)/.bench-installed
MUTATE_STAMP  := $(VENV)/.mutate-installed

.PHONY: install install-dev run migrate test bench clean mutate

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

run: install  ## install, apply migrations, serve on the SQLite default
	$(PY) -m workflow_core_module serve

migrate: install
	$(PY) -m workflow_core_module migrate

test: install-dev  ## install dev requirements, check the layer rules, run every test
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

$(BENCH_STAMP): requirements.txt requirements-dev.txt requirements-bench.txt $(DEV_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@touch $@

bench: $(BENCH_STAMP)  ## run every benchmark; writes bench/results/*.json and docs/performance.md
	$(PY) -m bench $(BENCH_ARGS)

$(MUTATE_STAMP): requirements.txt requirements-dev.txt requirements-mutate.txt $(DEV_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-mutate.txt
	@touch $@

# Mutation testing with cosmic-ray over the scheduling rules, the claim, the loop's decisions and
# the API's scoping; prints the score per target and the survivors. Slow (hours for every
# target); runs in copies under MUTATE_DIR, never in this tree. Not part of `make test`.
# MUTATE_ARGS: target names (python -m tests.mutation --list), -j 2, --resume, --fail-under 90.
mutate: $(MUTATE_STAMP)  ## mutation score of the rules and the claim (slow)
	nice -n 19 $(PY) -m tests.mutation $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
