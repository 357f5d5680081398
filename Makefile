# Two commands: `make up` runs the local stack, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test files run in parallel processes, each with its own servers; most tests wait on them.
PYTEST_WORKERS ?= 4

.PHONY: up down venv system-deps lint lint-infra typecheck test pytest bench clean

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
	$(MAKE) lint-infra

# The deployment files, offline: Compose against the Compose specification, the Helm values
# against the charts' values.schema.json (vendored in infra/schemas), the manifests against
# Kubernetes' own schemas (kubernetes-validate), the container scripts by `sh -n`.
lint-infra: venv
	$(BIN)/check-jsonschema --schemafile infra/schemas/compose-spec.json infra/compose/compose.yaml
	$(BIN)/check-jsonschema --schemafile infra/schemas/prefect-server.values.schema.json \
		infra/helm/prefect-server.values.yaml
	$(BIN)/check-jsonschema --schemafile infra/schemas/prefect-worker.values.schema.json \
		infra/helm/prefect-worker.values.yaml
	$(BIN)/kubernetes-validate --strict --quiet -k 1.30.0 infra/kubernetes/*.yaml
	for script in infra/docker/*.sh; do sh -n "$$script" || exit 1; done

typecheck: venv
	$(BIN)/mypy remediate flows tasks

pytest: venv system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

test: lint typecheck pytest

bench: venv
	$(BIN)/python bench/alert_to_issue.py

clean: down
	rm -rf .remediate
