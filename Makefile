# The front door: every command a user or CI needs.
SHELL := bash
UV ?= $(shell scripts/ensure-uv.sh)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen

.DEFAULT_GOAL := help
.PHONY: help install up up-pubsub demo test test-setup test-unit test-integration test-e2e test-faults lint fmt typecheck asyncapi bench bench-quick bench-compare servers tools clean

help: ## Show the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-21s %s\n", $$1, $$2}'

install: ## Create .venv with every package (uv, locked versions)
	$(UV) sync --frozen --all-packages

up: install ## Run the five services (starts private Postgres/Redis if none answer); Ctrl-C stops
	$(RUN) sagactl up

up-pubsub: install ## The same over plain Redis Pub/Sub
	$(RUN) sagactl up --transport pubsub

# While `make port-forward` runs, the demo goes to the cluster: it signs with the cluster's
# dev key, copied fresh (`make cluster-key`); else with the one `make up` made (.local/auth/).
demo: ## Book, pay and watch the saga (needs `make up` running, or `make deploy port-forward`)
	@pid=$(FORWARDS)/booking.pid; \
	if [ -z "$${SAGA_DEV_KEY_FILE:-}" ] && [ -e $$pid ] && kill -0 "$$(cat $$pid)" 2>/dev/null; then \
		echo "make port-forward runs: the demo goes to the cluster and signs with its dev key"; \
		( $(FETCH_CLUSTER_KEY) ) || exit 1; \
		export SAGA_DEV_KEY_FILE=$(CLUSTER_KEY); \
	fi; \
	$(RUN) sagactl demo

test: test-setup install lint typecheck ## Lint, type-check and run every test (as root: it installs what they need)
	$(RUN) pytest

# tests/images builds and runs containers as root; the tools and servers come from Debian
# packages. Quiet when everything is there; otherwise one message saying what to do.
test-setup: ## What `make test` needs: root, the test tools and servers (installed/started if missing)
	@[ "$$(id -u)" = 0 ] || { echo "make test builds and runs the images as root (tests/images):" \
		"run it as root (sudo --preserve-env env \"PATH=\$$PATH\" make test);" \
		"make test-unit, test-integration and test-e2e need no root" >&2; exit 1; }
	@scripts/ensure-tools.sh --quiet
	@scripts/ensure-servers.sh --quiet

test-unit: install ## Only the fast unit tests
	$(RUN) pytest -m unit

test-integration: install ## Only the integration tests (real Postgres and Redis)
	$(RUN) pytest -m integration

test-e2e: install ## Only the end-to-end tests (five real processes)
	$(RUN) pytest -m e2e

# FAULTS_ARGS: e.g. --transport streams, --sagas 30, --only postgres (python -m sagabench.faults --help).
test-faults: install ## The fault suite: 180 sagas per fault at 3/s, both transports (~20 min); writes bench/results/faults.md
	$(RUN) python -m sagabench.faults $(FAULTS_ARGS)

lint: install ## ruff lint, format check and the layering contract
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

fmt: install ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: install ## mypy --strict on every package
	$(RUN) mypy services/*/src cli/src bench/src

asyncapi: install ## Regenerate docs/asyncapi/*.json from the code
	$(RUN) python scripts/export_asyncapi.py

bench: install ## Benchmark both transports, 1 and 2 replicas, against pgbench/redis-benchmark (~5 min)
	$(RUN) sagabench --label latest

bench-quick: install ## A few seconds of load per transport (the harness smoke test)
	$(RUN) sagabench --quick --label quick --output .local/bench

# BASE: a checkout of the code to compare with, e.g. `git worktree add ../before HEAD~3`.
# COMPARE_ARGS: e.g. --transport pubsub --concurrency 16 (python -m sagabench.compare --help).
bench-compare: install ## This code and BASE deployed at once, the same load on both (~2 min); writes bench/results/compare.json
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<a checkout of the other code>"; exit 2; }
	$(RUN) python -m sagabench.compare $(BASE) $(COMPARE_ARGS)

servers: ## Start the machine's Postgres and Redis for the tests (installs them if missing)
	scripts/ensure-servers.sh

tools: ## Install the test tools from Debian packages when missing (psql, postgresql, redis-server, prometheus, buildah, runc, debootstrap, shellcheck)
	scripts/ensure-tools.sh

clean: ## Remove the virtualenv, caches and private servers' data
	rm -rf .venv .local .mypy_cache .ruff_cache .pytest_cache

include mk/k8s.mk
