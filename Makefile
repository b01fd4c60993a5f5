# The two commands for a fresh machine: `make demo` (the main job) and `make test`; each sets up .venv if missing.
.PHONY: setup test test-fast lint demo

setup:
	bash scripts/setup.sh

test:
	@[ -x .venv/bin/python ] || bash scripts/setup.sh
	.venv/bin/python -m pytest -q test

# The fast layers only (test/unit, test/component; about a minute): what to run while changing code.
test-fast:
	@[ -x .venv/bin/python ] || bash scripts/setup.sh
	.venv/bin/python -m pytest -q test -m "unit or component"

lint:
	.venv/bin/ruff check .

# The main job in one command: set up if needed, then drive -> replay -> seg_node -> recorder; results in out/demo/.
demo:
	@[ -x .venv/bin/python ] || bash scripts/setup.sh
	.venv/bin/python scripts/demo.py
