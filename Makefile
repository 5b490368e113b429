# Two commands on a fresh machine (Python 3.11+, git, make; no ffmpeg, no uv needed):
#   make demo    sets up .venv and runs the offline demo
#   make test    sets up .venv and runs the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test stack chaos lint format typecheck check lock bench screenshots clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "reskin needs Python 3.11 or newer: run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# Bytecode compiled once here: a machine with PYTHONDONTWRITEBYTECODE set (CI images often
	# do) would otherwise compile every module from source in every process, about 1.6 s of
	# CPU for each reskin process (docs/testing.md).
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

demo: install
	$(BIN)/reskin demo

# The suite on TEST_WORKERS xdist workers (docs/testing.md); the tests mostly wait on servers and
# ffmpeg, so 3 workers on 2 cores (measured: 6 min 14 s against 7 min 27 s with 4, docs/testing.md).
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 3
# PYTHONDONTWRITEBYTECODE is lifted for the suite so reskin's own modules are compiled once,
# not in each of the hundred-odd processes the tests start.
# The tests of the `make up` stack (tests/deployments: a Prefect server, two workers, a process
# per flow run) are `make stack`, and its chaos batch `make chaos`: stages of their own in CI,
# after `make test`, which keeps within its 7 minutes on 2 cores without them (docs/testing.md).
TEST_MARKS ?= not chaos and not stack
test: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n $(TEST_WORKERS) -m "$(TEST_MARKS)" $(TEST_ARGS)

stack: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -m "stack and not chaos" tests/deployments

chaos: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -m chaos tests/deployments/test_chaos.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# Deployments (docs/deployments.md). `make up`: a Prefect server on 127.0.0.1:4200 (unless
# PREFECT_API_URL names one), the process work pool `reskin`, `prefect deploy --all` and a
# worker; Ctrl-C stops them all. UP_ARGS passes options, e.g. UP_ARGS="--workers 2 --limit 4".
# `make serve`: both deployments served from one process, against the server in PREFECT_API_URL.
.PHONY: up serve
up: install
	$(BIN)/python -m deployments.up $(UP_ARGS)

serve: install
	$(BIN)/python -m deployments.serve $(SERVE_ARGS)

# Refresh the README's screenshots of the Prefect UI (tests/ui; needs Debian's chromium).
screenshots: install
	SCREENSHOT_DIR=docs/images $(BIN)/pytest tests/ui tests/deployments/test_ui_form.py

# Benchmarks (bench/README.md; not tests): each writes bench/results/<name>.md. All of them take
# about an hour on 2 cores; BENCH=poll_policy (or overhead, orchestration, in_flight, s3_memory)
# runs one.
BENCH ?= poll_policy overhead orchestration s3_memory in_flight
bench: install
	@for name in $(BENCH); do echo "== bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; done

# Re-resolve the pinned, hashed environment after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --universal \
		--python-version 3.11 --generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
