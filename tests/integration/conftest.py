# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live tests need root, podman (runc) and the node image; `make integration` provides them.

They fail (never skip) when that is missing, so a broken setup cannot pass for a green run.
Their clusters come from the test bed package (tests/lib/testbed, docs/testbed.md): an
inventory written with testbed.inventory.write_cluster, brought up by testbed.cluster.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

import pytest

from testbed import aerospike as tb_aerospike
from testbed import cluster as tb_cluster
from testbed import inventory as tb_inventory
from testbed import podman as tb_podman

NODES = {"n1": 1, "n2": 2}
TWO_LINKS = [
    {"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
    {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"},
]
# Strict reverse-path filtering: a connection moved to another link without SNAT is dropped.
STRICT = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}


@pytest.fixture(scope="session")
def image():
    if os.geteuid() != 0 or not shutil.which("podman"):
        pytest.fail("live tests need root and podman: run them with `make integration`")
    return tb_podman.node_image()


@pytest.fixture(scope="session")
def testbed(image, tmp_path_factory):
    """start(group, prefix, nodes, group_vars, host_vars=None): a test bed cluster of ``nodes``
    {host: node id} in containers <prefix>-<host>, from an inventory written for it
    (``cluster.inventory``); the caller takes it down."""

    def start(group, prefix, nodes, group_vars, host_vars=None):
        path = tmp_path_factory.mktemp(prefix) / "inventory.json"
        return tb_cluster.start(tb_inventory.write_cluster(str(path), group, prefix, nodes, group_vars, host_vars),
                                image)

    return start


@pytest.fixture(scope="module")
def two_nodes(testbed, request):
    """Two nodes (ids 1, 2) on two 200 Mbit/s links (fab0 on eth0, fab1 on eth1), containers
    cfm-<module>-n1/-n2; torn down after the module."""
    name = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "").replace("_", "")[:12]
    cluster = testbed(name, "cfm-%s" % name, NODES, {"fabric_links": TWO_LINKS, "testbed_rate_mbit": 200})
    yield cluster
    cluster.down()


@pytest.fixture(scope="module")
def server_bed(testbed, request):
    """The test module's cluster with the real Aerospike server: its GROUP, PREFIX, NODES and
    GROUP_VARS; skipped, with the reason, where ../shared/aerospike-server is absent; torn down
    after the module."""
    present, reason = tb_aerospike.available()
    if not present:
        pytest.skip(reason)
    module = request.module
    cluster = testbed(module.GROUP, module.PREFIX, module.NODES, module.GROUP_VARS)
    try:
        yield cluster
    finally:
        cluster.down()
