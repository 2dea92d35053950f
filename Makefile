# The course module's commands. On a fresh machine:
#   make book    create .venv, install everything, build the HTML book and every exercise artifact
#   make test    run the whole test suite (builds first if needed)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
VENDOR := _assets/vendor/.versions
HTML := _build/html/index.html

EXERCISE ?= 04_momentum
SUBMISSIONS ?= submissions/$(EXERCISE)
OUT ?= grades/$(EXERCISE)
ENGINE ?= otter
JOBS ?= 2
PORT ?= 8000

.PHONY: book install artifacts html test serve grade bench clean

book: artifacts html

install: $(INSTALLED) $(VENDOR)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

$(VENDOR): scripts/vendor_js.sh
	bash scripts/vendor_js.sh

# Student notebooks, the otter autograder zips and the nbgrader course.
artifacts: install
	$(PY) -m autograder build

# The HTML book; chapters execute through Jupyter Book's cache, so a rebuild runs only what changed.
html: install
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: book
	$(PY) -m pytest

serve: $(HTML)
	@echo "Serving the book at http://localhost:$(PORT)/ (Ctrl-C stops it)"
	$(PY) -m http.server --directory _build/html $(PORT)

$(HTML):
	$(MAKE) book

grade: install
	$(PY) -m autograder grade $(EXERCISE) $(SUBMISSIONS) --out $(OUT) --engine $(ENGINE) --jobs $(JOBS)

# Speed figures (sweeps, widgets, build, grading, optimizer steps); the last line printed is one JSON object.
bench: book
	$(PY) scripts/bench.py

clean:
	rm -rf _build .jupyter_cache
