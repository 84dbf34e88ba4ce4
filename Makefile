# Two entry points for people: `make demo` and `make test` (lint, then pytest). Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := .make
TOOLS := .tools/bin
APT_PACKAGES := docker-registry skopeo apache2-utils openssl redis-server
BENCH_APT_PACKAGES := wrk
PYTEST_ARGS ?=

.PHONY: all demo test lint system-deps venv k8s-tools lock bench bench-deps mutation clean

all: test

$(STAMPS):
	mkdir -p $(STAMPS)

# Debian packages: the registry the tests and demo push to, skopeo, htpasswd, openssl, and
# redis-server for the shared-cache tests.
$(STAMPS)/system-deps: | $(STAMPS)
	@missing=""; for c in docker-registry skopeo htpasswd openssl redis-server; do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi
	@touch $@
system-deps: $(STAMPS)/system-deps

# Python dependencies only from the hash-locked files.
$(STAMPS)/venv: requirements.txt requirements-dev.txt pyproject.toml | $(STAMPS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@
venv: $(STAMPS)/venv

$(TOOLS)/helm:
	bash scripts/install-k8s-tools.sh $(TOOLS)
k8s-tools: $(TOOLS)/helm

# Types (strict on verify, policy and engine) and lint, as configured in pyproject.toml.
lint: venv
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff check .

test: system-deps venv k8s-tools lint
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

demo: system-deps venv
	$(PY) scripts/demo.py

# wrk drives the webhook benchmark's warm load; only `make bench` needs it.
bench-deps:
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BENCH_APT_PACKAGES); }

bench: system-deps venv bench-deps
	$(PY) -m bench

# Break each security check listed in tests/mutation/mutants.yaml and expect its tests to fail;
# prints the score and fails on a surviving mutant that would turn a deny into an allow.
mutation: system-deps venv k8s-tools
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(PY) scripts/mutation.py

# Re-pin every dependency with hashes after editing requirements*.in.
lock: venv
	$(VENV)/bin/uv pip compile -q --python-version 3.11 --generate-hashes requirements.in -o requirements.txt
	$(VENV)/bin/uv pip compile -q --python-version 3.11 --generate-hashes requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) $(STAMPS) .tools .demo
