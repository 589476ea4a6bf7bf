# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of benchmarks/linkloss.py: inventory, counters, shares, back to full speed,
cluster view, journal, table. Importing it needs neither podman nor a server."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location("linkloss", os.path.join(ROOT, "benchmarks", "linkloss.py"))
linkloss = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(linkloss)

LINKS = ["fab0", "fab1"]


def sample(stamp, fab0_tx, fab1_tx, sockets=None):
    return {"t": stamp, "bytes": {"fab0": [fab0_tx, 0], "fab1": [fab1_tx, 0]}, "sockets": sockets or {}}


def steady(per_s, start=0.0, end=40.0, step=0.25, fab1=None):
    """Samples of a host sending per_s bytes/s on each link; fab1(t) -> fab1's rate instead."""
    out, tx0, tx1, at = [], 0.0, 0.0, start
    while at <= end + 1e-9:
        out.append(sample(round(at, 3), tx0, tx1))
        tx0 += per_s * step
        tx1 += (fab1(at) if fab1 else per_s) * step
        at += step
    return out


def workload(rate, seconds, started_at=0.0, interval=0.5, dip=None):
    buckets = []
    for index in range(int(seconds / interval)):
        at = started_at + index * interval
        buckets.append(int(rate * interval * (0.1 if dip and dip[0] <= at < dip[1] else 1.0)))
    return {"interval_s": interval, "started_at": started_at, "writes_per_interval": buckets,
            "failed_per_interval": [0] * len(buckets)}


def test_inventory_uses_only_the_benchmark_prefix_and_subnets():
    for strategy in linkloss.STRATEGIES:
        variables = linkloss.group_vars(strategy)
        assert variables["fabric_strategy"] == strategy.replace("_placed", "")
        assert variables["testbed_prefix"] == "cfm-ll"
        subnets = [link["subnet"] for link in variables["fabric_links"]] + [variables["testbed_mgmt_subnet"]]
        subnets += [variables["fabric_mptcp_anchor_subnet"]] if "fabric_mptcp_anchor_subnet" in variables else []
        assert all(subnet.startswith("198.19.17") and int(subnet.split(".")[2]) in range(176, 192)
                   for subnet in subnets)
        assert variables["aerospike_namespaces"][0]["replication-factor"] == 2
    hosts = linkloss.host_vars()
    assert sorted(h["ansible_host"] for h in hosts.values()) == ["cfm-ll-node1", "cfm-ll-node2"]


def test_counter_interpolates_and_is_none_outside():
    samples = [sample(0.0, 0, 0), sample(1.0, 1000, 0)]
    assert linkloss.counter_at(samples, 0.25, "fab0") == pytest.approx(250)
    assert linkloss.counter_at(samples, 1.5, "fab0") is None
    assert linkloss.window_bytes({"a": samples, "b": samples}, "fab0", 0.0, 1.0) == pytest.approx(2000)


def test_share_is_none_without_traffic():
    samples = {"a": steady(0.0)}
    assert linkloss.link_share(samples, "fab1", LINKS, 1, 2) is None
    samples = {"a": steady(1000.0, fab1=lambda t: 3000.0)}
    assert linkloss.link_share(samples, "fab1", LINKS, 1, 2) == pytest.approx(0.75)


def test_back_to_full_speed_waits_for_the_share_and_the_rate():
    # the link is dead from 6 to 21 s and carries its share again from 24 s; repair at 21 s
    samples = {"a": steady(100000.0, fab1=lambda t: 0.0 if 6 <= t < 24 else 100000.0)}
    load = workload(200, 46)
    value = linkloss.back_to_full_speed(samples, load, "fab1", LINKS, 21.0, 45.0, 0.5, 200)
    # the first window with >= 0.8 x 0.5 of the bytes on fab1 is [23.75, 24.75] (43 %)
    assert value == pytest.approx(3.75)
    # the same link, but the writes only recover at 30 s
    slow = workload(200, 46, dip=(6, 30))
    # (writes are counted in whole 0.5 s intervals: the window [29.75, 30.75] counts 30-31 s)
    assert linkloss.back_to_full_speed(samples, slow, "fab1", LINKS, 21.0, 45.0, 0.5, 200) == pytest.approx(9.75)
    # never back: the link stays unused
    dead = {"a": steady(100000.0, fab1=lambda t: 0.0 if t >= 6 else 100000.0)}
    assert linkloss.back_to_full_speed(dead, load, "fab1", LINKS, 21.0, 45.0, 0.5, 200) is None
    # the link carried nothing before the failure: nothing to come back to
    assert linkloss.back_to_full_speed(samples, load, "fab1", LINKS, 21.0, 45.0, 0.01, 200) is None
    # at once: no dip at all
    assert linkloss.back_to_full_speed({"a": steady(100000.0)}, load, "fab1", LINKS, 21.0, 45.0, 0.5, 200) == 1.0


def test_writes_between_and_rate_use_whole_intervals():
    load = workload(200, 10, started_at=100.0)
    assert linkloss.write_rate(load, 102.0, 104.0) == pytest.approx(200)
    load["failed_per_interval"][4] = 7
    assert linkloss.writes_between(load, 102.0, 103.0) == (200, 7)


def sockets(retrans, out=6, inside=6):
    return {"fab1": {"3001": {"out": out, "in": inside, "retrans": retrans, "queued": retrans, "probing": 0}}}


def test_socket_timeline_unstuck_and_max():
    host = [sample(t, 0, 0, sockets(r)) for t, r in ((0, 0), (1, 0), (2, 5), (3, 5), (4, 2), (5, 0), (6, 0))]
    assert linkloss.socket_timeline(host, "fab1", 3001, 2.0) == [[-2.0, 6, 6, 0, 0], [0.0, 6, 6, 5, 0],
                                                                 [2.0, 6, 6, 2, 0], [3.0, 6, 6, 0, 0]]
    assert linkloss.max_stuck({"a": host}, "fab1", 3001, 2, 4) == 5
    assert linkloss.unstuck_after({"a": host}, "fab1", 3001, 3.5, 6) == pytest.approx(1.5)
    assert linkloss.unstuck_after({"a": host}, "fab1", 3001, 4.5, 6) == 0.0
    stuck = host[:4]
    assert linkloss.unstuck_after({"a": stuck}, "fab1", 3001, 2.5, 3) is None
    assert linkloss.sockets_at(host, "fab1", 3001, 3.5)["retrans"] == 5


def test_sockets_per_link_count_each_connection_once_and_closing_time():
    a = [sample(t, 0, 0, {"fab0": {"3001": {"out": 6, "in": 6}}, "fab1": {"3001": {"out": n, "in": m}}})
         for t, n, m in ((0, 6, 6), (1, 6, 6), (2, 3, 6), (3, 0, 0), (4, 0, 0))]
    b = [sample(t, 0, 0, {"fab0": {"3001": {"out": 6, "in": 6}}, "fab1": {"3001": {"out": n, "in": m}}})
         for t, n, m in ((0.1, 6, 6), (1.1, 6, 3), (2.1, 0, 0), (3.1, 0, 0), (4.1, 0, 0))]
    assert linkloss.link_sockets({"a": a, "b": b}, LINKS, 3001, 0.5) == {"fab0": 12, "fab1": 12}
    assert linkloss.link_sockets({"a": a, "b": b}, LINKS, 3001, 3.5) == {"fab0": 12, "fab1": 0}
    assert linkloss.closed_after({"a": a, "b": b}, "fab1", 3001, 0.5, 4.5) == pytest.approx(2.5)
    # no connection on the link at the failure: nothing was closed
    assert linkloss.closed_after({"a": a, "b": b}, "fab1", 3001, 3.5, 4.5) is None
    # a connection comes back before the repair: the link was not left empty for good
    a[-1]["sockets"]["fab1"]["3001"]["out"] = 1
    assert linkloss.closed_after({"a": a, "b": b}, "fab1", 3001, 0.5, 4.5) is None


def test_failure_window():
    load = {"started_at": 100.0, "failures": [[7.5, "TimeoutError"], [6.25, "TimeoutError"], [17.0, "TimeoutError"]]}
    assert linkloss.failure_window(load, 106.0) == [0.25, 11.0]
    assert linkloss.failure_window({"started_at": 100.0, "failures": []}, 106.0) is None


def test_variants_add_fabric_settings_and_refuse_anything_else():
    assert linkloss.parse_variant("native") == ("native", {})
    assert linkloss.parse_variant("balanced/keepalive-probes=3,keepalive-intvl=1") == (
        "balanced", {"keepalive-probes": 3, "keepalive-intvl": 1})
    assert linkloss.group_vars("balanced/keepalive-probes=3")["aerospike_network"] == {"fabric": {"keepalive-probes": 3}}
    assert "aerospike_network" not in linkloss.group_vars("balanced")
    assert linkloss.variant_slug("balanced/keepalive-probes=3") == "balanced-keepalive-probes-3"
    for bad in ("single", "bonded/x=1", "balanced/keepalive-probes", "balanced/keepalive-probes=x", "balanced/A=1"):
        with pytest.raises(ValueError):
            linkloss.parse_variant(bad)


def test_cluster_view_and_changes():
    polls = [{"t": 0.0, "host": "node1", "cluster_size": 2, "cluster_key": "A", "cluster_integrity": True},
             {"t": 0.1, "host": "node2", "cluster_size": 2, "cluster_key": "A", "cluster_integrity": True},
             {"t": 1.0, "host": "node1", "cluster_size": 1, "cluster_key": "B", "cluster_integrity": True},
             {"t": 1.1, "host": "node2", "cluster_size": None, "error": "timeout"},
             {"t": 2.0, "host": "node1", "cluster_size": 2, "cluster_key": "C", "cluster_integrity": False}]
    view = linkloss.cluster_view(polls, 0.5, 2.5)
    assert (view["min"], view["max"]) == (1, 2)
    assert view["cluster_keys"] == ["B", "C"]
    assert view["per_host"]["node2"] == {"min": None, "max": None, "failed_polls": 1}
    assert view["integrity_false"] == 1
    assert linkloss.cluster_changes(polls, 0, 3) == [[1.0, "node1", 1, "B"], [2.0, "node1", 2, "C"]]
    steady_polls = [dict(p, cluster_size=2, cluster_key="A") for p in polls[:2]]
    assert linkloss.cluster_changes(steady_polls, 0, 3) == []


def test_migrate_deltas_only_changed_numbers():
    before = {"migrate_tx_partitions_initial": "0", "migrate_records_transmitted": "10", "objects": "5",
              "migrate_x": "off"}
    after = {"migrate_tx_partitions_initial": "2048", "migrate_records_transmitted": "10", "objects": "9",
             "migrate_x": "on"}
    assert linkloss.migrate_deltas(before, after) == {"migrate_tx_partitions_initial": 2048}


def test_journal_drops_periodic_lines_and_watchdog_times():
    text = ("1000.5 node1 asd[1]: Nov 30 2026 GMT: INFO (info): (ticker.c:100) NODE-ID bb9 CLUSTER-SIZE 2\n"
            "1000.6 node1 asd[1]: Nov 30 2026 GMT: INFO (info): (hist.c:319) histogram dump\n"
            "1001.0 node1 asd[1]: Nov 30 2026 GMT: INFO (hb): (hb.c:1) node departed\n"
            "-- Boot --\n")
    assert linkloss.parse_journal(text, 1000.0) == [[1.0, "Nov 30 2026 GMT: INFO (hb): (hb.c:1) node departed"]]
    lines = [[0.4, "peer node2 link fab1 (198.19.177.12): down after 3 failed probes (timeout)"],
             [0.41, "rules applied in 3.3 ms (change): lanes peer_node2_3001=fab0; dead 198.19.177.12.3001"],
             [15.5, "rules applied in 0.5 ms (change): lanes peer_node2_3001=fab0,fab1; dead -"]]
    assert linkloss.watchdog_times(lines, 100.0, 115.0) == {"lane_out_s": 0.41, "lane_back_s": 0.5,
                                                            "held_down": False}
    assert linkloss.watchdog_times(lines[:2], 100.0, 115.0)["lane_back_s"] is None


def test_send_buffers():
    text = ("0 0 198.19.176.11:3001 198.19.176.12:4000\n\t skmem:(r0,rb131072,t0,tb87040,f0,w0,o0,bl0,d0)\n"
            "0 0 198.19.176.11:3001 198.19.176.12:4001\n\t skmem:(r0,rb131072,t0,tb4194304,f0,w0,o0,bl0,d0)\n")
    assert linkloss.send_buffers(text) == {"count": 2, "min": 87040, "median": 4194304, "max": 4194304}
    assert linkloss.send_buffers("") == {"count": 0}


def test_table_shows_every_row_and_never_back_as_more_than_the_window():
    run = {"workload": {"failed": 3, "failed_by_error": {"TimeoutError": 3}, "writes": 900, "longest_stall_s": 1.2},
           "writes_during_failure": {"ok": 2000, "failed": 3}, "failed_writes_window_s": [0.3, 11.2],
           "cluster": {"during": {"min": 2, "max": 2}, "whole_run": {"cluster_keys": ["A"]}},
           "migrations": {"triggered": False}, "back_to_full_speed_s": None,
           "sockets": {"fabric_per_link": {"before": {"fab0": 12, "fab1": 12}, "during": {"fab0": 14, "fab1": 0},
                                           "end": {"fab0": 20, "fab1": 4}},
                       "heartbeat_per_link": {"before": {"fab0": 0, "fab1": 1}, "during": {"fab0": 1, "fab1": 0}},
                       "closed_on_failed_link_s": 11.1},
           "burst_before": {"payload_mbit": 160.0}, "burst_after": {"payload_mbit": 150.25}}
    row = linkloss.result_row("native", "silent", run)
    assert row["failed_writes"] == 3 and row["cluster_changes"] == 0 and row["back_to_full_speed_s"] is None
    assert row["failed_link_sockets"]["end"] == {"link": 4, "all": 24}
    text = linkloss.table([row], after_s=25)
    for part in ("native", "TimeoutError 3", "> 25", "2-2", "150.2", "0.3-11.2", "12/0/4 of 24", "11.10", "160.0/150.2"):
        assert part in text
    assert len(text.splitlines()) == 2
    results = linkloss.results_mapping([row, dict(row, kind="carrier")])
    assert sorted(results["native"]) == ["carrier", "silent"]
    assert "strategy" not in results["native"]["silent"]


def test_mptcp_placed_is_mptcp_with_an_anchor_subnet_of_the_benchmarks_range():
    variables = linkloss.group_vars("mptcp_placed")
    assert variables["fabric_strategy"] == "mptcp" and variables["fabric_mptcp_anchor_subnet"] == linkloss.ANCHOR_SUBNET
    assert "fabric_mptcp_anchor_subnet" not in linkloss.group_vars("mptcp")
