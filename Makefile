# The two commands: `make run` (set up and start the whole service) and `make test`.
.PHONY: run test setup lint bench lock clean
VENV ?= .venv

run: setup
	$(VENV)/bin/evidence run

setup:
	scripts/setup.sh

test:
	scripts/test.sh $(ARGS)

# Re-resolve every Python dependency into requirements/*.lock (choices: requirements/pins.in).
lock:
	UPGRADE=$(UPGRADE) scripts/lock.sh

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports

bench: setup
	$(VENV)/bin/python benchmarks/capture.py
