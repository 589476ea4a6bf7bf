# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What `playbooks/site.yml` left on every node: rendered files, NAT rules, persistence.

Expectations come from the scenario's inventory (plan, fabric_strategy, fabric_nat_weights,
fabric_roles), not from the nodes, so a role that renders the wrong thing fails here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import re

from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import parse

TABLE = "clusterfabric_multilink"
FAMILIES = (("ipv4", "ip"), ("ipv6", "ip6"))
UNIT = "clusterfabric-multilink-nat.service"
AEROSPIKE_CONF = "/etc/aerospike/aerospike.conf"


def family(address):
    return "ipv%d" % ipaddress.ip_address(address).version


def own_addresses(topo, name):
    """Every planned address of ``name`` (all lanes of every link), in link order."""
    return [address for link in topo.links for address in topo.plan[name][link["name"]]]


def primary(topo, name):
    return topo.plan[name][topo.links[0]["name"]][0]


def peers(topo, name):
    return [host for host in topo.hosts if host != name]


def nat(topo):
    """Whether the nat role's rules are there: a strategy that steers (not native; mptcp removes them),
    and nat in fabric_roles (default: every role)."""
    return topo.strategy not in ("native", "mptcp") and "nat" in (topo.vars.get("fabric_roles") or ["nat"])


def rules_expected(topo, name):
    """{nft family: {peer: (lanes in the rotation, steered addresses)}} the nat role must write:
    per peer and address family with at least two of the peer's addresses (lanes), each
    weighted like its link; steered: all of them, or the primary link's with ``single``."""
    out = {}
    weights = topo.vars.get("fabric_nat_weights") or {}
    for fam, nft in FAMILIES:
        for peer in peers(topo, name):
            targets = [(link, address) for link in topo.links for address in topo.plan[peer][link["name"]]
                       if family(address) == fam]
            if len(targets) < 2 or not nat(topo):
                continue
            lanes = sum(int(weights.get(link["name"], 1)) for link, dummy in targets)
            steered = [address for link, address in targets
                       if topo.strategy != "single" or link["name"] == topo.links[0]["name"]]
            out.setdefault(nft, {})[peer] = (lanes, steered)
    return out


def normalized_table(host, nft):
    """The table's listing with set elements sorted (nft prints them in hash order)."""
    text = host.check_output("nft list table %s %s" % (nft, TABLE))
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"elements = \{([^}]*)\}",
                  lambda m: "elements = {%s}" % ",".join(sorted(e.strip() for e in m.group(1).split(","))), text)


def test_link_files_carry_the_planned_addresses(node, topo):
    name, host = node
    manifest = json.loads(host.file("/var/lib/clusterfabric-multilink/links-manifest.json").content_string)
    assert manifest["backend"] == "networkd"
    wanted = []
    for link in topo.links:
        path = "/etc/systemd/network/10-fabric-%s.network" % link["device"]
        wanted.append(path)
        text = host.file(path).content_string
        prefix = ipaddress.ip_network(link["subnet"]).prefixlen
        assert "Name=%s\n" % link["device"] in text, text
        written = re.findall(r"^Address=(\S+)$", text, re.M)
        assert written == ["%s/%d" % (address, prefix) for address in topo.plan[name][link["name"]]], text
    assert sorted(manifest["files"]) == sorted(wanted)


def test_aerospike_conf_publishes_the_fabric_addresses(node, topo):
    name, host = node
    conf = parse(host.file(AEROSPIKE_CONF).content_string)
    fabric = conf["network"]["fabric"]
    published = fabric["address"] if isinstance(fabric["address"], list) else [fabric["address"]]
    if topo.strategy == "single":
        # pre-3.14 servers dial one address: only the primary link's is published
        assert published == [primary(topo, name)]
    else:
        assert published == own_addresses(topo, name)
    assert fabric["port"] == topo.port
    seeds = conf["network"]["heartbeat"]["mesh-seed-address-port"]
    seeds = seeds if isinstance(seeds, list) else [seeds]
    for peer in peers(topo, name):
        for link in topo.links:
            assert "%s 3002" % topo.plan[peer][link["name"]][0] in seeds


def test_nat_rules_match_the_strategy(node, topo):
    name, host = node
    expected = rules_expected(topo, name)
    for fam, nft in FAMILIES:
        listed = host.run("nft list table %s %s" % (nft, TABLE))
        if nft not in expected:
            assert listed.rc != 0, "no %s table expected: %s" % (nft, listed.stdout)
            continue
        assert listed.rc == 0, listed.stderr
        text = listed.stdout
        for peer, (lanes, steered) in expected[nft].items():
            chain = "peer_%s_%d" % (peer, topo.port)
            body = re.search(r"chain %s \{(.*?)\}" % chain, text, re.S).group(1)
            assert "numgen inc mod %d " % lanes in body, body
            found = re.findall(r"([0-9a-f.:]+) \. %d : goto %s" % (topo.port, chain), text)
            assert sorted(found) == sorted(steered)
        saddr = "ip saddr" if nft == "ip" else "ip6 saddr"
        for link in topo.links:
            own = topo.plan[name][link["name"]]
            if family(own[0]) != fam:
                continue
            match = re.search(r'oifname "%s" tcp dport %d ct status dnat %s != (\{ [^}]* \}|\S+) snat to (\S+)'
                              % (link["device"], topo.port, saddr), text)
            assert match, text
            assert sorted(match.group(1).strip("{} ").split(", ")) == sorted(own)
            assert match.group(2) == own[0]
    if not nat(topo):
        assert not host.file("/etc/clusterfabric-multilink/nat.nft").exists
        assert not host.file("/etc/systemd/system/%s" % UNIT).exists


def test_rules_come_back_when_the_boot_unit_restarts(node, topo):
    name, host = node
    if not nat(topo):
        assert host.run("systemctl cat %s" % UNIT).rc != 0
        return
    assert host.service(UNIT.replace(".service", "")).is_enabled
    assert host.file("/etc/clusterfabric-multilink/nat.nft").exists
    tables = sorted(rules_expected(topo, name))
    assert tables
    before = dict((nft, normalized_table(host, nft)) for nft in tables)
    for nft in tables:
        host.check_output("nft delete table %s %s" % (nft, TABLE))
        assert host.run("nft list table %s %s" % (nft, TABLE)).rc != 0
    host.check_output("systemctl restart %s" % UNIT)
    assert dict((nft, normalized_table(host, nft)) for nft in tables) == before
