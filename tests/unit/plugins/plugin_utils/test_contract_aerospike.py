# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aerospike block of the inventory contract: everything the role's one module run needs.

The checks of the former aerospike_conf_check filter live here now (contract_roles._aerospike
runs aerospike_conf.check and describe once per host on the controller).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action.fabric_contract import validate_role
from ansible_collections.clusterfabric.multilink.plugins.filter.aerospike_network import FilterModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import render
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.contract import normalise

GROUP = {
    "fabric_cluster_group": "c1",
    "fabric_links": [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"}],
    "aerospike_version": "7.2",
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                              "storage-engine": {"type": "memory", "data-size": "4G"}}],
}
NODES = {"db1": 1, "db2": 2, "db3": 3}
BLOCK_KEYS = {"path", "manage", "owner", "group", "mode", "max_seeds", "restart", "restart_wait",
              "restart_wait_timeout", "service_name", "service_port", "cluster_size", "sources", "config"}


def block(host="db1", **changes):
    variables = {}
    for name, node in NODES.items():
        variables[name] = dict(copy.deepcopy(GROUP), fabric_node_id=node, **changes)
    params = dict((name, {"aerospike": validate_role(name, "aerospike", values)}) for name, values in variables.items())
    fleet = normalise({"all": list(NODES), "c1": list(NODES)}, variables, params, roles=["aerospike"])
    return fleet["hosts"][host]["aerospike"]


def test_the_block_holds_what_the_module_and_the_handlers_need():
    data = block()
    assert set(data) == BLOCK_KEYS
    assert data["path"] == "/etc/aerospike/aerospike.conf" and data["manage"] == "full" and data["mode"] == "0644"
    assert data["owner"] is None and data["group"] is None  # the module picks the aerospike user, else root
    assert (data["restart"], data["restart_wait"], data["restart_wait_timeout"]) == (False, "started", 120)
    assert (data["service_name"], data["service_port"], data["cluster_size"], data["max_seeds"]) == ("aerospike", 3000, 3, 8)
    assert data["sources"]["namespace"] == "aerospike_namespaces"
    assert list(data["config"]) == ["service", "logging", "network", "namespace", "mod-lua", "security", "xdr"]
    assert data["config"]["service"] == {"cluster-name": "c1"}
    text = render(data["config"])
    assert "mesh-seed-address-port 198.18.11.13 3002\n" in text and "namespace test {\n" in text


def test_the_network_stanza_is_the_public_filter_s():
    plan = {"db1": {"fab0": ["198.18.10.11"], "fab1": ["198.18.11.11"]},
            "db2": {"fab0": ["198.18.10.12"], "fab1": ["198.18.11.12"]},
            "db3": {"fab0": ["198.18.10.13"], "fab1": ["198.18.11.13"]}}
    network = FilterModule().filters()["aerospike_network"](plan, "db2", links=GROUP["fabric_links"], version="7.2")
    assert block("db2")["config"]["network"] == network


def test_settings_reach_the_block_typed_by_the_spec():
    data = block(aerospike_restart="yes", aerospike_restart_wait="cluster", aerospike_config_owner="svc",
                 aerospike_heartbeat_max_seeds="4", aerospike_service={"proto-fd-max": 15000})
    assert data["restart"] is True and data["restart_wait"] == "cluster" and data["owner"] == "svc"
    assert data["max_seeds"] == 4 and len(data["config"]["network"]["heartbeat"]["mesh-seed-address-port"]) == 4
    assert data["config"]["service"] == {"cluster-name": "c1", "proto-fd-max": 15000}


@pytest.mark.parametrize("changes, parts", [
    ({"aerospike_namespaces": [{"name": "test", "replication-factor": "2 # two"}]},
     ["host db1: refusing to write aerospike.conf: aerospike_namespaces (namespace[test].replication-factor)", "'#'"]),
    ({"aerospike_logging": {"console": {"context": "any\ninfo"}}},
     ["host db1:", "aerospike_logging (logging.console.context)", "a newline"]),
    ({"aerospike_xdr": {"dc": [{"name": "a b"}]}}, ["host db1:", "aerospike_xdr (xdr.dc.name)", "one word"]),
    ({"aerospike_network": {"fabric": {"port": 70000}}},
     ["host db1:", "aerospike_network (and the aerospike_* network variables) (network.fabric.port)", "70000"]),
    ({"aerospike_network": {"heartbeat": {"tls-mesh-seed-address-port": ["198.18.10.99 3012"] * 5}}},
     ["host db1:", "network.heartbeat.mesh-seed-address-port", "more than the limit of 8"]),
    ({"aerospike_namespaces": [{"replication-factor": 2}]}, ["host db1: aerospike_namespaces must list", "replication-factor"]),
])
def test_refusals_name_host_variable_place_and_value(changes, parts):
    with pytest.raises(FabricError) as caught:
        block(**changes)
    missing = [part for part in parts if part not in str(caught.value)]
    assert not missing, str(caught.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(FabricError) as caught:
        block(aerospike_service={"proto-fd-max": "1 # x"}, aerospike_mod_lua={"user-path": "/a{b"})
    assert "aerospike_service (service.proto-fd-max)" in str(caught.value)
    assert "aerospike_mod_lua (mod-lua.user-path)" in str(caught.value)


def test_manage_network_checks_only_the_network_stanza():
    data = block(aerospike_manage="network", aerospike_namespaces=[], aerospike_service={"x": "1 # ignored"})
    assert data["manage"] == "network" and data["config"]["namespace"] == []
    with pytest.raises(FabricError, match=r"network\.fabric\.port"):
        block(aerospike_manage="network", aerospike_network={"fabric": {"port": 80}})
