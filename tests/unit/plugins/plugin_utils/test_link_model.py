# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import build_model, profile_uuid

LINKS = [
    {"name": "fab0", "subnet": "198.18.64.0/24", "device": "eth1", "mtu": 9000},
    {"name": "fab1", "subnet": "198.18.65.0/24", "device": "bond1",
     "bond": {"mode": "active-backup", "members": ["eth2", "eth3"], "primary": "eth2"}},
    {"name": "fab2", "subnet": "198.18.66.0/24", "device": "bond2",
     "bond": {"mode": "802.3ad", "members": ["eth4", "eth5"], "xmit_hash_policy": "layer3+4", "lacp_rate": "fast"}},
    {"name": "fab3", "subnet": "198.18.67.0/24", "device": "eth7", "gateway": "198.18.67.1",
     "routes": ["198.18.68.0/24"]},
    {"name": "fab6", "subnet": "2001:db8:64::/64", "device": "eth6", "mtu": 1280},
]
NODES = {"n1": 1, "n2": 2}


def model(links=None, host="n1", **options):
    links = LINKS if links is None else links
    return build_model(host, links, plan_addresses(NODES, links), options)


def bad(change, match):
    links = copy.deepcopy(LINKS)
    change(links)
    with pytest.raises(FabricError, match=match):
        model(links)


def test_plain_link_model():
    link = model()["links"][0]
    assert link["kind"] == "plain" and link["device"] == "eth1" and link["mtu"] == 9000
    assert link["addresses"] == ["198.18.64.11/24"] and link["sources"] == ["198.18.64.11"]
    assert link["bond"] is None and link["table"] is None and link["routes"] == []


def test_bond_defaults_and_options():
    links = model()["links"]
    assert links[1]["bond"] == {"mode": "active-backup", "members": ["eth2", "eth3"], "miimon": 100,
                                "primary": "eth2", "xmit_hash_policy": None, "lacp_rate": None}
    assert links[2]["bond"]["xmit_hash_policy"] == "layer3+4" and links[2]["bond"]["lacp_rate"] == "fast"
    assert model(miimon=250)["links"][1]["bond"]["miimon"] == 250


def test_routed_link_gets_its_own_table_and_metric():
    link = model()["links"][3]
    assert link["gateway"] == "198.18.67.1" and link["routes"] == ["198.18.68.0/24"]
    assert link["table"] == 1004 and link["metric"] == 103 and link["rule_priority"] == 1000
    link = model(table_base=2000, rule_priority=90, route_metric=10)["links"][3]
    assert (link["table"], link["rule_priority"], link["metric"]) == (2004, 90, 13)


def test_explicit_table_and_duplicate_tables():
    links = copy.deepcopy(LINKS)
    links[3]["table"] = 77
    assert model(links)["links"][3]["table"] == 77
    links[0].update(gateway="198.18.64.1", table=77)
    with pytest.raises(FabricError, match=r"host n1: fabric_links\[3\] \(link fab3\)\.table 77 is also the table of link fab0"):
        model(links)


def test_ipv6_link():
    link = model()["links"][4]
    assert link["family"] == 6 and link["addresses"] == ["2001:db8:64::b/64"]


def test_digest_changes_with_the_rendered_settings_only():
    first = model()["links"]
    links = copy.deepcopy(LINKS)
    links[0]["mtu"] = 1500
    second = model(links)["links"]
    assert first[0]["digest"] != second[0]["digest"]
    assert [link["digest"] for link in first[1:]] == [link["digest"] for link in second[1:]]
    assert model()["links"][0]["digest"] == first[0]["digest"]


def test_bond_hash_addresses_come_from_the_plan():
    links = [{"name": "fab4", "subnet": "198.18.70.0/24", "device": "bond4",
              "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"},
              "bond": {"mode": "balance-xor", "members": ["eth8", "eth9"], "xmit_hash_policy": "layer2+3"}}]
    assert model(links)["links"][0]["addresses"] == ["198.18.70.12/24", "198.18.70.13/24"]


@pytest.mark.parametrize("bond, match", [
    ({"mode": "balance-xor", "members": ["eth8", "eth9"]}, r"bond\.xmit_hash_policy is None but bond_hash plans for layer2\+3"),
    ({"mode": "active-backup", "members": ["eth8", "eth9"]}, r"bond_hash plans for a hashing bond but bond\.mode is active-backup"),
    ({"mode": "802.3ad", "members": ["eth8"], "xmit_hash_policy": "layer2+3"}, r"bond\.members has 1 members but bond_hash\.slaves is 2"),
    (None, r"bond_hash is set but the link has no bond"),
])
def test_bond_hash_must_match_the_bond(bond, match):
    links = [{"name": "fab4", "subnet": "198.18.70.0/24", "device": "bond4",
              "bond_hash": {"policy": "layer2+3", "slaves": 2}}]
    if bond:
        links[0]["bond"] = bond
    with pytest.raises(FabricError, match=match):
        model(links)


@pytest.mark.parametrize("device, match", [
    ("abcdefghijklmnop", r"not a valid interface name: use 1 to 15 characters from A-Z a-z 0-9 _ \. \+ - starting"),
    ("bond+", r"not a valid interface name: .*not ending in \+"),
    ("_eth1", r"not a valid interface name"),
    ("eth@1", r"not a valid interface name"),
    ("eth 1", r"not a valid interface name"),
    ("eth/1", r"not a valid interface name"),
    ("eth:1", r"not a valid interface name"),
    ("eth1\n", r"not a valid interface name"),
    ("-eth1", r"not a valid interface name"),
    ("eth\x07", r"not a valid interface name"),
    ("", r"not a valid interface name"),
    (None, r"must be an interface name \(a string\), got None"),
    (7, r"must be an interface name"),
])
def test_bad_device_names(device, match):
    bad(lambda links: links[0].__setitem__("device", device), r"host n1: fabric_links\[0\] \(link fab0\)\.device .*" + match)


def test_bond_members_follow_the_same_rule():
    bad(lambda links: links[1]["bond"].__setitem__("members", ["eth2", "eth3+"]),
        r"host n1: fabric_links\[1\] \(link fab1\)\.bond\.members\[1\] 'eth3\+' is not a valid interface name: use ")


def test_fifteen_character_names_are_fine():
    links = copy.deepcopy(LINKS)
    links[0]["device"] = "enp129s0f1np1.x"
    assert model(links)["links"][0]["device"] == "enp129s0f1np1.x"


@pytest.mark.parametrize("index, mtu, ok", [
    (0, 576, True), (0, 575, False), (0, 9216, True), (0, 9217, False), (0, "9000", False), (0, True, False),
    (4, 1280, True), (4, 1279, False), (4, 9000, True),
])
def test_mtu_ranges(index, mtu, ok):
    links = copy.deepcopy(LINKS)
    links[index]["mtu"] = mtu
    if ok:
        assert model(links)["links"][index]["mtu"] == mtu
    else:
        with pytest.raises(FabricError, match=r"\.mtu must be an integer from"):
            model(links)


@pytest.mark.parametrize("index, key, value, match", [
    (2, "mode", "lacp", r"bond\.mode 'lacp' is not a bond mode"),
    (2, "mode", None, r"bond\.mode None is not a bond mode"),
    (2, "xmit_hash_policy", "layer4", r"bond\.xmit_hash_policy 'layer4' is not a transmit hash policy"),
    (1, "xmit_hash_policy", "layer2+3", r"bond\.xmit_hash_policy is set but mode active-backup ignores it"),
    (2, "lacp_rate", "quick", r"bond\.lacp_rate 'quick' is not slow or fast"),
    (1, "lacp_rate", "slow", r"bond\.lacp_rate is set but mode active-backup does not run LACP"),
    (2, "primary", "eth4", r"bond\.primary is set but mode 802\.3ad ignores it"),
    (1, "primary", "eth9", r"bond\.primary 'eth9' is not one of the bond members eth2, eth3"),
    (2, "members", [], r"bond\.members must be a non-empty list"),
    (2, "members", "eth4 eth5", r"bond\.members must be a non-empty list"),
    (2, "members", ["eth4", "eth4"], r"bond\.members lists eth4 twice"),
    (2, "members", ["eth4", "eth3"], r"bond\.members eth3 is already used by fabric_links\[1\] \(link fab1\)\.bond\.members"),
    (2, "members", ["eth4", "eth1"], r"bond\.members eth1 is already used by fabric_links\[0\] \(link fab0\)\.device"),
    (2, "members", ["eth4", "bond1"], r"bond\.members bond1 is already used"),
    (2, "members", ["eth4", "bad name"], r"bond\.members\[1\] 'bad name' is not a valid interface name"),
    (2, "miimon", -1, r"bond\.miimon must be an integer from 0"),
    (2, "speed", 10, r"bond has unknown key\(s\) speed"),
])
def test_bad_bonds_name_host_and_variable(index, key, value, match):
    name = LINKS[index]["name"]
    bad(lambda links: links[index]["bond"].__setitem__(key, value),
        r"^host n1: fabric_links\[%d\] \(link %s\)\.%s" % (index, name, match))


def test_member_that_is_a_later_link_device():
    links = copy.deepcopy(LINKS)
    links[3]["device"] = "eth5"
    with pytest.raises(FabricError, match=r"fabric_links\[3\] \(link fab3\)\.device eth5 is already used by fabric_links\[2\]"):
        model(links)


def test_duplicate_device():
    bad(lambda links: links[3].__setitem__("device", "eth1"), r"fabric_links\[3\] \(link fab3\)\.device eth1 is already used")


@pytest.mark.parametrize("change, match", [
    ({"gateway": "198.18.99.1"}, r"\.gateway 198\.18\.99\.1 is not a host address inside the link's subnet"),
    ({"gateway": "198.18.67.0"}, r"\.gateway 198\.18\.67\.0 is not a host address"),
    ({"gateway": "198.18.67.11"}, r"\.gateway 198\.18\.67\.11 is this host's own address"),
    ({"gateway": "nope"}, r"\.gateway 'nope' is not an IP address"),
    ({"routes": ["0.0.0.0/0"]}, r"\.routes\[0\] is a default route"),
    ({"routes": ["198.18.68.1/24"]}, r"\.routes\[0\] '198\.18\.68\.1/24' is not a CIDR prefix"),
    ({"routes": ["2001:db8::/64"]}, r"\.routes\[0\] 2001:db8::/64 is not an IPv4 prefix"),
    ({"routes": ["198.18.68.0/24", "198.18.68.0/24"]}, r"\.routes lists 198\.18\.68\.0/24 twice"),
    ({"routes": "198.18.68.0/24"}, r"\.routes must be a list"),
    ({"gateway": None}, r"\.routes needs a gateway"),
    ({"table": 254}, r"\.table 254 is a reserved routing table"),
])
def test_bad_routing(change, match):
    bad(lambda links: links[3].update(change), r"host n1: fabric_links\[3\] \(link fab3\)" + match)


def test_host_missing_from_the_plan():
    with pytest.raises(FabricError, match=r"host n9 is not in the fabric plan"):
        model(host="n9")


@pytest.mark.parametrize("options, match", [
    ({"file_prefix": "../x"}, r"host n1: fabric_links_file_prefix '\.\./x'"),
    ({"miimon": -5}, r"host n1: fabric_links_miimon must be an integer >= 0"),
    ({"table_base": "1"}, r"host n1: fabric_links_table_base must be an integer"),
])
def test_bad_role_options(options, match):
    with pytest.raises(FabricError, match=match):
        model(**options)


def test_profile_uuid_is_stable_and_per_host():
    assert profile_uuid("n1", "10-fabric-eth1") == profile_uuid("n1", "10-fabric-eth1")
    assert profile_uuid("n1", "10-fabric-eth1") != profile_uuid("n2", "10-fabric-eth1")
