# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fabric_strategy mptcp with fabric_mptcp_anchor_subnet on a live two-node bed, the real server.

site.yml converges and a second run changes nothing; each server binds and publishes its anchor
alone (docs/mptcp.md#placing-each-connection), the anchor address, its route and the nft table
were put in place by the server's start. Every fabric connection a node accepted arrived on its
anchor through its NAT, and the first subflows of the 12 connections each peer opened are split
6 + 6 over the two links (the rotation), while every connection still has a subflow on both links.
Taking the subnet out removes the table, the script, the address and the route, and the servers
publish their link addresses again.

Containers and networks: cfm-mpa-* (links 198.19.142.0/24, 198.19.143.0/24, anchors 198.19.144.0/24).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample, mptcp_apply
from testbed import aerospike as tba
from testbed import inventory as tbi

NODES = {"n1": 1, "n2": 2}
GROUP = "mpa"
PREFIX = "cfm-mpa"
SUBNET = "198.19.144.0/24"
ANCHORS = {"n1": "198.19.144.11", "n2": "198.19.144.12"}
LINKS = [{"name": "fab0", "subnet": "198.19.142.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.19.143.0/24", "device": "eth1"}]
GROUP_VARS = {
    "fabric_links": LINKS, "testbed_rate_mbit": 200, "fabric_ports": [3001], "fabric_strategy": "mptcp",
    "fabric_mptcp_anchor_subnet": SUBNET,
    "fabric_links_backend": "networkd", "aerospike_version": "8.1", "aerospike_restart": True,
    "aerospike_restart_wait": "cluster", "fabric_mptcp_restart": True,
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                              "storage-engine": {"type": "memory", "data-size": "512M"}}],
    "testbed_sysctls": {"net.mptcp.blackhole_timeout": "0"},
}
# the connections a node opens to its peer: rw 8, ctrl 1, bulk 2 (one per link), meta 1
OPENED = 12
_SOCKET = re.compile(r"^\S+\s+\d+\s+\d+\s+(\S+):(\d+)\s+(\S+):(\d+)")


site = tbi.site


@pytest.fixture(scope="module")
def bed(server_bed):
    return server_bed


def report(bed, host):
    earlier, later = link_sample.subflow_looks(lambda: bed.run(host, " ".join(
        "'%s'" % word if " " in word else word for word in link_sample.subflows_command(3001))).stdout)
    return link_sample.mptcp_subflows(LINKS, 3001, later, earlier=earlier)


def accepted_first_subflows(bed, host):
    """[(local address, peer address)] of the first subflows (MP_CAPABLE, ``flags:M``) ``host`` accepted."""
    out = []
    local = remote = None
    for line in bed.run(host, "ss -Htni state established '( sport = :3001 )'").stdout.splitlines():
        match = _SOCKET.match("ESTAB " + line if line[:1] not in " \t" else "")
        if match:
            local, remote = match.group(1), match.group(3)
        elif local and re.search(r"tcp-ulp-mptcp flags:M", line):
            out.append((local, remote))
    return out


@pytest.fixture(scope="module")
def converged(bed):
    result, found, stats = site(bed)
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    tba.Server(bed).wait_cluster(timeout=120)
    deadline = time.time() + 90
    while time.time() < deadline and not all(len(accepted_first_subflows(bed, h)) >= OPENED for h in NODES):
        time.sleep(1)
    return found, stats


def test_site_converges_and_a_second_run_changes_nothing(bed, converged):
    result, again, stats = site(bed)
    assert result.returncode == 0, result.stdout[-4000:]
    assert dict((host, stats[host]["changed"]) for host in NODES) == {"n1": 0, "n2": 0}, [
        (name, host, outcome.get("diff")) for name, hosts in again.items()
        for host, outcome in hosts.items() if outcome.get("changed")]


def test_the_server_binds_its_anchor_alone_and_its_start_put_the_placement_in_place(bed, converged):
    for host in NODES:
        listening = bed.run(host, "ss -Hltn '( sport = :3001 )'").stdout
        assert re.findall(r"(\S+):3001\b", listening) == [ANCHORS[host]], listening
        assert "%s/32" % ANCHORS[host] in bed.run(host, "ip -o address show dev lo").stdout
        assert "dev eth0" in bed.run(host, "ip route show exact %s" % SUBNET).stdout
        table = bed.run(host, "nft list table ip %s" % mptcp_apply.ANCHOR_TABLE).stdout
        peer = [p for p in NODES if p != host][0]
        assert "dnat to numgen inc mod 2 map { 0 : %s, 1 : %s }" % (
            bed.plan[peer]["fab0"][0], bed.plan[peer]["fab1"][0]) in table, table
        assert "ExecStartPre=+/usr/sbin/nft -f %s" % mptcp_apply.ANCHOR_NFT in \
            bed.run(host, "systemctl cat aerospike.service").stdout


def test_each_peers_connections_start_on_the_links_in_turn_and_cover_both(bed, converged):
    for host in NODES:
        first = accepted_first_subflows(bed, host)
        print("%s accepted first subflows: %s" % (host, first))
        assert len(first) == OPENED and set(local for local, dummy in first) == {ANCHORS[host]}, first
        peer = [p for p in NODES if p != host][0]
        per_link = dict((link["name"], sum(1 for dummy, remote in first if remote == bed.plan[peer][link["name"]][0]))
                        for link in LINKS)
        assert per_link == {"fab0": OPENED // 2, "fab1": OPENED // 2}, first
        seen = report(bed, host)
        print("%s: %s" % (host, json.dumps(seen, sort_keys=True)))
        assert seen["connections"] == 2 * OPENED and seen["plain"] == 0 and seen["other"] == 0, seen
        assert seen["short"] == 0, seen


def test_subflows_that_died_come_back_after_the_watchdogs_re_add(bed, converged):
    # n1 kills its fab1 subflows (the kernel never re-creates them), then its fab1 carrier goes for 3 s
    bed.run("n1", "ss -K state established '( sport = :3001 or dport = :3001 )' dst %s" % bed.plan["n2"]["fab1"][0])
    assert report(bed, "n1")["short"] > 0
    target, down, up = bed.failure("carrier", "n1", "n2", "fab1")
    bed.run(target, down)
    time.sleep(3)
    bed.run(target, up)
    started = time.time()
    while True:
        seen = dict((host, report(bed, host)) for host in NODES)
        if all(s["short"] == 0 for s in seen.values()) or time.time() - started > 30:
            break
    print("fab1 subflows killed and the link down 3 s: connections short of a link %.1f s after it came up: %s" % (
        time.time() - started, dict((host, s["short"]) for host, s in seen.items())))
    assert all(s["short"] == 0 and s["connections"] == 2 * OPENED for s in seen.values()), seen


def test_taking_the_subnet_out_removes_the_placement(bed, converged):
    result, found, stats = site(bed, "-e", "fabric_mptcp_anchor_subnet=")
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    tba.Server(bed).wait_cluster(timeout=120)
    for host in NODES:
        assert mptcp_apply.ANCHOR_TABLE not in bed.run(host, "nft list tables").stdout
        assert bed.run(host, "test -e %s" % mptcp_apply.ANCHOR_NFT, check=False).returncode == 1
        assert ANCHORS[host] not in bed.run(host, "ip -o address show dev lo").stdout
        assert bed.run(host, "ip route show exact %s" % SUBNET).stdout.strip() == ""
        listening = bed.run(host, "ss -Hltn '( sport = :3001 )'").stdout
        assert sorted(re.findall(r"(\S+):3001\b", listening)) == sorted(
            bed.plan[host][link["name"]][0] for link in LINKS), listening
