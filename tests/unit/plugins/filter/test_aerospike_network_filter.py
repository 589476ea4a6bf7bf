# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aerospike_network filter: registration and errors naming the host and the variable."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter.aerospike_network import FilterModule

PLAN = {"db1": {"fab0": ["198.18.0.11"]}, "db2": {"fab0": ["198.18.0.12"]}}
LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}]
aerospike_network = FilterModule().filters()["aerospike_network"]


def test_builds_the_stanza():
    net = aerospike_network(PLAN, "db2", links=LINKS, version="8.1")
    assert net["fabric"] == {"address": ["198.18.0.12"], "port": 3001}
    assert net["heartbeat"]["mesh-seed-address-port"] == ["198.18.0.11 3002"]
    assert net["admin"] == {"port": 3003}


@pytest.mark.parametrize("options, message", [
    ({"version": "7.2", "max_seeds": 12}, "aerospike_network: host db1: aerospike_heartbeat_max_seeds: 12"),
    ({"version": "7.2", "no_such_option": 1}, "aerospike_network: host db1: unknown options: no_such_option"),
])
def test_errors_name_the_host_and_the_variable(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        aerospike_network(PLAN, "db1", links=LINKS, **options)
