# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nat_rules: the structured rules, the nft script, the iptables-restore text, the watchdog's
configuration and what the node gets (node_rules)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest
from hypothesis import example, given, strategies as st

from ansible_collections.clusterfabric.multilink.plugins.module_utils import checks, nat_apply
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)


def build(**options):
    args = dict(plan=PLAN, node="n1", links=DEVICES)
    args.update(options)
    return nat_rules.build(**args)


def peer(model, name, port=3001, family="ipv4"):
    return next(r for r in model["peers"]
                if r["peer"] == name and r["port"] == port and r["family"] == family)


# ---------------------------------------------------------------------------- rotation
def test_equal_weights_alternate():
    assert nat_rules.rotation([("a", 1), ("b", 1)]) == [0, 1]
    assert nat_rules.rotation([("a", 1), ("b", 1), ("c", 1)]) == [0, 1, 2]


def test_weights_interleave_instead_of_bunching():
    assert nat_rules.rotation([("a", 2), ("b", 1)]) == [0, 1, 0]
    assert nat_rules.rotation([("a", 1), ("b", 3)]) == [1, 0, 1, 1]


@example([1, 1, 3, 12, 12])   # smooth weighted round robin left one target 1.03 behind here
@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=5))
def test_rotation_gives_each_target_its_weight_and_stays_close_all_along(weights):
    order = nat_rules.rotation(list(enumerate(weights)))
    total = sum(weights)
    assert len(order) == total
    assert [order.count(i) for i in range(len(weights))] == weights
    counts = [0] * len(weights)
    for n, index in enumerate(order, 1):
        counts[index] += 1
        for i, weight in enumerate(weights):
            assert abs(counts[i] - n * weight / float(total)) <= 1


@given(st.lists(st.tuples(st.integers(min_value=1, max_value=4), st.integers(min_value=1, max_value=5)),
                min_size=1, max_size=4))
def test_link_rotation_splits_every_run_over_the_links_and_cycles_each_links_addresses(links):
    """links: [(addresses on the link, the link's weight)]."""
    targets = [("l%d" % k, "a%d.%d" % (k, j), weight) for k, (count, weight) in enumerate(links) for j in range(count)]
    order = nat_rules.link_rotation(targets)
    assert sorted(set(order)) == list(range(len(targets)))
    assert [order.count(i) for i in range(len(targets))] == [t[2] for t in targets]
    shares = [count * weight for count, weight in links]
    total = float(sum(shares))
    assert len(order) == sum(shares)
    per_link = [0] * len(links)
    for n, index in enumerate(order, 1):
        per_link[int(targets[index][0][1:])] += 1
        for k, share in enumerate(shares):
            assert abs(per_link[k] - n * share / total) <= 1
    for k in range(len(links)):
        own = [index for index in order if targets[index][0] == "l%d" % k]
        assert own == [i for i, t in enumerate(targets) if t[0] == "l%d" % k] * links[k][1]


def test_one_address_per_link_keeps_the_plain_rotation():
    for weights in ([1, 1], [2, 1], [1, 3], [1, 1, 3, 12, 12]):
        targets = [("l%d" % k, "a%d" % k, weight) for k, weight in enumerate(weights)]
        assert nat_rules.link_rotation(targets) == nat_rules.rotation([(t[1], t[2]) for t in targets])


def test_two_addresses_per_link_alternate_the_links():
    links = [{"name": "fab0", "subnet": "198.18.0.0/24", "addresses_per_node": 2},
             {"name": "fab1", "subnet": "198.18.1.0/24", "addresses_per_node": 2}]
    plan = plan_addresses({"n1": 1, "n2": 2}, links)
    rule = peer(nat_rules.build(plan, "n1", DEVICES), "n2")
    lanes = [(lane["link"], lane["address"]) for lane in rule["lanes"]]
    assert lanes == [("fab0", plan["n2"]["fab0"][0]), ("fab1", plan["n2"]["fab1"][0]),
                     ("fab0", plan["n2"]["fab0"][1]), ("fab1", plan["n2"]["fab1"][1])]
    # A peer's 14 Aerospike sockets (rw 8, bulk 4, ctrl, meta): 7 per link, not 8 + 6.
    links_of_14 = [rule["lanes"][i % 4]["link"] for i in range(14)]
    assert links_of_14.count("fab0") == links_of_14.count("fab1") == 7


# ---------------------------------------------------------------------------- model
def test_every_peer_gets_lanes_over_its_links_and_snat_per_link():
    model = build()
    assert [r["peer"] for r in model["peers"]] == ["n2", "n3"]
    rule = peer(model, "n2")
    assert rule["match"] == ["198.18.0.12", "198.18.1.12"]
    assert rule["lanes"] == [{"lane": 0, "link": "fab0", "address": "198.18.0.12"},
                             {"lane": 1, "link": "fab1", "address": "198.18.1.12"}]
    assert rule["total_weight"] == 2
    assert rule["chain"] == "peer_n2_3001" and rule["iptables_chain"] == "CFML-n2-3001"
    assert [(s["link"], s["device"], s["source"]) for s in model["snat"]] == [
        ("fab0", "eth0", "198.18.0.11"), ("fab1", "eth1", "198.18.1.11")]
    assert model["families"] == ["ipv4"] and model["primary_link"] == "fab0"


def test_weights_expand_into_lanes():
    rule = peer(build(weights={"fab1": 2}), "n3")
    assert [lane["link"] for lane in rule["lanes"]] == ["fab1", "fab0", "fab1"]
    assert rule["targets"] == [{"link": "fab0", "address": "198.18.0.13", "weight": 1},
                               {"link": "fab1", "address": "198.18.1.13", "weight": 2}]


def test_spread_primary_matches_only_the_primary_link_addresses():
    assert peer(build(spread="primary"), "n2")["match"] == ["198.18.0.12"]
    assert peer(build(spread="primary", primary_link="fab1"), "n2")["match"] == ["198.18.1.12"]


def test_one_rule_set_per_port():
    model = build(ports=[3001, "3002"])
    assert model["ports"] == [3001, 3002]
    assert {(r["peer"], r["port"]) for r in model["peers"]} == {
        ("n2", 3001), ("n2", 3002), ("n3", 3001), ("n3", 3002)}


def test_a_port_listed_twice_is_refused_as_the_contract_refuses_it():
    """Settled one way: fleet_plan/the contract refused duplicates, nat_rules dropped them."""
    with pytest.raises(FabricError, match=r"ports: port 3001 is listed twice"):
        build(ports=[3001, "3002", "3001"])


def test_bond_lanes_are_all_targets():
    links = [{"name": "bond0", "subnet": "198.18.2.0/24",
              "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}},
             {"name": "fab1", "subnet": "198.18.3.0/24"}]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    model = nat_rules.build(plan, "a", [{"name": "bond0", "device": "bond0"},
                                        {"name": "fab1", "device": "eth2"}])
    rule = model["peers"][0]
    assert [t["address"] for t in rule["targets"]] == plan["b"]["bond0"] + plan["b"]["fab1"]
    assert rule["total_weight"] == 3
    snat = model["snat"][0]
    assert snat["own_addresses"] == plan["a"]["bond0"] and snat["source"] == plan["a"]["bond0"][0]


def test_families_are_split_and_a_family_with_one_link_is_left_alone():
    links = [{"name": "v6a", "subnet": "2001:db8:1::/64"}, {"name": "v6b", "subnet": "2001:db8:2::/64"},
             {"name": "v4", "subnet": "198.18.4.0/24"}]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    model = nat_rules.build(plan, "a", [{"name": n, "device": "e%d" % i}
                                        for i, n in enumerate(["v6a", "v6b", "v4"])])
    assert model["families"] == ["ipv6"]
    assert [t["link"] for t in model["peers"][0]["targets"]] == ["v6a", "v6b"]
    assert [s["link"] for s in model["snat"]] == ["v6a", "v6b"]


def test_links_not_listed_are_ignored_and_a_single_link_steers_nothing():
    model = build(links=[{"name": "fab1", "device": "eth1"}])
    assert model["peers"] == [] and model["snat"] == [] and model["families"] == []


def test_unsafe_host_names_get_hashed_chain_names():
    plan = {"db1.example.com": PLAN["n1"], "db-2": PLAN["n2"]}
    model = nat_rules.build(plan, "db-2", DEVICES)
    rule = model["peers"][0]
    assert re.match(r"^peer_h[0-9a-f]{10}_3001$", rule["chain"])
    assert re.match(r"^CFML-h[0-9a-f]{10}-3001$", rule["iptables_chain"])
    model = nat_rules.build(plan, "db1.example.com", DEVICES)
    assert model["peers"][0]["chain"] == "peer_db-2_3001"


# ---------------------------------------------------------------------------- bad input
BAD = [
    (dict(node="n9"), "node 'n9' is not a host of the plan"),
    (dict(links=[{"name": "fab0"}]), "link fab0 has no device"),
    (dict(links=[{"name": "fab0", "device": ""}]), "link fab0 has no device"),
    (dict(weights={"fab7": 2}), "weights: link 'fab7' is not one of the links (fab0, fab1)"),
    (dict(weights={"fab1": 0}), "weights: link fab1 has weight 0"),
    (dict(weights={"fab1": -3}), "weights: link fab1 has weight -3"),
    (dict(weights={"fab1": True}), "weights: link fab1 has weight True"),
    (dict(ports=[0]), "ports: 0 is not a TCP port"),
    (dict(ports=[65536]), "ports: 65536 is not a TCP port"),
    (dict(ports=["ssh"]), "ports: 'ssh' is not a TCP port"),
    (dict(ports=[]), "ports must be a non-empty list"),
    (dict(plan={"n1": PLAN["n1"], "n2": {"fab0": ["198.18.0.12"]}}), "plan: peer n2 has no address on link fab1"),
    (dict(plan={"n1": {"fab0": ["198.18.0.11"]}, "n2": PLAN["n2"]}), "plan: node n1 has no address on link fab1"),
    (dict(plan={"n1": PLAN["n1"], "n2": {"fab0": ["198.18.0.12"], "fab1": ["bogus"]}}),
     "plan: host n2 link fab1: 'bogus' is not an IP address"),
    (dict(plan={"n1": PLAN["n1"], "n2": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.12"]}}),
     "plan: address 198.18.0.11 is used twice (host n1 link fab0 and host n2 link fab0)"),
    (dict(plan={"n1": PLAN["n1"], "n2": {"fab0": ["2001:db8::2"], "fab1": ["198.18.1.12"]}}),
     "plan: link fab0 has ipv4 addresses (host n1) and ipv6 addresses (host n2)"),
    (dict(plan={}), "plan must be the non-empty mapping"),
    (dict(mode="roundrobin"), "mode 'roundrobin' must be one of nth, random"),
    (dict(spread="some"), "spread 'some' must be one of all, primary"),
    (dict(primary_link="fab9"), "primary_link 'fab9' is not one of the links (fab0, fab1)"),
    (dict(links=[{"name": "fab0", "device": "eth0"}, {"name": "fab0", "device": "eth1"}]),
     "link fab0 is listed twice"),
    (dict(links=[{"name": "Fab0", "device": "eth0"}]), "links[0]: link name 'Fab0' must match"),
    (dict(links=[]), "links must be a non-empty list"),
]


@pytest.mark.parametrize("options, message", BAD, ids=[m.split(":")[0][:40] for dummy, m in BAD])
def test_bad_input_names_the_item(options, message):
    with pytest.raises(FabricError) as caught:
        build(**options)
    assert message in str(caught.value)


@pytest.mark.parametrize("device", [
    'eth0"', "eth0 ", "eth0\n", "eth0;", "eth{0}", "e'0", "eth0}", "-eth0", ".eth", "eth+",
    "averyveryverylongname", "eth/0", "eth#0", "ib0:1", "veth@x", "_eth0", 7, ["eth0"]])
def test_device_names_outside_the_contract_rule_are_refused(device):
    with pytest.raises(FabricError) as caught:
        build(links=[{"name": "fab0", "device": device}, {"name": "fab1", "device": "eth1"}])
    assert "link fab0" in str(caught.value)


@pytest.mark.parametrize("device", ["eth0", "bond0.100", "enp3s0f1", "br-fab_1", "a+b", "e", "eth0_"])
def test_ordinary_device_names_pass(device):
    model = build(links=[{"name": "fab0", "device": device}, {"name": "fab1", "device": "eth1"}])
    assert model["snat"][0]["device"] == device


@given(st.text(alphabet="abz09_.+-:@ /;\n", min_size=1, max_size=17))
def test_devices_follow_the_one_interface_name_rule_of_checks(device):
    """No private pattern: a device passes exactly when checks.is_device says so."""
    links = [{"name": "fab0", "device": device}, {"name": "fab1", "device": "eth1"}]
    if checks.is_device(device):
        assert nat_rules.validate_links(links)[0] == ("fab0", device)
    else:
        with pytest.raises(FabricError, match=re.escape(checks.DEVICE_RULE)):
            nat_rules.validate_links(links)


# ---------------------------------------------------------------------------- nftables
def test_nft_script_replaces_both_tables_and_has_one_chain_per_peer():
    script = nat_rules.render_nft(build(ports=[3001, 3002]))
    lines = script.splitlines()
    assert lines[2:6] == ["table ip clusterfabric_multilink", "delete table ip clusterfabric_multilink",
                          "table ip6 clusterfabric_multilink", "delete table ip6 clusterfabric_multilink"]
    assert "table ip6 clusterfabric_multilink {" not in script
    assert "\t\t\t198.18.1.13 . 3002 : goto peer_n3_3002" in lines
    assert "\t\tip daddr . tcp dport vmap @steer" in lines
    assert "\t\tdnat to numgen inc mod 2 map { 0 : 198.18.0.12, 1 : 198.18.1.12 }" in lines
    assert len([line for line in lines if line.startswith("\tchain peer_")]) == 4
    assert '\t\toifname "eth1" tcp dport { 3001, 3002 } ct status dnat ip saddr != { 198.18.1.11 } ' \
           'snat to 198.18.1.11' in lines
    assert "type nat hook output priority -100; policy accept;" in script
    assert "type nat hook postrouting priority 100; policy accept;" in script


def test_nft_random_mode_and_weights():
    script = nat_rules.render_nft(build(mode="random", weights={"fab0": 3}))
    assert "dnat to numgen random mod 4 map { 0 : 198.18.0.12, 1 : 198.18.0.12, 2 : 198.18.1.12, " \
           "3 : 198.18.0.12 }" in script


def test_nft_ipv6_table():
    links = [{"name": "a", "subnet": "2001:db8:1::/64"}, {"name": "b", "subnet": "2001:db8:2::/64"}]
    plan = plan_addresses({"x": 1, "y": 2}, links)
    devices = [{"name": "a", "device": "eth0"}, {"name": "b", "device": "eth1"}]
    script = nat_rules.render_nft(nat_rules.build(plan, "x", devices))
    assert "table ip6 clusterfabric_multilink {" in script
    assert "table ip clusterfabric_multilink {" not in script
    assert "type ipv6_addr . inet_service : verdict" in script
    assert "ip6 daddr . tcp dport vmap @steer" in script
    assert "ip6 saddr != { 2001:db8:1::b }" in script


def test_nft_script_without_steering_only_removes():
    script = nat_rules.render_nft(build(links=[{"name": "fab0", "device": "eth0"}]))
    assert "{" not in script and "delete table ip clusterfabric_multilink" in script
    assert nat_apply.nft_remove_script().count("delete table") == 2


# ---------------------------------------------------------------------------- iptables
def test_iptables_nth_cascade_is_exact_and_in_iptables_save_form():
    chains = nat_rules.iptables_chains(build(weights={"fab0": 2}), "ipv4")
    assert list(chains)[:2] == ["CFML-OUTPUT", "CFML-POSTROUTING"]
    assert chains["CFML-n2-3001"] == [
        "-A CFML-n2-3001 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 198.18.0.12",
        "-A CFML-n2-3001 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 198.18.1.12",
        "-A CFML-n2-3001 -j DNAT --to-destination 198.18.0.12"]
    assert "-A CFML-OUTPUT -d 198.18.1.13/32 -p tcp -m tcp --dport 3001 -j CFML-n3-3001" in chains["CFML-OUTPUT"]
    assert chains["CFML-POSTROUTING"][0] == (
        "-A CFML-POSTROUTING ! -s 198.18.0.11/32 -o eth0 -p tcp -m tcp --dport 3001 "
        "-m conntrack --ctstate DNAT -j SNAT --to-source 198.18.0.11")


def simulate_cascade(rules, connections):
    """Which lane each connection takes through a cascade of nth rules (per-rule counters)."""
    counters = [0] * len(rules)
    out = []
    for dummy in range(connections):
        for index, rule in enumerate(rules):
            match = re.search(r"--every (\d+) --packet 0", rule)
            if not match:
                out.append(rule.rsplit(" ", 1)[1])
                break
            hit = counters[index] % int(match.group(1)) == 0
            counters[index] += 1
            if hit:
                out.append(rule.rsplit(" ", 1)[1])
                break
    return out


@pytest.mark.parametrize("weights", [{}, {"fab0": 2}, {"fab1": 3}, {"fab0": 3, "fab1": 2}])
def test_iptables_cascade_follows_the_rotation(weights):
    model = build(weights=weights)
    rule = peer(model, "n2")
    chain = nat_rules.iptables_chains(model, "ipv4")[rule["iptables_chain"]]
    expected = [lane["address"] for lane in rule["lanes"]] * 3
    assert simulate_cascade(chain, len(expected)) == expected


def test_iptables_random_probabilities():
    chain = nat_rules.iptables_chains(build(mode="random", weights={"fab0": 2}), "ipv4")["CFML-n3-3001"]
    assert "--mode random --probability 0.33333333333 " in chain[0]
    assert "--mode random --probability 0.50000000000 " in chain[1]
    assert "statistic" not in chain[2]


def test_iptables_several_own_addresses_return_before_snat():
    links = [{"name": "bond0", "subnet": "198.18.2.0/24",
              "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}},
             {"name": "fab1", "subnet": "198.18.3.0/24"}]
    plan = plan_addresses({"a": 1, "b": 2}, links)
    model = nat_rules.build(plan, "a", [{"name": "bond0", "device": "bond0"}, {"name": "fab1", "device": "eth2"}])
    post = nat_rules.iptables_chains(model, "ipv4")["CFML-POSTROUTING"]
    assert post[:3] == [
        "-A CFML-POSTROUTING -s %s/32 -o bond0 -p tcp -m tcp --dport 3001 -j RETURN" % plan["a"]["bond0"][0],
        "-A CFML-POSTROUTING -s %s/32 -o bond0 -p tcp -m tcp --dport 3001 -j RETURN" % plan["a"]["bond0"][1],
        "-A CFML-POSTROUTING -o bond0 -p tcp -m tcp --dport 3001 -m conntrack --ctstate DNAT -j SNAT "
        "--to-source %s" % plan["a"]["bond0"][0]]


def test_iptables_boot_file_declares_chains_and_jumps_once():
    text = nat_rules.render_iptables(build(), "ipv4")
    lines = text.splitlines()
    assert lines[2] == "*nat" and lines[-1] == "COMMIT"
    assert ":CFML-n3-3001 - [0:0]" in lines
    assert lines[-3:-1] == ["-I OUTPUT 1 -j CFML-OUTPUT", "-I POSTROUTING 1 -j CFML-POSTROUTING"]
    assert nat_rules.render_iptables(build(), "ipv6") == ""


def test_iptables_chain_name_limit():
    plan = {"n1": PLAN["n1"], "abcdefghijklmnop": PLAN["n2"]}
    model = nat_rules.build(plan, "n1", DEVICES, ports=[65535])
    assert model["peers"][0]["iptables_chain"] == "CFML-abcdefghijklmnop-65535"
    assert len(model["peers"][0]["iptables_chain"]) <= 28


# ---------------------------------------------------------------------------- the watchdog
def test_module_tables_with_the_watchdog_hold_its_set_probe_pass_and_fast_fail_chain():
    script = nat_rules.render_nft(build(watchdog=True))
    lines = script.splitlines()
    assert "\tset dead {" in lines and "\t\ttype ipv4_addr . inet_service" in lines
    output = lines.index("\t\ttype nat hook output priority -100; policy accept;")
    assert lines[output + 1:output + 3] == ["\t\tmeta mark 0x63666d6c accept", "\t\tip daddr . tcp dport vmap @steer"]
    assert "\tchain fastfail {" in lines
    assert "\t\ttype filter hook output priority 0; policy accept;" in lines
    assert "\t\tct state new meta mark != 0x63666d6c ip daddr . tcp dport @dead reject with tcp reset" in lines
    plain = nat_rules.render_nft(build())
    assert "dead" not in plain and "mark" not in plain and "fastfail" not in plain


def test_watchdog_config_holds_everything_the_daemon_needs_and_the_shared_names():
    raw = nat_rules.watchdog_config(build(ports=[3001, 3002], watchdog=True))
    assert raw["links"] == [{"name": "fab0", "device": "eth0", "family": "ipv4", "source": "198.18.0.11"},
                            {"name": "fab1", "device": "eth1", "family": "ipv4", "source": "198.18.1.11"}]
    assert raw["peers"] == {"n2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]},
                            "n3": {"fab0": ["198.18.0.13"], "fab1": ["198.18.1.13"]}}
    assert [c["name"] for c in raw["chains"]] == ["peer_n2_3001", "peer_n2_3002", "peer_n3_3001", "peer_n3_3002"]
    assert raw["chains"][0]["lanes"] == [{"link": "fab0", "address": "198.18.0.12"},
                                         {"link": "fab1", "address": "198.18.1.12"}]
    assert (raw["mark"], raw["table"], raw["dead_set"]) == (nat_rules.PROBE_MARK, nat_apply.TABLE, nat_apply.DEAD_SET)
    assert raw["version"] == nat_rules.WATCHDOG_CONFIG_VERSION and raw["ports"] == [3001, 3002]
    assert "interval_ms" not in raw


def test_watchdog_settings_go_in_as_given_and_unknown_keys_are_refused():
    config = nat_rules.watchdog_config(build(watchdog=True), {"probe": "icmp", "interval_ms": 200})
    assert config["probe"] == "icmp" and config["interval_ms"] == 200
    with pytest.raises(FabricError, match=r"watchdog_settings: interval not one of probe, interval_ms"):
        nat_rules.watchdog_config(build(watchdog=True), {"interval": 200})
    with pytest.raises(FabricError, match=r"watchdog_settings must be a mapping"):
        nat_rules.watchdog_config(build(watchdog=True), ["tcp"])


@given(st.sampled_from(["nth", "random"]), st.lists(st.sampled_from(["198.18.0.12", "2001:db8::c"]), min_size=1, max_size=5))
def test_dnat_statement_for_one_lane_and_a_rotation(mode, addresses):
    statement = nat_rules.dnat_statement(mode, addresses)
    if len(addresses) == 1:
        assert statement == "dnat to %s" % addresses[0]
    else:
        assert statement.startswith("dnat to numgen %s mod %d map { 0 : %s" % (
            "inc" if mode == "nth" else "random", len(addresses), addresses[0]))
    with pytest.raises(ValueError):
        nat_rules.dnat_statement(mode, [])


# ---------------------------------------------------------------------------- what the node gets
def test_node_rules_for_nftables_are_the_script_its_families_and_the_runtime_flag():
    model = build(watchdog=True)
    rules = nat_rules.node_rules(model, "nftables")
    assert rules == {"nft": {"script": nat_rules.render_nft(model), "families": ["ip"], "runtime": True},
                     "iptables": None}


def test_node_rules_for_iptables_are_chains_and_boot_files_of_the_families_with_rules():
    model = build()
    rules = nat_rules.node_rules(model, "iptables")
    assert rules["nft"] is None and list(rules["iptables"]) == ["ipv4"]
    assert rules["iptables"]["ipv4"] == {"chains": nat_rules.iptables_chains(model, "ipv4"),
                                         "text": nat_rules.render_iptables(model, "ipv4")}
    assert nat_rules.node_rules(build(links=[{"name": "fab0", "device": "eth0"}]), "iptables")["iptables"] == {}
    assert nat_rules.node_rules(None, "nftables") == {"nft": None, "iptables": None}


def test_a_precomputed_model_gets_a_shape_check_only():
    model = build()
    assert nat_rules.check_model(model) is model
    for bad in (None, [], dict(model, peers="x"), dict((k, v) for k, v in model.items() if k != "snat")):
        with pytest.raises(FabricError, match=r"model must be the NAT rules as the inventory contract computes them"):
            nat_rules.check_model(bad)
