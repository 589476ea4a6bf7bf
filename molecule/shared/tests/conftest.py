# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Testinfra checks of a converged container cluster; the inventory says what to expect.

    python -m pytest molecule/shared/tests --inventory molecule/balanced/inventory
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import testinfra

from testbed import podman
from testbed.inventory import topology

_TOPOLOGY = {}


def pytest_addoption(parser):
    parser.addoption("--inventory", required=True, help="the scenario's inventory")


def _topology(config):
    """The test bed's view of the inventory (testbed.inventory.Topology: hosts, links, plan, ...)."""
    inventory = config.getoption("--inventory")
    if inventory not in _TOPOLOGY:
        _TOPOLOGY[inventory] = topology(inventory)
    return _TOPOLOGY[inventory]


@pytest.fixture(scope="session")
def topo(request):
    return _topology(request.config)


def pytest_generate_tests(metafunc):
    if "node" in metafunc.fixturenames:
        metafunc.parametrize("node", _topology(metafunc.config).hosts, indirect=True)


@pytest.fixture
def node(request, topo):
    """(inventory name, testinfra host) of one node, reached with podman exec."""
    os.environ.setdefault("CONTAINERS_CONF", podman.CONTAINERS_CONF)
    return request.param, testinfra.get_host("podman://" + topo.containers[request.param])
