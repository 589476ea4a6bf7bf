# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side filters site.yml's validation play uses."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter import fabric_fleet as fleet_plugin

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"}]


def fleet(groups, hostvars):
    return fleet_plugin.FilterModule().filters()["fabric_fleet"](groups, hostvars)


class ExplodingVars(dict):
    """Stands in for a host whose variable has a broken template."""

    def __getitem__(self, key):
        if key == "fabric_links":
            raise ValueError("'undefined_var' is undefined")
        return dict.__getitem__(self, key)


def test_fleet_filter_plans_and_reads_only_contract_variables():
    hostvars = {"db1": {"fabric_cluster_group": "c1", "fabric_node_id": 1, "fabric_links": LINKS,
                        "secret": object()}}
    out = fleet({"all": ["db1"], "c1": ["db1"]}, hostvars)
    assert out["c1"]["plan"]["db1"]["fab1"] == ["198.18.1.11"]


def test_fleet_filter_names_host_and_variable_of_a_broken_template():
    hostvars = {"db1": ExplodingVars(fabric_cluster_group="c1", fabric_node_id=1, fabric_links=[])}
    with pytest.raises(AnsibleFilterError, match=r"host db1: variable fabric_links cannot be evaluated: "
                                                 r"'undefined_var' is undefined"):
        fleet({"all": ["db1"], "c1": ["db1"]}, hostvars)


def test_fleet_filter_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match=r"fabric_fleet: no host of the inventory"):
        fleet({"all": ["db1"]}, {"db1": {}})
    with pytest.raises(AnsibleFilterError, match=r"must be Ansible's groups"):
        fleet(["db1"], {})
