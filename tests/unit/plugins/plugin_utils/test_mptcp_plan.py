# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_plan: the endpoints, limits, families and peers of one node, and the watchdog's
configuration in MPTCP mode (checked by the daemon's own load_config)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import shutil
import subprocess

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.mptcp_apply import MAX_ENDPOINTS, OUR_IDS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import mptcp_plan
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses

HERE = os.path.dirname(os.path.abspath(__file__))
LINKWATCH = os.path.join(HERE, "..", "..", "..", "..", "roles", "nat", "files", "linkwatch.py")
LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)


def linkwatch():
    spec = importlib.util.spec_from_file_location("linkwatch_for_plan", LINKWATCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_signal_endpoint_per_address_bound_to_its_link():
    model = mptcp_plan.build(PLAN, "n2", DEVICES, [3001, 3002])
    assert model["node"] == "n2"
    assert model["endpoints"] == [
        {"id": 101, "link": "fab0", "address": "198.18.0.12", "device": "eth0"},
        {"id": 102, "link": "fab1", "address": "198.18.1.12", "device": "eth1"}]
    assert all(e["id"] in OUR_IDS for e in model["endpoints"])
    assert model["lanes"] == 2 and model["limits"] == {"subflows": 8, "add_addr_accepted": 8}
    assert model["links"] == [{"name": "fab0", "device": "eth0", "family": "ipv4", "source": "198.18.0.12"},
                              {"name": "fab1", "device": "eth1", "family": "ipv4", "source": "198.18.1.12"}]
    assert model["peers"] == {"n1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
                              "n3": {"fab0": ["198.18.0.13"], "fab1": ["198.18.1.13"]}}
    assert model["ports"] == [3001, 3002]
    assert set(model) == set(mptcp_plan.MODEL_KEYS)


def test_four_links_are_four_endpoints_under_the_kernel_limits():
    links = [{"name": "fab%d" % n, "subnet": "198.18.%d.0/24" % n} for n in range(4)]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    model = mptcp_plan.build(plan, "a", [{"name": "fab%d" % n, "device": "eth%d" % n} for n in range(4)], [3001])
    assert [e["id"] for e in model["endpoints"]] == [101, 102, 103, 104]
    assert model["lanes"] == 4 and model["limits"] == {"subflows": 8, "add_addr_accepted": 8}


def test_several_addresses_per_node_are_an_endpoint_each():
    links = [dict(link, addresses_per_node=2) for link in LINKS]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    model = mptcp_plan.build(plan, "a", DEVICES, [3001])
    assert [(e["link"], e["device"]) for e in model["endpoints"]] == [
        ("fab0", "eth0"), ("fab0", "eth0"), ("fab1", "eth1"), ("fab1", "eth1")]
    assert len(set(e["address"] for e in model["endpoints"])) == 4
    assert model["lanes"] == 4 and model["limits"] == {"subflows": 8, "add_addr_accepted": 8}


def test_lanes_count_the_largest_family_only():
    plan = {"a": {"fab0": ["198.18.0.11"], "fab1": ["fd00:1::11"], "fab2": ["fd00:2::11"]},
            "b": {"fab0": ["198.18.0.12"], "fab1": ["fd00:1::12"], "fab2": ["fd00:2::12"]}}
    devices = DEVICES + [{"name": "fab2", "device": "eth2"}]
    model = mptcp_plan.build(plan, "a", devices, [3001])
    assert [link["family"] for link in model["links"]] == ["ipv4", "ipv6", "ipv6"]
    assert model["lanes"] == 2 and model["limits"] == {"subflows": 8, "add_addr_accepted": 8}


def test_more_endpoints_than_the_kernel_takes_are_refused():
    links = [dict(link, addresses_per_node=5) for link in LINKS]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    with pytest.raises(FabricError, match="10 fabric addresses on this node, but the kernel takes at most %d"
                       % MAX_ENDPOINTS):
        mptcp_plan.build(plan, "a", DEVICES, [3001])


@pytest.mark.parametrize("plan, node, links, message", [
    (PLAN, "n9", DEVICES, "node 'n9' is not in the address plan"),
    ([], "n1", DEVICES, "node 'n1' is not in the address plan"),
    (PLAN, "n1", [], "no links"),
    (PLAN, "n1", [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": None}],
     "link fab1 has no device; every endpoint is bound to its interface"),
    (PLAN, "n1", [{"name": "fab7", "device": "eth7"}], "node n1 has no address on link fab7"),
])
def test_bad_input_is_refused_naming_it(plan, node, links, message):
    with pytest.raises(FabricError, match=message):
        mptcp_plan.build(plan, node, links, [3001])


def test_a_peer_without_an_address_on_a_link_lists_only_the_links_it_has():
    plan = dict(PLAN, n3={"fab0": ["198.18.0.13"]})
    model = mptcp_plan.build(plan, "n1", DEVICES, [3001])
    assert model["peers"]["n3"] == {"fab0": ["198.18.0.13"]}


@pytest.mark.parametrize("model", [None, {}, {"node": "n1"},
                                   dict((key, []) for key in mptcp_plan.MODEL_KEYS)])
def test_check_model_refuses_anything_but_a_built_model(model):
    with pytest.raises(FabricError, match="must be the MPTCP model as the inventory contract computes it"):
        mptcp_plan.check_model(model)


def test_check_model_takes_a_built_model():
    mptcp_plan.check_model(mptcp_plan.build(PLAN, "n1", DEVICES, [3001]))


def test_the_watchdog_config_is_mptcp_kind_and_passes_the_daemons_check():
    model = mptcp_plan.build(PLAN, "n1", DEVICES, [3001])
    config = mptcp_plan.watchdog_config(model, {"probe": "icmp", "interval_ms": 50, "hold_down_s": 2.0})
    assert config["kind"] == "mptcp" and config["node"] == "n1" and config["probe"] == "icmp"
    assert config["endpoints"] == [{"id": 101, "link": "fab0", "address": "198.18.0.11"},
                                   {"id": 102, "link": "fab1", "address": "198.18.1.11"}]
    assert "chains" not in config and "table" not in config
    checked = linkwatch().load_config(config)
    assert checked["kind"] == "mptcp" and checked["chains"] == [] and checked["interval_ms"] == 50
    assert checked["endpoints"] == [{"id": 101, "link": "fab0", "address": "198.18.0.11", "device": "eth0"},
                                    {"id": 102, "link": "fab1", "address": "198.18.1.11", "device": "eth1"}]


@pytest.mark.parametrize("settings, message", [
    ("fast", "watchdog_settings must be a mapping"),
    ({"probe": "tcp", "speed": 3}, "watchdog_settings: speed not one of"),
])
def test_bad_watchdog_settings_are_refused(settings, message):
    model = mptcp_plan.build(PLAN, "n1", DEVICES, [3001])
    with pytest.raises(FabricError, match=message):
        mptcp_plan.watchdog_config(model, settings)


# ---------------------------------------------------------------------------- anchor placement
def anchored(node="n1", nodes=3, ports=(3001,)):
    links = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"},
             {"name": "fab2", "subnet": "198.18.2.0/24"}]
    plan = plan_addresses(dict(("n%d" % i, i) for i in range(1, nodes + 1)), links)
    anchors = dict(("n%d" % i, "198.18.9.%d" % (10 + i)) for i in range(1, nodes + 1))
    return mptcp_plan.build(plan, node, [{"name": "fab%d" % i, "device": "eth%d" % i} for i in range(3)],
                            list(ports), anchors=anchors, anchor_subnet="198.18.9.0/24")


def test_each_peer_anchor_rotates_over_the_peers_links_through_one_map():
    text = mptcp_plan.render_anchor_nft(anchored(ports=(3001, 3011)))
    assert text.splitlines()[3:6] == ["table ip clusterfabric_mptcp", "delete table ip clusterfabric_mptcp",
                                      "table ip clusterfabric_mptcp {"]
    for peer in (2, 3):
        for port in (3001, 3011):
            assert "\t\t\t198.18.9.1%d . %d : goto peer_n%d" % (peer, port, peer) in text
        assert ("\tchain peer_n%d {\n\t\tdnat to numgen inc mod 3 map { 0 : 198.18.0.%d, 1 : 198.18.1.%d, "
                "2 : 198.18.2.%d }\n\t}" % (peer, 10 + peer, 10 + peer, 10 + peer)) in text
    assert "\t\tip daddr . tcp dport vmap @place\n" in text
    assert "peer_n1" not in text
    for index in range(3):
        assert ('\t\toifname "eth%d" tcp dport { 3001, 3011 } ct status dnat ct original ip daddr 198.18.9.0/24 '
                'snat to 198.18.%d.11\n' % (index, index)) in text
    assert ("\t\tip daddr { 198.18.0.11, 198.18.1.11, 198.18.2.11 } tcp dport { 3001, 3011 } dnat to 198.18.9.11\n"
            in text)


def test_the_rule_count_does_not_grow_with_the_cluster_but_the_map_does():
    small, large = (mptcp_plan.render_anchor_nft(anchored(nodes=n)) for n in (3, 40))
    rules = [line for line in large.splitlines() if line.startswith("\t\t") and not line.startswith("\t\t\t")
             and "dnat to numgen" not in line and not line.startswith("\t\ttype")]
    assert len(rules) == len([line for line in small.splitlines() if line.startswith("\t\t") and not line.startswith(
        "\t\t\t") and "dnat to numgen" not in line and not line.startswith("\t\ttype")])
    assert large.count(" : goto peer_") == 39


def test_a_model_without_an_anchor_renders_nothing():
    with pytest.raises(FabricError, match="node n1 has no anchor placement"):
        mptcp_plan.render_anchor_nft(dict(anchored(), anchor=None))
    with pytest.raises(FabricError, match="node n1 has no anchor address"):
        mptcp_plan.build(plan_addresses({"n1": 1}, [{"name": "fab0", "subnet": "198.18.0.0/24"}]), "n1",
                         [{"name": "fab0", "device": "eth0"}], [3001], anchors={"n2": "198.18.9.12"},
                         anchor_subnet="198.18.9.0/24")


@pytest.mark.skipif(not shutil.which("nft") or os.geteuid() != 0, reason="needs nft and root (nft -c asks the kernel)")
def test_the_kernels_nft_accepts_the_script():
    for nodes in (1, 3):
        result = subprocess.run(["nft", "-c", "-f", "-"], input=mptcp_plan.render_anchor_nft(anchored(nodes=nodes)),
                                universal_newlines=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        assert result.returncode == 0, result.stderr
