# Test / lint harness for the clusterfabric.multilink collection.
# The repository root IS the collection root.
#
#   make test    what CI runs (.ci/run): deps, venv, then every check in CHECKS (two lanes side by side)
#   make demo    two-node container cluster, playbooks/site.yml, traffic split (docs/demo.md)
#   make bench   run benchmarks/plan_speed.py (reports numbers; not a pass/fail timing)
#   make build   the collection artifact in build/dist; make galaxy-importer checks it
#   make docs-reference   regenerate docs/reference/ (make docs-check fails when stale)
#   make clean   remove build/ (keeps .venv)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
VENV_STAMP := $(VENV)/.stamp-requirements-dev
VENV_PATHS := $(VENV)/.stamp-paths

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

# Checks run by `make test`, in two lanes side by side (hack/test-lanes.sh): the static lane
# (CPU only) and the live lane (podman clusters, which mostly wait on timed windows and booting
# containers). Each lane runs its checks in this order; `make checks CHECKS="unit functional"`
# runs a chosen list one after the other.
STATIC_CHECKS := lint docs-check galaxy-importer sanity unit functional bench
LIVE_CHECKS := integration molecule
CHECKS := $(STATIC_CHECKS) $(LIVE_CHECKS)

# ansible-test sanity runs in local/venv mode for Python 3.11 only.
SANITY_PYTHON := 3.11
# Sanity tests we cannot run here, each with the reason:
#   pslint - needs PowerShell (pwsh), which neither Debian nor PyPI ship; the
#            collection has no PowerShell content for it to check anyway.
SANITY_SKIP := pslint

.PHONY: test checks deps venv collection lint sanity unit functional integration demo bench bench-nat bench-fleet clean
.PHONY: build galaxy-importer docs-reference docs-check
.PHONY: molecule scenario demo-down bench-migration bench-linkloss bench-mptcp

test: deps venv
	bash hack/test-lanes.sh "$(STATIC_CHECKS)" "$(LIVE_CHECKS)"

checks: deps venv
	@failed=""; \
	for check in $(CHECKS); do \
	    echo "==> make $$check"; start=$$(date +%s); \
	    $(MAKE) --no-print-directory $$check || failed="$$failed $$check"; \
	    echo "==> $$check: $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "==> FAILED:$$failed"; exit 1; fi; \
	echo "==> all checks passed: $(CHECKS)"

deps:
	@bash hack/apt-deps.sh hack/apt-packages.txt

venv: $(VENV_STAMP) $(VENV_PATHS)

$(VENV_STAMP): requirements-dev.txt requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Every Python run from .venv (pytest, molecule, benchmarks, python -m testbed) imports the
# test bed package (tests/lib) and the collection (build/collections) without path tricks.
$(VENV_PATHS): $(VENV_STAMP)
	$(VENV)/bin/python -c 'import sys, sysconfig; \
	    open(sysconfig.get_paths()["purelib"] + "/clusterfabric-dev.pth", "w").write("\n".join(sys.argv[1:]) + "\n")' \
	    "$(CURDIR)/tests/lib" "$(COLLECTIONS_DIR)"
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

# Molecule scenarios (molecule/*/molecule.yml, docs/molecule.md): two-node container clusters
# converged with playbooks/site.yml; each writes build/reports/<scenario>.json.
MOLECULE_SCENARIOS = $(sort $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
# Two scenarios at a time (hack/molecule-all.sh says why); MOLECULE_JOBS=1 runs them one by one.
MOLECULE_JOBS ?= 2
# ... except these, which run first and alone (hack/molecule-all.sh says why).
MOLECULE_ALONE ?= failover
molecule: deps venv collection
	MOLECULE_JOBS=$(MOLECULE_JOBS) MOLECULE_ALONE="$(MOLECULE_ALONE)" bash hack/molecule-all.sh $(MOLECULE_SCENARIOS)

# One scenario: make scenario S=balanced
scenario: deps venv collection
	@test -n "$(S)" || { echo "usage: make scenario S=<name>, one of: $(MOLECULE_SCENARIOS)"; exit 2; }
	molecule test -s $(S)

# The demo (docs/demo.md): containers cfm-demo-*, links 198.19.32.0/24 and 198.19.33.0/24,
# management network 198.19.34.0/24. The real Aerospike server (plain TCP streams when the node
# image has none), one link vs native vs balanced, measured by playbooks/verify.yml; writes
# build/demo/report.json and build/demo/split.png, and leaves the cluster up; `make demo-down`
# removes the containers and networks. DEMO_RATE_MBIT: each link's speed; DEMO_SECONDS:
# verify.yml's sampling window per phase.
DEMO_INVENTORY := hack/demo/inventory
DEMO_RATE_MBIT ?= 50
DEMO_SECONDS ?= 10
# STRATEGY=mptcp: the phases single, balanced and mptcp (Multipath TCP), the cluster left in mptcp.
STRATEGY ?=
demo: deps venv collection
	python -m testbed up -i $(DEMO_INVENTORY)
	python hack/demo/demo.py -i $(DEMO_INVENTORY) --rate-mbit $(DEMO_RATE_MBIT) --seconds $(DEMO_SECONDS) \
	    --out build/demo $(if $(STRATEGY),--strategy $(STRATEGY))

demo-down: venv collection
	python -m testbed down -i $(DEMO_INVENTORY)

bench: venv collection
	python benchmarks/plan_speed.py

# Two-node NAT measurement (P1 aggregate, P2 split, P3 connection rate); writes build/reports/nat.json.
bench-nat: deps venv collection
	python benchmarks/nat_split.py

# What site.yml --check --diff costs against one ping per host (40 local hosts, one fork);
# writes build/reports/fleet.json. A 2,000-host fleet: python benchmarks/fleet.py --shape 200x10 --forks 10.
bench-fleet: venv collection
	python benchmarks/fleet.py

# The real Aerospike server (../shared/aerospike-server/asd or AEROSPIKE_ASD) on two podman
# nodes with tbf-limited links: time for migrations to finish after a node joins, one link vs
# native vs balanced, 2 and 4 links (docs/performance.md); writes build/reports/migration.json.
bench-migration: deps venv collection
	python benchmarks/migration.py

# The same cluster under a steady write load while one fabric link fails (carrier loss, silent
# drop) and comes back, per strategy; writes build/reports/linkloss.json.
bench-linkloss: deps venv collection
	python benchmarks/linkloss.py

# fabric_strategy mptcp against balanced NAT, side by side in one run (1, 2, 8 connections, unequal
# links, P3 connection rate, CPU per byte, link loss); writes build/reports/mptcp.json.
bench-mptcp: deps venv collection
	python benchmarks/mptcp.py

# The collection artifact, as `ansible-galaxy collection install` and Galaxy get it
# (galaxy.yml build_ignore keeps development files out).
DIST_DIR := build/dist
build: venv
	rm -rf $(DIST_DIR)
	ansible-galaxy collection build --force --output-path $(DIST_DIR) .

# Galaxy's upload checks on that artifact, offline and without containers
# (hack/galaxy-importer.cfg); fails on any error or warning.
galaxy-importer: build
	bash hack/galaxy-importer.sh $(DIST_DIR)/clusterfabric-multilink-*.tar.gz

# docs/reference/: every module, filter and role (meta/argument_specs.yml) as Markdown, generated
# from ansible-doc (hack/docs_reference.py); docs-check fails when it is stale.
REFERENCE_DIR := docs/reference

docs-reference: venv collection
	python hack/docs_reference.py $(REFERENCE_DIR)

docs-check: venv collection
	rm -rf build/docs-reference
	python hack/docs_reference.py build/docs-reference
	@diff -ru $(REFERENCE_DIR) build/docs-reference || \
	    { echo "$(REFERENCE_DIR) is stale: run make docs-reference"; exit 1; }

clean:
	rm -rf build
