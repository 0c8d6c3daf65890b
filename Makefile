# The README's two commands: `make run` and `make test`. Everything else is a helper.
VENV   ?= .venv
PY      = $(VENV)/bin/python
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_VERBOSITY = error
export TOKENIZERS_PARALLELISM = false

.PHONY: install browser run test lint format screenshots bench bench-ingest bench-scale bench-real bench-stores bench-sentences load eval eval-scifact eval-pdf eval-html clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build from local disk; any other torch spec may pull GBs of CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/citeqa ingest seeds/
	$(BIN)/citeqa serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	MYPYPATH=scripts $(BIN)/mypy scripts/*.py  # scripts import each other by name
	$(BIN)/lint-imports --no-cache

# Debian's chromium for the web page tests: Playwright drives it and downloads no browser.
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: lint browser
	$(BIN)/pytest

# The web page's three views, from the browser tests, into docs/ (shown in the README).
screenshots: install browser
	SCREENSHOTS=docs $(BIN)/pytest tests/service/test_webpage.py -k screenshots --no-cov -q

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Seed questions over HTTP, citeqa beside txtai (its own venv, bench/.txtai-venv), and the
# in-process stage breakdown -> bench/results/bench.json and latency.png
bench: install
	$(PY) scripts/bench.py

# SciFact's corpus through `citeqa ingest`: wall time, passages/s, peak RSS, bytes on disk
# by part, nDCG@10 -> bench/results/ingest.{json,png}. LIMIT=300: the first 300 documents.
bench-ingest: install
	$(PY) scripts/bench_ingest.py --scifact $(SCIFACT) $(if $(LIMIT),--limit $(LIMIT))

# Dense search (exact flat vs the engine's pick) and BM25 at 10k, 100k and 1M synthetic
# passages, no model -> bench/results/scale.{json,png}. SIZES=10000,100000 for a quick run.
bench-scale: install
	$(PY) scripts/bench_scale.py $(if $(SIZES),--sizes $(SIZES))
	$(PY) scripts/bench_real.py

# The real-text part of bench-scale alone: Debian's HTML manuals of Linux, Python,
# PostgreSQL and Git through `citeqa ingest`, then hybrid questions in process by stage
# -> bench/results/real.{json,png}. MANUALS=git for one manual (a quick run).
bench-real: install
	$(PY) scripts/bench_real.py $(if $(MANUALS),--manuals $(MANUALS))

# Local store vs Milvus Lite in one process: ingest (wall, passages/s, storage-only s) and the
# seed questions interleaved -> bench/results/stores.{json,png}. LIMIT=300: SciFact's first 300.
bench-stores: install
	$(PY) scripts/bench_stores.py $(if $(LIMIT),--scifact $(SCIFACT) --limit $(LIMIT))

# Sentence splitting by text length, one line vs 500-char lines -> bench/results/sentences.*
bench-sentences: install
	$(PY) scripts/bench_sentences.py $(if $(SIZES),--sizes $(SIZES))

# 8 clients, 60 s, 90% questions and 10% writes against a real server -> bench/results/load.*
load: install
	$(PY) scripts/load.py

# Seed questions, all three modes -> eval/reports/seed.{md,json,png}
eval: install
	$(BIN)/citeqa eval

# SciFact test split with the default settings, then as published (whole documents)
SCIFACT ?= ../shared/bench/scifact
eval-scifact: install
	$(BIN)/citeqa eval --beir $(SCIFACT) --split test
	$(BIN)/citeqa eval --beir $(SCIFACT) --split test --whole-docs --title --fusion rrf \
		--sentence-weight 0 --name scifact-test-published-setup

# Is a sentence from page N cited as page N? Real public PDFs (eval/pdfs)
eval-pdf: install
	$(PY) -m eval.pdf_pages

# Web pages: is what citeqa indexes the article? trafilatura's evaluation set (990 pages),
# beside trafilatura's extract() -> eval/reports/html-extraction.{md,json,png}. Get it with
# git clone --depth 1 https://github.com/adbar/trafilatura data/cache/trafilatura
TRAFILATURA ?= data/cache/trafilatura
eval-html: install
	$(PY) -m eval.html_extraction $(TRAFILATURA)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage
