# lrbook: two commands.
#   make test   unit tests, then every chapter as a test (nbval, LRBOOK_SCALE=ci)
#   make book   the HTML book in _build/html (LRBOOK_SCALE=book unless set)
# Both create .venv on first use and install the pinned toolchain once (stamp file).
# Extra: `make browser-test` checks the built pages in headless Chromium
# (needs /usr/bin/chromium: `apt-get install chromium`), `make clean`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lrbook-installed
BROWSER_STAMP := $(VENV)/.lrbook-browser-installed

# torch first and pinned, so that no other requirement pulls a different (CUDA) build.
TORCH := torch==2.13.0
TOOLCHAIN := \
	jupyter-book==1.0.4.post1 \
	sphinxcontrib-bibtex==2.7.0 \
	sphinx-exercise==1.2.1 \
	jupytext==1.19.6 \
	nbval==0.11.0 \
	ipykernel==7.4.0 \
	pytest==9.2.0 \
	hypothesis==6.170.17 \
	distributed==2026.8.0 \
	build==1.6.1 \
	ruff==0.17.6 \
	mypy==2.4.1
BROWSER := playwright==1.65.2

MATHJAX_DIR := book/_static_assets/mathjax
BUILD := _build
JB_FLAGS := --builder html -W --keep-going

.PHONY: test book browser-test lint install clean repo

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet $(TORCH) $(TOOLCHAIN)
	$(BIN)/python -m pip install --quiet $(TORCH) -e '.[test,distributed,book]'
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest

# MathJax 3 from the npm registry, served by the site itself (no CDN at read time).
$(MATHJAX_DIR)/tex-svg.js: package.json
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	rm -rf $(MATHJAX_DIR)
	cp -r node_modules/mathjax/es5 $(MATHJAX_DIR)
	touch $@

# jupyter-cache keys executed notebooks on their code only: clear the cache (and
# the Sphinx environment) when the scale or the lrbook sources change.
book: $(STAMP) $(MATHJAX_DIR)/tex-svg.js
	@scale="$${LRBOOK_SCALE:-book}"; \
	key="$$scale $$(find lrbook -type f \( -name '*.py' -o -name '*.mplstyle' \) | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)"; \
	if [ "$$(cat $(BUILD)/.lrbook-build-key 2>/dev/null || true)" != "$$key" ]; then \
		echo "book: scale or lrbook changed ($$key): executing every chapter afresh"; \
		rm -rf $(BUILD)/html $(BUILD)/.doctrees $(BUILD)/.jupyter_cache $(BUILD)/jupyter_execute $(BUILD)/screenshots; \
	fi; \
	mkdir -p $(BUILD); echo "$$key" > $(BUILD)/.lrbook-build-key; \
	echo "LRBOOK_SCALE=$$scale $(BIN)/jupyter-book build . $(JB_FLAGS)"; \
	SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(date +%s)}" LRBOOK_SCALE="$$scale" \
		$(BIN)/jupyter-book build . $(JB_FLAGS)

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(BROWSER)
	touch $@

# Headless Chromium over the built book (run `make book` first).
browser-test: $(BROWSER_STAMP)
	LRBOOK_BROWSER_REQUIRED=1 $(BIN)/python -m pytest tests/browser

# Static checks (configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check lrbook tests benchmarks
	$(BIN)/mypy

# The repository URL of a fork: `make repo URL=https://github.com/OWNER/NAME` rewrites
# _config.yml, every Colab install cell, the README's badge and Pages link.
repo:
	@test -n "$(URL)" || { echo "usage: make repo URL=https://github.com/OWNER/NAME" >&2; exit 2; }
	$(PYTHON) .ci/set_repo.py "$(URL)"

clean:
	rm -rf $(BUILD) node_modules $(MATHJAX_DIR)
