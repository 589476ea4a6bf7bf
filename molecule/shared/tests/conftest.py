# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Testinfra checks of a converged container cluster; the inventory says what to expect.

    python -m pytest molecule/shared/tests --inventory molecule/balanced/inventory
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest
import testinfra

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fabric_split  # noqa: E402  pylint: disable=wrong-import-position


_TOPOLOGY = {}


def pytest_addoption(parser):
    parser.addoption("--inventory", required=True, help="the scenario's inventory")


def _topology(config):
    inventory = config.getoption("--inventory")
    if inventory not in _TOPOLOGY:
        _TOPOLOGY[inventory] = fabric_split.topology(fabric_split.load_inventory(inventory))
    return _TOPOLOGY[inventory]


@pytest.fixture(scope="session")
def topo(request):
    return _topology(request.config)


def pytest_generate_tests(metafunc):
    if "node" in metafunc.fixturenames:
        metafunc.parametrize("node", _topology(metafunc.config)["hosts"], indirect=True)


@pytest.fixture
def node(request, topo):
    """(inventory name, testinfra host) of one node, reached with podman exec."""
    os.environ.setdefault("CONTAINERS_CONF", os.path.join(fabric_split.ROOT, "hack", "containers.conf"))
    return request.param, testinfra.get_host("podman://" + topo["containers"][request.param])
