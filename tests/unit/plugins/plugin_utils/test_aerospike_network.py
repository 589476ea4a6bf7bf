# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The computed network stanza: fabric addresses, mesh seeds, info/admin, errors naming variables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import aerospike_network
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.aerospike_network import (
    build_network, mesh_seeds, uses_admin,
)
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

TWO = [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"}]
FOUR = TWO + [{"name": "fab6", "subnet": "2001:db8:20::/64"},
              {"name": "bond0", "subnet": "198.18.20.0/24", "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}}]


def plan(count, links):
    return plan_addresses({"db%d" % i: i for i in range(1, count + 1)}, links)


def test_two_nodes_two_links_on_7_2():
    net = build_network("db1", plan(2, TWO), TWO, version="7.2")
    assert net == {
        "service": {"address": [], "port": 3000, "access-address": [], "alternate-access-address": []},
        "heartbeat": {"mode": "mesh", "address": ["198.18.10.11", "198.18.11.11"], "port": 3002,
                      "mesh-seed-address-port": ["198.18.10.12 3002", "198.18.11.12 3002"],
                      "interval": 150, "timeout": 10},
        "fabric": {"address": ["198.18.10.11", "198.18.11.11"], "port": 3001, "channel-bulk-fds": 4},
        "info": {"port": 3003},
    }


def test_8_1_uses_admin_and_lets_heartbeat_bind_to_the_fabric_addresses():
    net = build_network("db1", plan(2, TWO), TWO, version="8.1")
    assert "info" not in net and net["admin"] == {"port": 3003}
    assert "address" not in net["heartbeat"]


@pytest.mark.parametrize("version, admin", [("6.0", False), ("7.2", False), ("8.0", False), ("8.0.0.9", False),
                                            ("8.1", True), ("8.1.0.0", True), ("8.10", True), ("9.0", True)])
def test_info_up_to_8_0_admin_from_8_1(version, admin):
    assert uses_admin(version) is admin


def test_four_links_publish_every_lane_and_ipv6():
    full = plan(2, FOUR)
    net = build_network("db1", full, FOUR, version="8.0", strategy="native", edition="enterprise")
    assert net["fabric"]["address"] == ["198.18.10.11", "198.18.11.11", "2001:db8:20::b", "198.18.20.12", "198.18.20.13"]
    assert net["heartbeat"]["mesh-seed-address-port"] == [
        "198.18.10.12 3002", "198.18.11.12 3002", "2001:db8:20::c 3002", "198.18.20.14 3002"]


def test_single_publishes_only_the_primary_address_but_heartbeat_keeps_every_link():
    net = build_network("db2", plan(2, FOUR), FOUR, version="8.1", strategy="single", edition="enterprise")
    assert net["fabric"]["address"] == ["198.18.10.12"]
    # 8.1 would bind heartbeat to the one fabric address, so the address lines stay
    assert net["heartbeat"]["address"] == ["198.18.10.12", "198.18.11.12", "2001:db8:20::c", "198.18.20.14", "198.18.20.15"]
    assert len(net["heartbeat"]["mesh-seed-address-port"]) == 4


def test_fabric_port_is_the_first_fabric_port():
    net = build_network("db1", plan(2, TWO), TWO, version="7.2", fabric_ports=[3101, 3102])
    assert net["fabric"]["port"] == 3101


def test_extra_is_merged_over_the_computed_stanza():
    extra = {"fabric": {"channel-rw-fds": 16, "port": None}, "service": {"access-address": ["203.0.113.1"]},
             "tls": [{"name": "t1", "cert-file": "/x"}]}
    net = build_network("db1", plan(2, TWO), TWO, version="7.2", extra=extra)
    assert net["fabric"] == {"address": ["198.18.10.11", "198.18.11.11"], "port": None, "channel-rw-fds": 16,
                             "channel-bulk-fds": 4}
    assert net["service"]["access-address"] == ["203.0.113.1"]
    assert net["tls"] == [{"name": "t1", "cert-file": "/x"}]


# ---------------------------------------------------------------- seeds

def test_seeds_are_every_peer_over_every_link_when_they_fit():
    assert mesh_seeds("b", {"a": 0, "b": 0, "c": 0}, ["l0", "l1"], 8) == [
        ("c", "l0"), ("c", "l1"), ("a", "l0"), ("a", "l1")]


def test_seeds_split_the_budget_and_deal_the_links_round_robin():
    hosts = {h: 0 for h in "abcd"}
    assert mesh_seeds("a", hosts, ["l0", "l1", "l2", "l3"], 8) == [
        ("b", "l0"), ("b", "l1"), ("b", "l2"),
        ("c", "l0"), ("c", "l1"), ("c", "l3"),
        ("d", "l2"), ("d", "l3")]


def test_more_peers_than_seeds_takes_the_next_peers_round_the_ring():
    hosts = {"n%02d" % i: 0 for i in range(20)}
    pairs = mesh_seeds("n18", hosts, ["l0", "l1"], 8)
    assert [p for p, _l in pairs] == ["n19", "n00", "n01", "n02", "n03", "n04", "n05", "n06"]
    assert [lk for _p, lk in pairs] == ["l0", "l1"] * 4


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(0, 12), st.data())
def test_seed_properties(nodes, links, budget, data):
    hosts = {"h%d" % i: 0 for i in range(nodes)}
    me = "h%d" % data.draw(st.integers(0, nodes - 1))
    names = ["l%d" % i for i in range(links)]
    pairs = mesh_seeds(me, hosts, names, budget)
    peers = nodes - 1
    assert len(pairs) == min(budget, peers * links)
    assert len(set(pairs)) == len(pairs)
    assert all(peer != me for peer, _l in pairs)
    if peers and budget >= links:
        # every link carries seeds, about equally, so losing one link leaves the others
        per_link = [sum(1 for _p, lk in pairs if lk == name) for name in names]
        assert min(per_link) >= 1 and max(per_link) - min(per_link) <= 1, per_link
    if peers and budget >= peers:
        assert set(p for p, _l in pairs) == set(hosts) - {me}
    assert mesh_seeds(me, hosts, names, budget) == pairs


# ---------------------------------------------------------------- errors name the variable

@pytest.mark.parametrize("options, variable", [
    ({"version": 8.1}, "aerospike_version"),
    ({"version": "8"}, "aerospike_version"),
    ({"version": "5.7"}, "aerospike_version"),
    ({"strategy": "roundrobin"}, "fabric_strategy"),
    ({"edition": "free"}, "aerospike_edition"),
    ({"fabric_ports": []}, "fabric_ports"),
    ({"fabric_ports": [80]}, "fabric_ports[0]"),
    ({"service_port": 70000}, "aerospike_service_port"),
    ({"heartbeat_port": "30o2"}, "aerospike_heartbeat_port"),
    ({"info_port": 1000}, "aerospike_info_port"),
    ({"heartbeat_interval": 10}, "aerospike_heartbeat_interval"),
    ({"heartbeat_timeout": 2}, "aerospike_heartbeat_timeout"),
    ({"heartbeat_connect_timeout_ms": 501}, "aerospike_heartbeat_connect_timeout_ms"),
    ({"max_seeds": 9}, "aerospike_heartbeat_max_seeds"),
    ({"service_addresses": "10.0.0.1"}, "aerospike_service_addresses"),
    ({"extra": {"admin": {"port": 3003}}}, "aerospike_network.admin"),
    ({"version": "8.1", "extra": {"info": {"port": 3003}}}, "aerospike_network.info"),
    ({"extra": ["x"]}, "aerospike_network"),
])
def test_errors_name_the_variable(options, variable):
    options = dict({"version": "7.2"}, **options)
    with pytest.raises(FabricError) as info:
        build_network("db1", plan(2, TWO), TWO, **options)
    assert str(info.value).startswith(variable + ":"), str(info.value)


def test_enterprise_may_raise_the_seed_limit():
    net = build_network("db1", plan(10, TWO), TWO, version="7.2", edition="enterprise", max_seeds=18)
    assert len(net["heartbeat"]["mesh-seed-address-port"]) == 18


def test_digit_strings_from_extra_vars_are_numbers():
    net = build_network("db1", plan(2, TWO), TWO, version="7.2", heartbeat_interval="200", fabric_ports=["3001"])
    assert net["heartbeat"]["interval"] == 200 and net["fabric"]["port"] == 3001


def test_connect_timeout_at_the_limit_is_written():
    net = build_network("db1", plan(2, TWO), TWO, version="7.2", heartbeat_connect_timeout_ms=500)
    assert net["heartbeat"]["connect-timeout-ms"] == 500


def test_host_outside_the_plan_is_named():
    with pytest.raises(FabricError, match="host db9 is not in the address plan"):
        build_network("db9", plan(2, TWO), TWO, version="7.2")


FOUR_V4 = TWO + [{"name": "fab2", "subnet": "198.18.12.0/24"}, {"name": "fab3", "subnet": "198.18.13.0/24"}]


def test_balanced_gives_the_bulk_channel_at_least_four_sockets():
    # bulk sockets carry about one record each: 2 over 2 links leave them idle between records,
    # more than the server's 4 bulk receive threads cost (docs/performance.md)
    net = build_network("db1", plan(2, FOUR_V4), FOUR_V4, version="8.1")
    assert len(net["fabric"]["address"]) == 4
    assert net["fabric"]["channel-bulk-fds"] == 4 and "channel-rw-fds" not in net["fabric"]
    assert build_network("db1", plan(2, TWO), TWO, version="8.1")["fabric"]["channel-bulk-fds"] == 4


def test_one_link_keeps_the_server_defaults():
    one = TWO[:1]
    assert set(build_network("db1", plan(2, one), one, version="8.1")["fabric"]) == {"address", "port"}


@pytest.mark.parametrize("lanes, bulk", [(1, None), (2, 4), (3, 6), (4, 4), (5, 5), (6, 6), (10, 10), (64, 64),
                                         (100, 100), (200, 128)])
def test_bulk_sockets_are_a_multiple_of_the_lanes_so_the_rotation_is_exact(lanes, bulk):
    fds = aerospike_network.channel_fds("balanced", lanes)
    assert fds.get("channel-bulk-fds") == bulk
    if bulk:
        assert bulk % lanes == 0 or bulk == aerospike_network.MAX_CHANNEL_FDS < lanes


@pytest.mark.parametrize("strategy", ["native", "single"])
def test_other_strategies_keep_the_server_defaults(strategy):
    fabric = build_network("db1", plan(2, FOUR_V4), FOUR_V4, version="8.1", strategy=strategy)["fabric"]
    assert "channel-bulk-fds" not in fabric


def test_beyond_eight_lanes_rw_grows_too_and_a_user_value_wins():
    links = [{"name": "fab%d" % i, "subnet": "198.18.%d.0/24" % (20 + i)} for i in range(5)]
    links[0]["addresses_per_node"] = 6
    fabric = build_network("db1", plan(2, links), links, version="8.1")["fabric"]
    assert len(fabric["address"]) == 10
    assert fabric["channel-bulk-fds"] == 10 and fabric["channel-rw-fds"] == 10
    fabric = build_network("db1", plan(2, links), links, version="8.1",
                           extra={"fabric": {"channel-bulk-fds": 3}})["fabric"]
    assert fabric["channel-bulk-fds"] == 3


@pytest.mark.parametrize("strategy", ["balanced", "native", "single"])
def test_community_edition_refuses_an_ipv6_link_naming_it(strategy):
    # the real 8.1.2.0 CE server stops with "Invalid address: 2001:db8:20::b" (tests/integration/test_golden_server.py)
    with pytest.raises(FabricError, match=r"link fab6 \(2001:db8:20::/64\) is IPv6, but Aerospike Community Edition binds IPv4 only"):
        build_network("db1", plan(2, FOUR), FOUR, version="8.1", strategy=strategy)


def test_an_anchor_is_the_one_fabric_address_with_a_bulk_socket_per_link_and_heartbeat_on_every_link():
    net = build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="mptcp", anchor="198.18.9.11")
    assert net["fabric"]["address"] == ["198.18.9.11"]
    # a bulk socket per link, no more: the server's 2 on 2 links, 4 on 4
    assert "channel-bulk-fds" not in net["fabric"]
    v4 = [{"name": "fab%d" % i, "subnet": "198.18.%d.0/24" % (20 + i)} for i in range(4)]
    four = build_network("db1", plan(2, v4), v4, version="8.1", strategy="mptcp", anchor="198.18.9.11")
    assert four["fabric"]["channel-bulk-fds"] == 4 and "channel-rw-fds" not in four["fabric"]
    assert net["heartbeat"]["address"] == [a for link in ("fab0", "fab1") for a in plan(2, TWO)["db1"][link]]
    without = build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="mptcp")
    assert "channel-bulk-fds" not in without["fabric"] and "address" not in without["heartbeat"]


def test_an_anchor_needs_mptcp():
    with pytest.raises(FabricError, match="fabric_mptcp_anchor_subnet: an anchor address exists only under "
                                          "fabric_strategy mptcp, not balanced"):
        build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="balanced", anchor="198.18.9.11")


def test_under_mptcp_an_idle_subflow_outlives_a_link_loss_unless_aerospike_network_says_otherwise():
    # the server's keepalive-time of 1 s let the kernel close an idle subflow on a lost link after
    # about 10 s, and each such death uses up one of the connection's 8 re-joins (linkwatch.py EXHAUSTED)
    net = build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="mptcp")
    assert net["fabric"]["keepalive-time"] == 600
    placed = build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="mptcp", anchor="198.18.9.11")
    assert placed["fabric"]["keepalive-time"] == 600
    mine = build_network("db1", plan(2, TWO), TWO, version="8.1", strategy="mptcp",
                         extra={"fabric": {"keepalive-time": 30}})
    assert mine["fabric"]["keepalive-time"] == 30
    for strategy in ("balanced", "native", "single"):
        assert "keepalive-time" not in build_network("db1", plan(2, TWO), TWO, version="8.1", strategy=strategy)["fabric"]
