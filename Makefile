# Test / lint harness for the clusterfabric.multilink collection.
# The repository root IS the collection root.
#
#   make test    what CI runs (.ci/run): deps, venv, then every check in CHECKS
#   make demo    run playbooks/plan.yml against examples/inventory
#   make bench   run benchmarks/plan_speed.py (reports numbers; not a pass/fail timing)
#   make clean   remove build/ (keeps .venv)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
VENV_STAMP := $(VENV)/.stamp-requirements-dev

# Every ansible command below (and pytest, via tests/conftest.py) finds the
# collection through this symlinked tree.
COLLECTIONS_DIR := $(CURDIR)/build/collections
COLLECTION_LINK := $(COLLECTIONS_DIR)/ansible_collections/clusterfabric/multilink
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export PATH := $(BIN):$(PATH)
# Multi-line results (the plan table) print as YAML block text, not one escaped string.
export ANSIBLE_CALLBACK_RESULT_FORMAT := yaml
export ANSIBLE_LOCALHOST_WARNING := False
# Podman settings for live tests (runc, explicit ulimits), without touching /etc.
export CONTAINERS_CONF := $(CURDIR)/hack/containers.conf

# Checks run by `make test`, in this order. Later work appends to this list
# (e.g. molecule).
CHECKS := lint sanity unit functional integration bench

# ansible-test sanity runs in local/venv mode for Python 3.11 only.
SANITY_PYTHON := 3.11
# Sanity tests we cannot run here, each with the reason:
#   pslint - needs PowerShell (pwsh), which neither Debian nor PyPI ship; the
#            collection has no PowerShell content for it to check anyway.
SANITY_SKIP := pslint

.PHONY: test checks deps venv collection lint sanity unit functional integration demo bench bench-nat clean

test: deps venv
	@failed=""; \
	for check in $(CHECKS); do \
	    echo "==> make $$check"; \
	    $(MAKE) --no-print-directory $$check || failed="$$failed $$check"; \
	done; \
	if [ -n "$$failed" ]; then echo "==> FAILED:$$failed"; exit 1; fi; \
	echo "==> all checks passed: $(CHECKS)"

deps:
	@bash hack/apt-deps.sh hack/apt-packages.txt

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ "$$(readlink $(COLLECTION_LINK) 2>/dev/null)" != "$(CURDIR)" ]; then \
	    ln -sfn $(CURDIR) $(COLLECTION_LINK); \
	fi

lint: venv collection
	ansible-lint
	antsibull-changelog lint
	# ansible-test 2.19 does not schema-check filter docs; antsibull-docs does.
	cd $(COLLECTION_LINK) && antsibull-docs lint-collection-docs --plugin-docs .

sanity: venv
	VENV=$(CURDIR)/$(VENV) SANITY_PYTHON=$(SANITY_PYTHON) bash hack/sanity.sh \
	    $(addprefix --skip-test ,$(SANITY_SKIP))

unit: venv collection
	python -m pytest -q tests/unit

# Real ansible-playbook / ansible-doc runs against the collection.
functional: venv collection
	python -m pytest -q tests/functional

# Live tests on podman container clusters (root; the node image is built once and cached).
integration: deps venv collection
	python -m pytest -q tests/integration

demo: deps venv collection
	ansible-playbook -i examples/inventory playbooks/plan.yml

bench: venv collection
	python benchmarks/plan_speed.py

# Two-node NAT measurement (P1 aggregate, P2 split, P3 connection rate); writes build/reports/nat.json.
bench-nat: deps venv collection
	python benchmarks/nat_split.py

clean:
	rm -rf build
