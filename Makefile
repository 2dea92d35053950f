# The course module's commands. On a fresh machine:
#   make book    install the system programs (npm, chromium, bubblewrap) where allowed, create .venv,
#                install everything, build the HTML book and every exercise artifact
#   make test    lint, then run the whole test suite (builds first if needed)
#   make hub     a JupyterHub on localhost with the nbgrader course, for instructors to try
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
SYSTEM := $(VENV)/.system-packages
VENDOR := _assets/vendor/.versions
HTML := _build/html/index.html
PROXY := node_modules/.bin/configurable-http-proxy
WHEELHOUSE := _build/wheelhouse/.complete

EXERCISE ?= 04_momentum
SUBMISSIONS ?= submissions/$(EXERCISE)
OUT ?= grades/$(EXERCISE)
ENGINE ?= otter
JOBS ?= 2
PORT ?= 8000

.PHONY: book install artifacts executed html lint test serve grade bench hub wheelhouse clean

# The exercise artifacts and the chapters' execution (into the execution cache) run side by side; the HTML
# build then reads every chapter from the cache.
book: install
	@$(MAKE) --no-print-directory --output-sync=target -j2 artifacts executed
	@$(MAKE) --no-print-directory html

install: $(SYSTEM) $(INSTALLED) $(VENDOR) $(PROXY)

# npm, chromium and bubblewrap from the system's package manager (scripts/system_packages.sh says
# the command to type where it may not); checked again whenever the script changes.
$(SYSTEM): scripts/system_packages.sh
	bash scripts/system_packages.sh
	@mkdir -p $(VENV) && touch $@

$(INSTALLED): requirements.txt pyproject.toml | $(SYSTEM)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

$(VENDOR): scripts/vendor_js.sh | $(SYSTEM)
	bash scripts/vendor_js.sh

# JupyterHub's proxy, for `make hub` and tests/test_hub.py; without Node.js the book still builds.
$(PROXY): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: no configurable-http-proxy, so make hub fails and tests/test_hub.py skips"; fi

# Wheels of what Colab ships plus otter-grader: tests/test_colab.py installs from here, offline.
$(WHEELHOUSE): requirements.txt tests/colab_packages.txt | $(INSTALLED)
	$(PY) -m pip wheel --quiet -w $(@D) -c requirements.txt -r tests/colab_packages.txt otter-grader
	touch $@

wheelhouse: $(WHEELHOUSE)

# Student notebooks, the otter autograder zips and the nbgrader course, rebuilt only when what
# they are made of changes (the zips carry the grader and optimlab).
ARTIFACTS := _build/exercises/.built
ARTIFACT_SOURCES := $(wildcard exercises/*.ipynb) requirements.txt \
	$(shell find autograder optimlab \( -name '*.py' -o -name '*.yaml' \) 2>/dev/null)

artifacts: install $(ARTIFACTS)

$(ARTIFACTS): $(ARTIFACT_SOURCES) | $(INSTALLED)
	$(PY) -m autograder build
	touch $@

# The HTML book; chapters execute through Jupyter Book's cache, so a rebuild runs only what changed.
# The cache keys on a chapter's own code, so a change to optimlab (which the chapters import)
# clears it (and Sphinx's record of read pages): the pages then show what the library computes now.
define CLEAR_STALE_CACHE
hash=$$(find optimlab \( -name '*.py' -o -name '*.yaml' \) | sort | xargs cat | sha256sum | cut -c1-16); \
if [ "$$(cat _build/.optimlab-hash 2>/dev/null)" != "$$hash" ]; then \
  rm -rf _build/.jupyter_cache _build/.doctrees && mkdir -p _build && echo "$$hash" > _build/.optimlab-hash; fi
endef

# Every chapter not in the cache, executed side by side (one per core) into it.
executed: install
	@$(CLEAR_STALE_CACHE)
	$(PY) scripts/execute_chapters.py

html: install
	@$(CLEAR_STALE_CACHE)
	OMP_NUM_THREADS=1 $(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

# One style for the whole repository (settings in pyproject.toml).
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint book $(WHEELHOUSE)
	$(PY) -m pytest

serve: $(HTML)
	@echo "Serving the book at http://localhost:$(PORT)/ (Ctrl-C stops it)"
	$(PY) -m http.server --directory _build/html $(PORT)

$(HTML):
	$(MAKE) book

# Prints where grades.csv, the feedback pages and the class report (report.html, report.json) are.
grade: install
	$(PY) -m autograder grade $(EXERCISE) $(SUBMISSIONS) --out $(OUT) --engine $(ENGINE) --jobs $(JOBS)

# A JupyterHub on localhost with the course `make book` built; prints its address and user names.
hub: artifacts
	$(PY) scripts/hub.py

# Speed figures (sweeps, widgets, build, grading, optimizer steps); the last line printed is one JSON object.
bench: book
	$(PY) scripts/bench.py

clean:
	rm -rf _build .jupyter_cache
