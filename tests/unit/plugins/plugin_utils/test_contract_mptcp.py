# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract's mptcp block: under fabric_strategy mptcp the role sets it up and the nat role
removes its rules; any other strategy removes it; refused inputs and combinations name the host,
the variable and the value."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action.fabric_contract import validate_role
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.contract import normalise

GROUP = {
    "fabric_cluster_group": "c1",
    "fabric_strategy": "mptcp",
    "fabric_links": [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
                     {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"}],
    "fabric_links_backend": "networkd",
    "aerospike_version": "8.1",
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2}],
}
ROLES = ("links", "nat", "mptcp", "aerospike")


def fleet(group=None, hosts=None, roles=ROLES):
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


def test_mptcp_sets_it_up_and_turns_the_nat_rules_off():
    host = fleet()["hosts"]["db2"]
    block = host["mptcp"]
    assert block["state"] == "present" and block["services"] == ["aerospike.service"]
    assert block["library"] == "" and block["install_packages"] and not block["restart"] and block["root"] == ""
    assert block["nat_first"] and block["watchdog_owner"] == "mptcp"
    assert block["watchdog"]["probe"] == "tcp" and block["watchdog"]["interval_ms"] == 100
    assert block["model"]["endpoints"] == [
        {"id": 101, "link": "fab0", "address": "198.18.0.12", "device": "eth0"},
        {"id": 102, "link": "fab1", "address": "198.18.1.12", "device": "eth1"}]
    assert block["model"]["limits"] == {"subflows": 8, "add_addr_accepted": 8}
    nat = host["nat"]
    assert nat["state"] == "absent" and nat["model"] is None and nat["watchdog"] is None
    assert nat["watchdog_owner"] == "mptcp"
    # the aerospike role keeps publishing (and binding) every fabric address
    assert host["aerospike"]["config"]["network"]["fabric"]["address"] == ["198.18.0.12", "198.18.1.12"]


@pytest.mark.parametrize("strategy, owner", [("balanced", "nat"), ("single", "nat"), ("native", None)])
def test_other_strategies_remove_it_and_leave_the_watchdog_to_its_owner(strategy, owner):
    roles = ("links", "nat", "mptcp") if strategy == "single" else ROLES
    host = fleet({"fabric_strategy": strategy}, roles=roles)["hosts"]["db1"]
    block = host["mptcp"]
    assert block["state"] == "absent" and block["model"] is None and block["watchdog"] is None
    assert block["watchdog_owner"] == owner and host["nat"]["watchdog_owner"] == owner


def test_the_watchdog_can_be_turned_off_and_tuned():
    block = fleet({"fabric_mptcp_watchdog_enabled": False})["hosts"]["db1"]["mptcp"]
    assert block["watchdog"] is None and block["watchdog_owner"] == "mptcp"
    block = fleet({"fabric_mptcp_watchdog_probe": "icmp", "fabric_mptcp_watchdog_interval_ms": 20,
                   "fabric_mptcp_watchdog_hold_down_s": 0})["hosts"]["db1"]["mptcp"]
    assert block["watchdog"]["probe"] == "icmp" and block["watchdog"]["interval_ms"] == 20
    assert block["watchdog"]["hold_down_s"] == 0.0


def test_without_nat_in_fabric_roles_the_module_is_told_nothing_removes_the_rules_first():
    block = fleet({"fabric_roles": ["links", "mptcp", "aerospike"]})["hosts"]["db1"]["mptcp"]
    assert not block["nat_first"]


def test_restart_waits_as_the_aerospike_role_does():
    block = fleet({"fabric_mptcp_restart": True, "aerospike_restart_wait": "cluster"})["hosts"]["db1"]["mptcp"]
    assert block["restart_wait"] == {"service": "aerospike.service", "port": 3000, "wait": "cluster",
                                     "cluster_size": 2, "timeout": block["restart_wait"]["timeout"]}
    assert fleet()["hosts"]["db1"]["mptcp"]["restart_wait"] is None


@pytest.mark.parametrize("services, message", [
    (["aerospike"], r"host db1: fabric_mptcp_services entry 'aerospike' is not a systemd service name"),
    (["aero spike.service"], r"host db1: fabric_mptcp_services entry 'aero spike.service' is not"),
    (["a.service\nExecStart=/bin/sh"], r"host db1: fabric_mptcp_services entry 'a.service\\nExecStart=/bin/sh'"),
    (["%i.service"], r"host db1: fabric_mptcp_services entry '%i.service' is not"),
    (["-x.service"], r"host db1: fabric_mptcp_services entry '-x.service' is not"),
    (["aerospike.service", "aerospike.service"], r"host db1: fabric_mptcp_services lists a service twice"),
])
def test_bad_service_names_are_refused(services, message):
    with pytest.raises(FabricError, match=message):
        fleet({"fabric_mptcp_services": services})


@pytest.mark.parametrize("library", ["lib/libmptcpwrap.so", "/usr/lib/my lib.so", "/usr/lib/%h.so",
                                     "/usr/lib/a.so\nEnvironment=X=1", "/usr/lib/a.so:/b.so", "\"/a.so\""])
def test_bad_library_paths_are_refused(library):
    with pytest.raises(FabricError, match=r"host db1: fabric_mptcp_library is .*; give an absolute path"):
        fleet({"fabric_mptcp_library": library})


def test_a_library_path_is_taken_as_given():
    library = "/opt/mptcpize/lib64/libmptcpwrap.so.0.0.1"
    assert fleet({"fabric_mptcp_library": library})["hosts"]["db1"]["mptcp"]["library"] == library


def test_a_link_without_a_device_is_refused_naming_the_override():
    links = copy.deepcopy(GROUP["fabric_links"])
    del links[1]["device"]
    with pytest.raises(FabricError, match=r"host db1: fabric_links\[1\] \(link fab1\) has no device; the mptcp role "
                                          r"binds each endpoint to its interface: set device, or fabric_nat_devices.fab1"):
        fleet({"fabric_links": links}, roles=("nat", "mptcp", "aerospike"))
    # under any other strategy the mptcp role only removes, and needs no device
    assert fleet({"fabric_links": links, "fabric_strategy": "native"},
                 roles=("mptcp",))["hosts"]["db1"]["mptcp"]["state"] == "absent"


def test_more_addresses_than_the_kernel_takes_are_refused():
    links = [dict(link, addresses_per_node=5) for link in GROUP["fabric_links"]]
    with pytest.raises(FabricError, match=r"host db1: fabric_strategy mptcp: 10 fabric addresses on this node, but "
                                          r"the kernel takes at most 8 MPTCP endpoints"):
        fleet({"fabric_links": links}, roles=("mptcp",))


@pytest.mark.parametrize("variable, value", [
    ("fabric_mptcp_watchdog_interval_ms", 5), ("fabric_mptcp_watchdog_down_after", 0),
    ("fabric_mptcp_watchdog_up_after", 1001), ("fabric_mptcp_watchdog_timeout_ms", 60001),
])
def test_watchdog_settings_out_of_range_name_the_mptcp_variable(variable, value):
    with pytest.raises(FabricError, match=r"host db1: %s is %r; use an integer" % (variable, value)):
        fleet({variable: value})


def test_hold_down_out_of_range_names_the_mptcp_variable():
    with pytest.raises(FabricError, match=r"host db1: fabric_mptcp_watchdog_hold_down_s is 7200.0; use 0 to 3600"):
        fleet({"fabric_mptcp_watchdog_hold_down_s": 7200.0})


def test_an_aerospike_service_that_is_not_wrapped_is_refused():
    with pytest.raises(FabricError, match=r"host db1: fabric_strategy mptcp with the aerospike role: "
                                          r"aerospike_service_name aerospike.service is not in fabric_mptcp_services"):
        fleet({"fabric_mptcp_services": ["valkey.service"]})
    with pytest.raises(FabricError, match=r"aerospike_service_name asd.service is not in fabric_mptcp_services"):
        fleet({"aerospike_service_name": "asd"})
    # fine when it is listed, and fine without the aerospike role
    assert fleet({"aerospike_service_name": "asd", "fabric_mptcp_services": ["asd.service"]})
    assert fleet({"fabric_mptcp_services": ["valkey.service"]}, roles=("links", "nat", "mptcp"))


def test_a_fabric_that_does_not_bind_every_address_is_refused():
    network = {"fabric": {"address": ["198.18.0.11"]}}
    with pytest.raises(FabricError, match=r"host db1: fabric_strategy mptcp: the Aerospike fabric does not listen on "
                                          r"198.18.1.11 \(aerospike_network.fabric.address is"):
        fleet(hosts={"db1": {"aerospike_network": network}})
    # any-address is fine, and so is the same override under another strategy
    assert fleet(hosts={"db1": {"aerospike_network": {"fabric": {"address": ["any"]}}}})
    assert fleet({"fabric_strategy": "native"}, hosts={"db1": {"aerospike_network": network}})


def test_the_strategy_is_one_per_cluster():
    with pytest.raises(FabricError, match=r"host db2 \(cluster c1\): fabric_strategy differs from host db1's"):
        fleet(hosts={"db2": {"fabric_strategy": "balanced"}})


def test_the_aerospike_role_without_the_mptcp_role_is_refused():
    with pytest.raises(FabricError, match=r"host db2: fabric_strategy mptcp with the aerospike role but without the mptcp "
                                          r"role in fabric_roles \['links', 'nat', 'aerospike'\]"):
        fleet(hosts={"db2": {"fabric_roles": ["links", "nat", "aerospike"]}})
    # under another strategy, or without the aerospike role, that is fine
    assert fleet({"fabric_strategy": "balanced", "fabric_roles": ["links", "nat", "aerospike"]})
    assert fleet({"fabric_roles": ["links", "nat"]})


def test_the_aerospike_role_on_its_own_is_not_refused():
    host = fleet(roles=("aerospike",))["hosts"]["db1"]
    assert host["roles"] == ["aerospike"] and "mptcp" not in host


# ---------------------------------------------------------------------------- anchor placement
ANCHOR = {"fabric_mptcp_anchor_subnet": "198.18.9.0/24"}


def test_an_anchor_subnet_gives_each_node_its_anchor_and_the_server_binds_it_alone():
    result = fleet(ANCHOR)
    assert result["clusters"]["c1"]["anchors"] == {"db1": "198.18.9.11", "db2": "198.18.9.12"}
    host = result["hosts"]["db2"]
    anchor = host["mptcp"]["model"]["anchor"]
    assert anchor["address"] == "198.18.9.12" and anchor["subnet"] == "198.18.9.0/24" and anchor["device"] == "eth0"
    assert anchor["peers"] == [{"peer": "db1", "anchor": "198.18.9.11", "chain": "peer_db1",
                                "targets": ["198.18.0.11", "198.18.1.11"]}]
    assert host["mptcp"]["anchor_service"] == "aerospike.service"
    fabric = host["aerospike"]["config"]["network"]["fabric"]
    assert fabric["address"] == ["198.18.9.12"] and "channel-bulk-fds" not in fabric  # one per link: 2
    assert host["aerospike"]["config"]["network"]["heartbeat"]["address"] == ["198.18.0.12", "198.18.1.12"]


def test_without_an_anchor_subnet_nothing_is_placed():
    result = fleet()
    assert result["clusters"]["c1"]["anchors"] is None
    assert result["hosts"]["db1"]["mptcp"]["model"]["anchor"] is None


@pytest.mark.parametrize("group, message", [
    (dict(ANCHOR, fabric_strategy="balanced"), "cluster c1: fabric_mptcp_anchor_subnet is set, but fabric_strategy is "
                                               "balanced"),
    ({"fabric_mptcp_anchor_subnet": "198.18.1.128/25"}, "198.18.1.128/25 overlaps link fab1"),
    ({"fabric_mptcp_anchor_subnet": "2001:db8::/64"}, "2001:db8::/64 is IPv6"),
    ({"fabric_mptcp_anchor_subnet": "198.18.9.1/24"}, "cluster c1: fabric_mptcp_anchor_subnet: .*host bits set"),
])
def test_refused_anchor_subnets_name_the_cluster_and_the_variable(group, message):
    with pytest.raises(FabricError, match=message):
        fleet(group)


def test_the_anchor_subnet_is_one_for_the_whole_cluster():
    with pytest.raises(FabricError, match="fabric_mptcp_anchor_subnet differs from host db1's"):
        fleet(hosts={"db2": ANCHOR})


def test_a_fabric_address_of_ones_own_is_refused_under_the_anchor():
    with pytest.raises(FabricError, match="must bind and publish the anchor 198.18.9.1[12] alone"):
        fleet(dict(ANCHOR, aerospike_network={"fabric": {"address": ["198.18.0.11"]}}))
