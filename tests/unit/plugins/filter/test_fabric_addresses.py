# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter import fabric_addresses as plugin
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import address_plan

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth1", "mtu": 9000}]


def run(nodes, links):
    return plugin.FilterModule().filters()["fabric_addresses"](nodes, links)


def test_filter_returns_the_plan_and_ignores_role_keys():
    assert run({"db1": 1}, LINKS) == {"db1": {"fab0": ["198.18.0.11"]}}


def test_filter_errors_are_ansible_filter_errors_naming_the_value():
    with pytest.raises(AnsibleFilterError, match=r"db1 and db2 both have fabric_node_id 4"):
        run({"db2": 4, "db1": 4}, LINKS)


def test_missing_netaddr_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(address_plan, "netaddr", None)
    with pytest.raises(AnsibleFilterError, match=r"pip install netaddr"):
        run({"db1": 1}, LINKS)


def test_documentation_is_valid_yaml_with_examples():
    import yaml
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "fabric_addresses"
    assert doc["positional"] == "links"
    assert "fabric_addresses" in plugin.EXAMPLES
    assert yaml.safe_load(plugin.EXAMPLES)
