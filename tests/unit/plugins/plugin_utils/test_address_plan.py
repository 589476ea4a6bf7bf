# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planner behaviour, checked against the stdlib ``ipaddress`` module as an independent oracle."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest

from hypothesis import assume, given, settings, strategies as st

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.bond_hash import slave_index
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

TWO_LINKS = [
    {"name": "fab0", "subnet": "198.18.0.0/24"},
    {"name": "fab1", "subnet": "198.18.1.0/24"},
]


def test_defaults_give_dot_eleven_and_dot_twelve():
    plan = plan_addresses({"db1": 1, "db2": 2}, TWO_LINKS)
    assert plan == {
        "db1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
        "db2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]},
    }


def test_hosts_come_out_in_node_id_order_and_lanes_are_lists():
    plan = plan_addresses({"c": 3, "a": 9, "b": 1}, TWO_LINKS[:1])
    assert list(plan) == ["b", "c", "a"]
    assert all(isinstance(v["fab0"], list) for v in plan.values())


def test_lanes_follow_the_formula():
    links = [{"name": "fab0", "subnet": "198.18.4.0/22", "offset": 20, "addresses_per_node": 3}]
    plan = plan_addresses({"n5": 5}, links)
    # offset + (k-1)*m + j + 1 for k=5, m=3 -> 33, 34, 35
    assert plan["n5"]["fab0"] == ["198.18.4.33", "198.18.4.34", "198.18.4.35"]


def test_ipv6_uses_compact_text():
    plan = plan_addresses({"db1": 1, "db2": 300}, [{"name": "v6", "subnet": "2001:db8:0:1::/64"}])
    assert plan["db1"]["v6"] == ["2001:db8:0:1::b"]
    assert plan["db2"]["v6"] == [str(ipaddress.ip_address("2001:db8:0:1::") + 310)]


def test_large_ipv6_subnet_is_not_enumerated():
    # A /32 has 2**96 addresses; planning must do arithmetic, not iterate.
    plan = plan_addresses({"db1": 10 ** 6}, [{"name": "v6", "subnet": "2001:db8::/32", "offset": 0}])
    assert plan["db1"]["v6"] == [str(ipaddress.ip_address("2001:db8::") + 10 ** 6)]


def test_digit_strings_from_ini_inventories_are_accepted():
    assert plan_addresses({"db1": "4"}, TWO_LINKS[:1]) == {"db1": {"fab0": ["198.18.0.14"]}}


def test_slash_31_has_no_broadcast():
    plan = plan_addresses({"a": 1}, [{"name": "p2p", "subnet": "198.18.9.0/31", "offset": 0}])
    assert plan == {"a": {"p2p": ["198.18.9.1"]}}


def test_exclude_ranges_only_hit_the_named_addresses():
    links = [{"name": "fab0", "subnet": "198.18.0.0/24", "exclude": ["198.18.0.100/30", "198.18.0.13"]}]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    assert plan["b"]["fab0"] == ["198.18.0.12"]


def test_bond_hash_blocks_are_aligned_and_stable():
    links = [{"name": "bond0", "subnet": "198.18.2.0/24",
              "bond_hash": {"policy": "layer2+3", "slaves": 4, "kernel": "6.1"}}]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    assert plan["a"]["bond0"] == ["198.18.2.12", "198.18.2.13", "198.18.2.14", "198.18.2.15"]
    assert plan["b"]["bond0"] == ["198.18.2.16", "198.18.2.17", "198.18.2.18", "198.18.2.19"]
    assert plan_addresses({"b": 2}, links)["b"] == plan["b"]


def test_bond_hash_on_shifting_kernels_uses_every_second_address():
    links = [{"name": "bond0", "subnet": "198.18.2.0/24",
              "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "5.15.0-91-generic"}}]
    plan = plan_addresses({"a": 1}, links)
    assert plan["a"]["bond0"] == ["198.18.2.12", "198.18.2.14"]


@pytest.mark.parametrize("era, addresses", [
    ("5.18+", ["198.18.2.12", "198.18.2.13"]),
    ("5.15-5.17", ["198.18.2.12", "198.18.2.14"]),
])
def test_an_explicit_era_wins_over_the_kernel_version(era, addresses):
    # RHEL 9 kernels read 5.14.0-*.el9 but may hash like 5.18: the era the counters show decides
    links = [{"name": "bond0", "subnet": "198.18.2.0/24",
              "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "5.14.0-362.el9.x86_64", "era": era}}]
    assert plan_addresses({"a": 1}, links)["a"]["bond0"] == addresses


def test_an_unknown_era_is_refused_naming_the_link():
    links = [{"name": "bond0", "subnet": "198.18.2.0/24", "bond_hash": {"policy": "layer2+3", "slaves": 2, "era": "6"}}]
    with pytest.raises(FabricError, match="bond0.*era '6' is not one of 5.18\\+, 5.15-5.17, 4.15-5.14"):
        plan_addresses({"a": 1}, links)


# ---------------------------------------------------------------- properties

def _oracle(subnet, offset, per_node, node_id):
    network = ipaddress.ip_network(subnet)
    return [str(network.network_address + offset + (node_id - 1) * per_node + lane + 1)
            for lane in range(per_node)]


@st.composite
def plain_link(draw, name="fab0"):
    version = draw(st.sampled_from([4, 6]))
    if version == 4:
        prefix = draw(st.integers(16, 28))
        base = draw(st.integers(0, 2 ** 32 - 1)) >> (32 - prefix) << (32 - prefix)
        subnet = "%s/%d" % (ipaddress.IPv4Address(base), prefix)
    else:
        prefix = draw(st.integers(48, 120))
        base = draw(st.integers(0, 2 ** 128 - 1)) >> (128 - prefix) << (128 - prefix)
        subnet = "%s/%d" % (ipaddress.IPv6Address(base), prefix)
    return {"name": name, "subnet": subnet, "offset": draw(st.integers(0, 40)),
            "addresses_per_node": draw(st.integers(1, 4))}


@settings(max_examples=300, deadline=None)
@given(link=plain_link(), ids=st.sets(st.integers(1, 60), min_size=1, max_size=12))
def test_plan_matches_formula_is_unique_and_inside_subnet(link, ids):
    network = ipaddress.ip_network(link["subnet"])
    usable_top = network.num_addresses - (2 if network.version == 4 else 1)
    assume(link["offset"] + max(ids) * link["addresses_per_node"] <= usable_top)
    nodes = dict(("h%d" % i, i) for i in ids)
    plan = plan_addresses(nodes, [link])
    seen = set()
    for host, node_id in nodes.items():
        addresses = plan[host]["fab0"]
        assert addresses == _oracle(link["subnet"], link["offset"], link["addresses_per_node"], node_id)
        for text in addresses:
            address = ipaddress.ip_address(text)
            assert address in network and address != network.network_address
            assert text not in seen
            seen.add(text)


@settings(max_examples=200, deadline=None)
@given(link=plain_link(), ids=st.sets(st.integers(1, 60), min_size=2, max_size=12), data=st.data())
def test_removing_a_node_never_renumbers_another(link, ids, data):
    network = ipaddress.ip_network(link["subnet"])
    assume(link["offset"] + max(ids) * link["addresses_per_node"] <= network.num_addresses - 2)
    nodes = dict(("h%d" % i, i) for i in ids)
    gone = data.draw(st.sampled_from(sorted(nodes)))
    full = plan_addresses(nodes, [link])
    fewer = dict(nodes)
    del fewer[gone]
    smaller = plan_addresses(fewer, [link])
    assert all(smaller[h] == full[h] for h in fewer)


@settings(max_examples=400, deadline=None)
@given(
    slaves=st.sampled_from([2, 4, 8, 16]),
    kernel=st.sampled_from(["4.19", "5.10", "5.15", "5.17", "5.18", "6.1", "6.12"]),
    version=st.sampled_from([4, 6]),
    offset=st.integers(0, 300),
    # Up to 1800 nodes in a /16: blocks land anywhere, including next to a byte boundary.
    node_id=st.integers(1, 1800),
    net_bits=st.integers(0, 255),
    peer_low=st.integers(1, 2 ** 16 - 2),
    smac=st.integers(0, 255),
    dmac=st.integers(0, 255),
)
def test_bond_hash_addresses_leave_through_distinct_members(
        slaves, kernel, version, offset, node_id, net_bits, peer_low, smac, dmac):
    if version == 4:
        network = ipaddress.ip_network("%s/16" % ipaddress.IPv4Address((198 << 24) | (net_bits << 16)))
    else:
        network = ipaddress.ip_network("2001:db8:%x::/64" % net_bits)
    link = {"name": "bond0", "subnet": str(network), "offset": offset,
            "bond_hash": {"policy": "layer2+3", "slaves": slaves, "kernel": kernel}}
    plan = plan_addresses({"me": node_id}, [link])
    addresses = plan["me"]["bond0"]
    assert len(addresses) == slaves
    peer = str(network.network_address + peer_low)
    assume(peer not in addresses)
    macs = dict(src_mac="52:54:00:00:00:%02x" % smac, dst_mac="52:54:00:00:01:%02x" % dmac)
    # Both directions: the peer sending to each of our addresses, and us answering.
    towards = {slave_index(peer, a, slaves, kernel=kernel, **macs) for a in addresses}
    back = {slave_index(a, peer, slaves, kernel=kernel, **macs) for a in addresses}
    assert len(towards) == slaves
    assert len(back) == slaves
