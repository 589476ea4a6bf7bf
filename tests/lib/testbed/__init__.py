# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live test bed: podman container clusters described by an inventory.

One package for the integration tests, the Molecule scenarios, the benchmarks and `make demo`
(docs/testbed.md). A cluster is the hosts of one fabric group of an inventory that follows the
contract in docs/testbed.md: the collection's own variables (fabric_links with a ``device`` per
link, fabric_node_id, ...) plus a few ``testbed_*`` ones. Only loopback and addresses of test
networks created here are ever sent to.

    python -m testbed up -i INVENTORY        # (re)create every cluster of the inventory
    python -m testbed down -i INVENTORY
    python -m testbed image                  # build the node image; print it and its server

The Makefile puts tests/lib and build/collections on the virtualenv's path, so ``import
testbed`` and the collection's own code work in every tool run from .venv.
"""
