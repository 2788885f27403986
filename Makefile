# One command to set up and run the demo, one to run the tests. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)

# Demo scale: a realistic month, 5 companies x 2,000 transactions per company-day.
DEMO_START ?= 2024-07-01
DEMO_DAYS  ?= 31
DEMO_TXNS  ?= 2000

.PHONY: demo install test lint format dev db-stop clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, this is " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## demo: set everything up, then migrate, seed a month, run the pipeline and the legacy function, compare
demo: install
	$(BIN)/journal-pipeline demo --start $(DEMO_START) --days $(DEMO_DAYS) --txns-per-day $(DEMO_TXNS)

## test: lint, validate the Dagster definitions, run the whole test suite
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(CURDIR) && DAGSTER_HOME= $(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## dev: the Dagster UI on the same data as the demo (http://127.0.0.1:3000)
dev: install
	mkdir -p .journal/dagster && test -f .journal/dagster/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > .journal/dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.journal/dagster $(BIN)/dagster dev -w workspace.yaml

db-stop: install
	$(BIN)/journal-pipeline db stop

clean: db-stop
	rm -rf .journal
