# Two commands: `make up` runs the local stack, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up down venv system-deps lint typecheck test pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev,scale]"
	touch $(STAMP)

venv: $(STAMP)

up: venv
	$(BIN)/remediate up

down: venv
	$(BIN)/remediate down

system-deps:
	bash infra/install-system-deps.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/zizmor --offline --quiet .github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

typecheck: venv
	$(BIN)/mypy remediate flows tasks

pytest: venv system-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv
	$(BIN)/python bench/alert_to_issue.py

clean: down
	rm -rf .remediate
