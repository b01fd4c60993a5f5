# The two commands for a fresh machine: `make setup` then `make test`.
.PHONY: setup test lint

setup:
	bash scripts/setup.sh

test:
	.venv/bin/python -m pytest -q test

lint:
	.venv/bin/ruff check .
