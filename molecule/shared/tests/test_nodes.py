# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What `playbooks/site.yml` left on every node: rendered files, NAT rules, persistence.

Expectations come from the scenario's inventory (plan, fabric_strategy, fabric_nat_weights),
not from the nodes, so a role that renders the wrong thing fails here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import re

import fabric_split

TABLE = "ip clusterfabric_multilink"
UNIT = "clusterfabric-multilink-nat.service"


def own_addresses(topo, name):
    return [topo["plan"][name][link["name"]][0] for link in topo["links"]]


def peers(topo, name):
    return [host for host in topo["hosts"] if host != name]


def normalized_table(host):
    """The table's listing with set elements sorted (nft prints them in hash order)."""
    text = host.check_output("nft list table %s" % TABLE)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"elements = \{([^}]*)\}",
                  lambda m: "elements = {%s}" % ",".join(sorted(e.strip() for e in m.group(1).split(","))), text)


def test_link_files_carry_the_planned_addresses(node, topo):
    name, host = node
    manifest = json.loads(host.file("/var/lib/clusterfabric-multilink/links-manifest.json").content_string)
    assert manifest["backend"] == "networkd"
    wanted = []
    for link in topo["links"]:
        path = "/etc/systemd/network/10-fabric-%s.network" % link["device"]
        wanted.append(path)
        text = host.file(path).content_string
        prefix = ipaddress.ip_network(link["subnet"]).prefixlen
        assert "Name=%s\n" % link["device"] in text, text
        assert "Address=%s/%d\n" % (topo["plan"][name][link["name"]][0], prefix) in text, text
    assert sorted(manifest["files"]) == sorted(wanted)


def test_aerospike_conf_publishes_the_fabric_addresses(node, topo):
    name, host = node
    conf = fabric_split.parse_conf(host.file(fabric_split.AEROSPIKE_CONF).content_string)
    fabric = conf["network"]["fabric"]
    published = fabric["address"] if isinstance(fabric["address"], list) else [fabric["address"]]
    if topo["strategy"] == "single":
        # pre-3.14 servers dial one address: only the primary link's is published
        assert published == own_addresses(topo, name)[:1]
    else:
        assert published == own_addresses(topo, name)
    assert fabric["port"] == topo["port"]
    seeds = conf["network"]["heartbeat"]["mesh-seed-address-port"]
    seeds = seeds if isinstance(seeds, list) else [seeds]
    for peer in peers(topo, name):
        for address in own_addresses(topo, peer):
            assert "%s 3002" % address in seeds


def test_nat_rules_match_the_strategy(node, topo):
    name, host = node
    listed = host.run("nft list table %s" % TABLE)
    if topo["strategy"] == "native":
        assert listed.rc != 0, "native leaves no NAT table: %s" % listed.stdout
        assert not host.file("/etc/clusterfabric-multilink/nat.nft").exists
        assert not host.file("/etc/systemd/system/%s" % UNIT).exists
        return
    assert listed.rc == 0, listed.stderr
    text = listed.stdout
    lanes = sum(int(topo["weights"].get(link["name"], 1)) for link in topo["links"])
    for peer in peers(topo, name):
        chain = "peer_%s_%d" % (peer, topo["port"])
        body = re.search(r"chain %s \{(.*?)\}" % chain, text, re.S).group(1)
        assert "numgen inc mod %d " % lanes in body, body
        steered = re.findall(r"([0-9.]+) \. %d : goto %s" % (topo["port"], chain), text)
        expected = own_addresses(topo, peer)[:1] if topo["strategy"] == "single" else own_addresses(topo, peer)
        assert sorted(steered) == sorted(expected)
    for link in topo["links"]:
        own = topo["plan"][name][link["name"]][0]
        assert 'oifname "%s" tcp dport %d ct status dnat ip saddr != %s snat to %s' % (
            link["device"], topo["port"], own, own) in text


def test_rules_come_back_when_the_boot_unit_restarts(node, topo):
    dummy, host = node
    if topo["strategy"] == "native":
        assert host.run("systemctl cat %s" % UNIT).rc != 0
        return
    assert host.service(UNIT.replace(".service", "")).is_enabled
    assert host.file("/etc/clusterfabric-multilink/nat.nft").exists
    before = normalized_table(host)
    host.check_output("nft delete table %s" % TABLE)
    assert host.run("nft list table %s" % TABLE).rc != 0
    host.check_output("systemctl restart %s" % UNIT)
    assert normalized_table(host) == before
