# The two commands: `make run` (set up and start the whole service) and `make test`.
.PHONY: run test setup lint bench clean
VENV ?= .venv

run: setup
	$(VENV)/bin/evidence run

setup:
	scripts/setup.sh

test:
	scripts/test.sh

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy

bench: setup
	$(VENV)/bin/python benchmarks/capture.py
