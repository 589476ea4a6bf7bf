# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of molecule/shared/server_split.py: what the server says, sockets per lane, checks.

Every check is fed the figures of a broken fabric too (a node out of the cluster, replicas that
miss the fabric links, sockets piled on one link or lane, a lane the rotation lost, a native
socket on an address nobody published) and must fail on them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "molecule", "shared"))
import server_split  # noqa: E402  pylint: disable=wrong-import-position,import-error
import fabric_split  # noqa: E402  pylint: disable=wrong-import-position,import-error

ENDPOINTS = ("service.port=3000;service.addresses=198.19.11.11,127.0.0.1;heartbeat.port=3002;"
             "heartbeat.peer=node-id=BB95:endpoint=198.19.3.12:3002,198.19.4.12:3002:endpoint-tls=;"
             "fabric.port=3001;fabric.addresses=198.19.3.11,198.19.4.11;fabric.tls-port=0;fabric.tls-addresses=null;"
             "fabric.peer=node-id=BB9507139F7C576:endpoint=198.19.3.12:3001,198.19.4.12:3001"
             ":endpoint-tls=198.19.3.12:3001,198.19.4.12:3001")
LANES = {"n1": [("fab0", "198.19.12.11"), ("fab0", "198.19.12.12"), ("fab1", "198.19.13.11"), ("fab1", "198.19.13.12")],
         "n2": [("fab0", "198.19.12.13"), ("fab0", "198.19.12.14"), ("fab1", "198.19.13.13"), ("fab1", "198.19.13.14")]}
PLAN = {"n1": {"fab0": ["198.19.12.11", "198.19.12.12"], "fab1": ["198.19.13.11", "198.19.13.12"]},
        "n2": {"fab0": ["198.19.12.13", "198.19.12.14"], "fab1": ["198.19.13.13", "198.19.13.14"]}}


def sock(direction, local, remote):
    return {"direction": direction, "local": local, "remote": remote, "link": None}


def node(host, accepted, dialed_to):
    """A node's sockets: ``accepted`` {own address: n}, ``dialed_to`` {peer address: n}."""
    sockets = [sock("in", address, "x") for address, n in accepted.items() for dummy in range(n)]
    source = LANES[host][0][1]
    sockets += [sock("out", source, address) for address, n in dialed_to.items() for dummy in range(n)]
    table, other = server_split.lane_table(sockets, LANES[host])
    links_of = dict((address, link) for peer in PLAN if peer != host for link, addresses in PLAN[peer].items()
                    for address in addresses)
    return {"lanes": table, "links": server_split.link_totals(table, ["fab0", "fab1"]),
            "dialed": server_split.dialed(sockets, links_of), "other": other}


def balanced_nodes():
    """Balanced NAT over four lanes: 14 connections each way, 4/4/3/3 per lane."""
    n1 = node("n1", {"198.19.12.11": 4, "198.19.12.12": 4, "198.19.13.11": 3, "198.19.13.12": 3},
              {"198.19.12.13": 11, "198.19.13.13": 3})
    n2 = node("n2", {"198.19.12.13": 4, "198.19.12.14": 4, "198.19.13.13": 3, "198.19.13.14": 3},
              {"198.19.12.11": 10, "198.19.13.11": 4})
    return {"n1": n1, "n2": n2}


def verify_cluster(shares, watchdog="ok", mbit=100.0):
    totals = dict((link, {"tx_mbit": mbit * share, "rx_mbit": mbit * share, "mbit": 2 * mbit * share, "share": share})
                  for link, share in shares.items())
    busiest = max(shares, key=shares.get)
    return {"totals": totals, "busiest": busiest, "share": shares[busiest], "window": {"seconds": 6.0},
            "nodes": dict((h, {"watchdog": {"state": watchdog}}) for h in ("n1", "n2"))}


def test_endpoints_give_what_is_published_and_what_the_peer_publishes():
    parsed = server_split.parse_endpoints(ENDPOINTS)
    assert parsed["published"] == ["198.19.3.11", "198.19.4.11"]
    assert parsed["peers"] == {"BB9507139F7C576": ["198.19.3.12", "198.19.4.12"]}
    assert server_split.parse_endpoints("fabric.port=3001") == {"published": [], "peers": {}}


def test_expected_sockets_are_the_channels():
    assert server_split.expected_sockets({"port": 3001}) == 12
    assert server_split.expected_sockets({"channel-bulk-fds": 4}) == 14
    assert server_split.expected_sockets({"channel-bulk-fds": "4", "channel-rw-fds": 16}) == 22


def test_lanes_links_and_dialed():
    nodes = balanced_nodes()
    assert nodes["n1"]["links"] == {"fab0": {"in": 8, "out": 14}, "fab1": {"in": 6, "out": 0}}
    assert nodes["n1"]["dialed"] == {"fab0": 11, "fab1": 3}
    table, other = server_split.lane_table([sock("in", "198.19.11.11", "x")], LANES["n1"])
    assert other == {"in": 1, "out": 0, "addresses": ["198.19.11.11"]}
    assert all(entry["in"] == 0 for entry in table.values())


def test_window_rate_counts_the_overlap():
    chunks = [{"start": 0.0, "end": 1.0, "writes": 1000}, {"start": 1.0, "end": 2.0, "writes": 500}]
    assert server_split.window_rate(chunks, 0.5, 1.5, 10000) == {"writes_per_s": 750.0, "payload_mbit": 60.0}
    assert server_split.window_rate(chunks, 3.0, 3.0, 10000)["payload_mbit"] == 0.0


def test_cluster_check_needs_every_node_with_integrity():
    good = {"n1": {"cluster_size": "2", "cluster_integrity": "true"}, "n2": {"cluster_size": "2", "cluster_integrity": "true"}}
    assert server_split.check_cluster(good, ["n1", "n2"])["ok"]
    split = {"n1": {"cluster_size": "1", "cluster_integrity": "true"}, "n2": {"cluster_size": "2", "cluster_integrity": "true"}}
    assert not server_split.check_cluster(split, ["n1", "n2"])["ok"]
    broken = {"n1": {"cluster_size": "2", "cluster_integrity": "false"}, "n2": {"cluster_size": "2", "cluster_integrity": "true"}}
    assert not server_split.check_cluster(broken, ["n1", "n2"])["ok"]


def test_replicas_check_fails_when_the_fabric_links_miss_the_writes():
    cluster = verify_cluster({"fab0": 0.5, "fab1": 0.5}, mbit=100.0)
    assert server_split.check_replicas(cluster, 190.0, 0.5)["ok"]
    # replication factor 1 or counters of the wrong devices: the links carry next to nothing
    quiet = verify_cluster({"fab0": 0.5, "fab1": 0.5}, mbit=0.5)
    assert not server_split.check_replicas(quiet, 190.0, 0.5)["ok"]
    assert not server_split.check_replicas(cluster, 0.0, 0.5)["ok"]


def test_busiest_and_link_share_checks():
    even = verify_cluster({"fab0": 0.501, "fab1": 0.499})
    lean = verify_cluster({"fab0": 0.685, "fab1": 0.315})
    assert server_split.check_busiest(even, 0.52)["ok"]
    assert not server_split.check_busiest(lean, 0.52)["ok"]
    one = verify_cluster({"fab0": 0.9996, "fab1": 0.0004})
    assert server_split.check_link_share(one, "fab0", 0.99)["ok"]
    assert not server_split.check_link_share(even, "fab0", 0.99)["ok"]


def test_socket_checks_pass_on_an_exact_rotation_and_fail_on_a_lost_lane():
    nodes = balanced_nodes()
    assert server_split.check_every_lane(nodes, ["fab0", "fab1"])["ok"]
    assert server_split.check_sockets_complete(nodes, {"n1": 14, "n2": 14})["ok"]
    assert not server_split.check_sockets_on(nodes, ["fab0"])["ok"]
    # the rotation lost a lane: n2's connections never reach 198.19.13.12
    lost = dict(nodes)
    lost["n1"] = node("n1", {"198.19.12.11": 5, "198.19.12.12": 5, "198.19.13.11": 4, "198.19.13.12": 0},
                      {"198.19.12.13": 14})
    result = server_split.check_every_lane(lost, ["fab0", "fab1"])
    assert not result["ok"] and result["value"] == ["n1 198.19.13.12"]
    # a socket missing (a channel that never connected)
    short = dict(nodes)
    short["n1"] = node("n1", {"198.19.12.11": 4, "198.19.12.12": 4, "198.19.13.11": 3, "198.19.13.12": 2},
                       {"198.19.12.13": 11, "198.19.13.13": 3})
    assert not server_split.check_sockets_complete(short, {"n1": 14, "n2": 14})["ok"]


def test_sockets_on_one_link_check():
    single = {"n1": node("n1", {"198.19.12.11": 12}, {"198.19.12.13": 12}),
              "n2": node("n2", {"198.19.12.13": 12}, {"198.19.12.11": 12})}
    assert server_split.check_sockets_on(single, ["fab0"])["ok"]
    leak = dict(single)
    leak["n2"] = node("n2", {"198.19.12.13": 11, "198.19.13.13": 1}, {"198.19.12.11": 12})
    result = server_split.check_sockets_on(leak, ["fab0"])
    assert not result["ok"] and result["value"] == {"n2": 1}


def test_native_sockets_follow_the_published_addresses():
    published = {"n1": ["198.19.12.11", "198.19.13.11"], "n2": ["198.19.12.13", "198.19.13.13"]}
    nodes = {"n1": node("n1", {"198.19.12.11": 8, "198.19.13.11": 4}, {"198.19.12.13": 6, "198.19.13.13": 6}),
             "n2": node("n2", {"198.19.12.13": 6, "198.19.13.13": 6}, {"198.19.12.11": 8, "198.19.13.11": 4})}
    assert server_split.check_follow_published(nodes, published)["ok"]
    # what n2 dialed is not where n1 accepted it (something rewrote the addresses)
    moved = dict(nodes)
    moved["n1"] = node("n1", {"198.19.12.11": 6, "198.19.13.11": 6}, {"198.19.12.13": 6, "198.19.13.13": 6})
    result = server_split.check_follow_published(moved, published)
    assert not result["ok"] and "n2 dialed" in result["value"][0]
    # a socket accepted on an address the node does not publish
    stray = dict(nodes)
    stray["n2"] = node("n2", {"198.19.12.14": 6, "198.19.13.13": 6}, {"198.19.12.11": 8, "198.19.13.11": 4})
    assert not server_split.check_follow_published(stray, published)["ok"]


def test_watchdog_check_needs_ok_and_every_lane():
    lanes = {"n1": {"rules": {"lanes": {"ip peer_n2_3001": PLAN["n2"]["fab0"] + PLAN["n2"]["fab1"]}}},
             "n2": {"rules": {"lanes": {"ip peer_n1_3001": PLAN["n1"]["fab1"] + PLAN["n1"]["fab0"]}}}}
    cluster = verify_cluster({"fab0": 0.5, "fab1": 0.5})
    assert server_split.check_watchdog(cluster, lanes, PLAN, ["n1", "n2"])["ok"]
    assert not server_split.check_watchdog(verify_cluster({"fab0": 0.5, "fab1": 0.5}, watchdog="degraded"),
                                           lanes, PLAN, ["n1", "n2"])["ok"]
    lost = {"n1": {"rules": {"lanes": {"ip peer_n2_3001": PLAN["n2"]["fab0"]}}}, "n2": lanes["n2"]}
    result = server_split.check_watchdog(cluster, lost, PLAN, ["n1", "n2"])
    assert not result["ok"] and "rotates over" in result["value"][0]
    assert not server_split.check_watchdog(cluster, {"n1": None, "n2": lanes["n2"]}, PLAN, ["n1", "n2"])["ok"]


def test_table_and_findings():
    nodes = balanced_nodes()
    report = {"server": "8.1.2.0", "cluster": "mol_multi_address", "strategy": "balanced", "workload_label": "w",
              "links": [{"name": "fab0", "family": "ipv4"}, {"name": "fab1", "family": "ipv4"}],
              "sockets": nodes, "verify": {"cluster": verify_cluster({"fab0": 0.499, "fab1": 0.501})},
              "workload": {"writes": 10, "failed": 0, "writes_per_s": 5.0, "payload_mbit": 1.0, "seconds": 2.0,
                           "longest_stall_s": 0.1},
              "statistics_before": {"n1": {"fabric_connections_opened": "24", "fabric_connections_closed": "0"}},
              "statistics": {"n1": {"fabric_connections_opened": "30", "fabric_connections_closed": "6"}}}
    report["checks"] = [server_split.check_busiest(report["verify"]["cluster"], 0.52)]
    report["findings"] = server_split.findings(report)
    text = server_split.format_table(report)
    assert "Aerospike 8.1.2.0 (the real server)" in text
    assert any(line.split()[:2] == ["fab1", "ipv4"] and "50.1 %" in line for line in text.splitlines())
    assert "PASS busiest link (fab1) share of the fabric bytes <= 0.52" in text
    assert "finding: busiest link fab1 carries 50.1 % of the fabric bytes" in text
    assert "finding: n1 accepted 8 + 6 fabric sockets on fab0, fab1" in text
    assert "opened/closed while measuring: 6/6" in text


def test_fabric_split_watchdog_check_and_notes():
    up = {"paths": {"n2/fab0": "up", "n2/fab1": "up"}, "lanes": {"ip6 peer_n2_3001": ["2001:2:0:10::c", "2001:2:0:11::c"]}}
    report = {"receiver_addresses": ["2001:2:0:10::c", "2001:2:0:11::c"],
              "phases": {"spread": {"watchdog": {"before": up, "after": up}}}}
    assert fabric_split.check_watchdog(report, "spread")["ok"]
    down = {"paths": {"n2/fab0": "up", "n2/fab1": "down"}, "lanes": {"ip6 peer_n2_3001": ["2001:2:0:10::c"]}}
    report["phases"]["spread"]["watchdog"]["after"] = down
    result = fabric_split.check_watchdog(report, "spread")
    assert not result["ok"] and len(result["value"]) == 2
    report["phases"]["spread"]["watchdog"] = {}
    assert not fabric_split.check_watchdog(report, "spread")["ok"]


def test_lasting_sockets_leave_out_probes():
    fabric = {"direction": "out", "local": "198.19.12.11", "local_port": 40000, "remote": "198.19.12.13",
              "remote_port": 3001}
    probe = dict(fabric, local_port=40001)
    later_probe = dict(fabric, local_port=40002)
    assert server_split.lasting([fabric, probe], [fabric, later_probe]) == [fabric]
