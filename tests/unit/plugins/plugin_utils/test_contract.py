# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole contract: host links, role selection and the three role blocks, one rule set."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action.fabric_contract import validate_role
from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DEVICE_RE
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.contract import normalise

GROUP = {
    "fabric_cluster_group": "c1",
    "fabric_links": [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
                     {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"}],
    "fabric_links_backend": "networkd",
    "aerospike_version": "8.1",
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2}],
}


def fleet(group=None, hosts=None, roles=("links", "nat", "aerospike")):
    """normalise() of a two-host cluster c1 (db1, db2), role parameters through the real specs."""
    variables = {}
    for host, node in (("db1", 1), ("db2", 2)):
        values = dict(copy.deepcopy(GROUP), fabric_node_id=node)
        values.update(group or {})
        values.update((hosts or {}).get(host, {}))
        variables[host] = values
    params = dict((host, dict((role, validate_role(host, role, values)) for role in roles
                              if role in values.get("fabric_roles", roles)))
                  for host, values in variables.items())
    return normalise({"all": ["db1", "db2"], "c1": ["db1", "db2"]}, variables, params, roles=list(roles))


def test_every_host_gets_its_links_and_a_block_per_role():
    result = fleet()
    host = result["hosts"]["db2"]
    assert result["clusters"]["c1"]["hosts"] == ["db1", "db2"]
    assert host["links"][1] == {"name": "fab1", "device": "eth1", "family": 4, "subnet": "198.18.1.0/24",
                                "prefixlen": 24, "addresses": ["198.18.1.12"]}
    assert host["roles"] == ["links", "nat", "aerospike"] and host["strategy"] == "balanced" and host["ports"] == [3001]
    assert host["links_role"]["model"]["links"][0]["device"] == "eth0"
    assert host["nat"]["state"] == "present" and host["nat"]["model"]["node"] == "db2"
    assert host["nat"]["watchdog"]["interval_ms"] == 100
    assert host["aerospike"]["config"]["service"] == {"cluster-name": "c1"}
    assert host["aerospike"]["config"]["network"]["fabric"]["address"] == ["198.18.0.12", "198.18.1.12"]


def test_fabric_nat_devices_names_the_device_for_every_role():
    result = fleet(hosts={"db2": {"fabric_nat_devices": {"fab1": "ens2"}}})
    host = result["hosts"]["db2"]
    assert host["links"][1]["device"] == "ens2"
    assert host["links_role"]["model"]["links"][1]["device"] == "ens2"
    assert [link["device"] for link in host["nat"]["model"]["links"]] == ["eth0", "ens2"]


@pytest.mark.parametrize("device", ["eth1;", "eth1\nip link", "_eth1", "eth:1", "eth@1", "bond+", "a" * 16])
def test_one_device_rule_for_every_role(device):
    assert not DEVICE_RE.fullmatch(device)
    links = copy.deepcopy(GROUP["fabric_links"])
    links[1]["device"] = device
    for roles in (("links",), ("nat",), ("aerospike",)):
        with pytest.raises(FabricError, match=r"host db1: fabric_links\[1\]\.device"):
            fleet({"fabric_links": links}, roles=roles)


def test_an_override_for_an_unknown_link_names_it():
    with pytest.raises(FabricError, match="host db1: fabric_nat_devices names link \"fab9\""):
        fleet(hosts={"db1": {"fabric_nat_devices": {"fab9": "eth9"}}})


def test_two_links_on_one_device_are_refused():
    with pytest.raises(FabricError, match=r"host db2: fabric_nat_devices.fab1 \"eth0\" is already the device of link fab0"):
        fleet(hosts={"db2": {"fabric_nat_devices": {"fab1": "eth0"}}})


def test_fabric_roles_pick_the_blocks_per_host():
    result = fleet(hosts={"db2": {"fabric_roles": ["nat"]}})
    assert result["hosts"]["db2"]["roles"] == ["nat"]
    assert "links_role" not in result["hosts"]["db2"] and "aerospike" not in result["hosts"]["db2"]
    assert "links_role" in result["hosts"]["db1"]


def test_native_removes_the_rules_and_single_spreads_the_primary_link_only():
    native = fleet({"fabric_strategy": "native"})["hosts"]["db1"]["nat"]
    assert native["state"] == "absent" and native["model"] is None and native["watchdog"] is None
    single = fleet({"fabric_strategy": "single"}, roles=("links", "nat"))["hosts"]["db1"]["nat"]
    assert single["spread"] == "primary" and single["model"]["peers"][0]["match"] == ["198.18.0.12"]


@pytest.mark.parametrize("group, text", [
    ({"fabric_nat_weights": {"fab9": 2}}, "host db1: fabric_nat_weights: link 'fab9' is not one of the links"),
    ({"fabric_nat_weights": {"fab0": 0}}, "host db1: fabric_nat_weights: link fab0 has weight 0"),
    ({"fabric_nat_primary_link": "fab9"}, "host db1: fabric_nat_primary_link 'fab9' is not one of the links"),
    ({"fabric_nat_backend": "iptables"}, "host db1: the link watchdog .* needs fabric_nat_backend nftables, got iptables"),
    ({"fabric_nat_watchdog_interval_ms": 5}, "host db1: fabric_nat_watchdog_interval_ms is 5"),
    ({"fabric_nat_mode": "roundrobin"}, "host db1: value of fabric_nat_mode must be one of: nth, random, got: roundrobin"),
])
def test_nat_errors_name_host_variable_and_value(group, text):
    with pytest.raises(FabricError, match=text):
        fleet(group, roles=("nat",))


def test_a_nat_link_without_device_says_how_to_fix_it():
    links = copy.deepcopy(GROUP["fabric_links"])
    del links[0]["device"]
    with pytest.raises(FabricError, match=r"host db1: fabric_links\[0\] \(link fab0\) has no device"):
        fleet({"fabric_links": links}, roles=("nat",))
    assert fleet({"fabric_links": links}, roles=("aerospike",))["hosts"]["db1"]["links"][0]["device"] is None


def test_links_apply_needs_the_live_root():
    with pytest.raises(FabricError, match="host db1: fabric_links_apply is true but fabric_links_root is /tmp/x"):
        fleet({"fabric_links_apply": True, "fabric_links_root": "/tmp/x"}, roles=("links",))
    assert fleet({"fabric_links_root": "/tmp/x/"}, roles=("links",))["hosts"]["db1"]["links_role"]["root"] == "/tmp/x"


@pytest.mark.parametrize("group, text", [
    ({"aerospike_namespaces": []}, "host db1: aerospike_namespaces must list at least one namespace"),
    ({"aerospike_version": "seven"}, "host db1: aerospike_version: 'seven' is not a version"),
    ({"aerospike_cluster_name": "c1\nx"}, "host db1: refusing to write aerospike.conf: aerospike_service"),
    ({"aerospike_service_port": "http"}, "host db1: argument 'aerospike_service_port' is of type"),
])
def test_aerospike_errors_name_host_variable_and_value(group, text):
    with pytest.raises(FabricError, match=text):
        fleet(group, roles=("aerospike",))


def test_aerospike_cluster_name_defaults_to_the_cluster_and_can_be_set():
    assert fleet(roles=("aerospike",))["hosts"]["db1"]["aerospike"]["config"]["service"]["cluster-name"] == "c1"
    named = fleet({"aerospike_cluster_name": "prod"}, roles=("aerospike",))["hosts"]["db1"]["aerospike"]
    assert named["config"]["service"]["cluster-name"] == "prod" and named["cluster_size"] == 2


def test_only_normalises_the_clusters_of_the_hosts_named():
    variables = {"db1": dict(GROUP, fabric_node_id=1), "x1": dict(GROUP, fabric_cluster_group="c2", fabric_node_id=1)}
    result = normalise({"all": ["db1", "x1"], "c1": ["db1"], "c2": ["x1"]}, variables, only=["x1"])
    assert list(result["clusters"]) == ["c2"] and list(result["hosts"]) == ["x1"]


def test_single_with_nat_and_aerospike_is_refused_and_each_alone_is_fine():
    # measured with the real server (molecule single): the steered connections are refused
    with pytest.raises(FabricError, match="host db1: fabric_strategy single with the nat and aerospike roles cannot work"):
        fleet({"fabric_strategy": "single"})
    assert fleet({"fabric_strategy": "single"}, roles=("links", "aerospike"))["hosts"]["db1"]["roles"] == ["links", "aerospike"]
    assert fleet({"fabric_strategy": "single"}, roles=("nat",))["hosts"]["db2"]["nat"]["spread"] == "primary"
