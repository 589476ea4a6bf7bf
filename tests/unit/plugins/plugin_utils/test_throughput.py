# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of verification: samples of many nodes -> per-cluster throughput and shares."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import throughput
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

LINKS = [{"name": "fab0", "device": "eth1"}, {"name": "fab1", "device": "eth2"}]


def samples(rates, ticks=range(6), start=1000.0, skew=0.0, interval=1.0):
    """Counter readings of a node sending/receiving {link: (tx Mbit/s, rx Mbit/s)} steadily."""
    out = []
    for tick in ticks:
        elapsed = tick * interval
        out.append({"tick": tick, "time": start + elapsed + skew,
                    "bytes": dict((link, [int(tx * 1e6 / 8 * elapsed) + 5000, int(rx * 1e6 / 8 * elapsed) + 7000])
                                  for link, (tx, rx) in rates.items())})
    return out


def node(rates, cluster="c1", links=None, status=None, **kwargs):
    return {"cluster": cluster, "links": links or LINKS, "samples": samples(rates, **kwargs), "status": status,
            "status_error": None, "clock": 1010.0}


def test_one_link_carrying_everything_is_flagged_on_both_nodes_and_the_cluster():
    report = throughput.summarize({"n1": node({"fab0": (190, 2), "fab1": (0, 0)}),
                                   "n2": node({"fab0": (2, 190), "fab1": (0, 0)}, skew=0.004)},
                                  {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert cluster["hosts"] == ["n1", "n2"] and cluster["missing"] == [] and cluster["links"] == ["fab0", "fab1"]
    sender = cluster["nodes"]["n1"]
    assert sender["links"]["fab0"]["tx_mbit"] == pytest.approx(190, rel=1e-3)
    assert sender["links"]["fab0"]["rx_mbit"] == pytest.approx(2, rel=1e-2)
    assert sender["links"]["fab0"]["device"] == "eth1"
    assert sender["share"] == pytest.approx(1.0) and sender["busiest"] == "fab0" and sender["imbalanced"]
    assert cluster["totals"]["fab0"]["tx_mbit"] == pytest.approx(192, rel=1e-3)
    assert cluster["share"] == pytest.approx(1.0) and cluster["imbalanced"]
    flagged = [(flag["host"], flag["link"]) for flag in report["flagged"]]
    assert flagged == [(None, "fab0"), ("n1", "fab0"), ("n2", "fab0")]
    window = cluster["window"]
    assert window["samples"] == 6 and window["seconds"] == pytest.approx(5.0, abs=0.01)
    assert window["skew"] == pytest.approx(0.004)


def test_even_split_is_not_flagged_and_the_series_sums_the_nodes():
    report = throughput.summarize({"n1": node({"fab0": (95, 1), "fab1": (95, 1)}),
                                   "n2": node({"fab0": (1, 95), "fab1": (1, 95)})}, {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert report["flagged"] == [] and not cluster["imbalanced"]
    assert cluster["totals"]["fab1"]["share"] == pytest.approx(0.5, abs=0.01)
    assert cluster["series"]["time"] == pytest.approx([1, 2, 3, 4, 5])
    assert cluster["series"]["tx"]["fab0"] == pytest.approx([96] * 5, rel=1e-3)


def test_the_busiest_share_is_compared_with_the_threshold():
    rates = {"fab0": (60, 0), "fab1": (40, 0)}
    assert not throughput.summarize({"n1": node(rates)}, {"c1": ["n1"]}, threshold=0.61)["flagged"]
    assert throughput.summarize({"n1": node(rates)}, {"c1": ["n1"]}, threshold=0.59)["flagged"]


def test_idle_nodes_and_single_links_are_never_flagged():
    report = throughput.summarize({"n1": node({"fab0": (0.5, 0), "fab1": (0, 0)}),
                                   "n2": node({"fab0": (100, 0)}, cluster="c2", links=LINKS[:1])},
                                  {"c1": ["n1"], "c2": ["n2"]})
    assert report["flagged"] == []
    assert report["clusters"]["c1"]["nodes"]["n1"]["idle"] and report["clusters"]["c1"]["idle"]
    assert report["clusters"]["c2"]["share"] == pytest.approx(1.0) and not report["clusters"]["c2"]["imbalanced"]


def test_only_ticks_every_node_reached_count():
    # n2 started late: ticks 2..5 only. The cluster is judged over ticks 2..5 on both nodes.
    report = throughput.summarize({"n1": node({"fab0": (100, 0), "fab1": (0, 0)}),
                                   "n2": node({"fab0": (0, 0), "fab1": (100, 0)}, ticks=range(2, 6))},
                                  {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert (cluster["window"]["first_tick"], cluster["window"]["last_tick"], cluster["window"]["samples"]) == (2, 5, 4)
    assert cluster["nodes"]["n1"]["seconds"] == pytest.approx(3.0)
    assert cluster["totals"]["fab0"]["share"] == pytest.approx(0.5, abs=0.01)


def test_nodes_without_shared_ticks_are_reported_not_summed_over_time():
    report = throughput.summarize({"n1": node({"fab0": (100, 0), "fab1": (0, 0)}, ticks=range(0, 3)),
                                   "n2": node({"fab0": (0, 0), "fab1": (100, 0)}, ticks=range(3, 6))},
                                  {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert cluster["window"] is None and cluster["series"] is None
    assert "did not sample at the same time" in cluster["notes"][0]
    assert cluster["nodes"]["n1"]["links"]["fab0"]["tx_mbit"] == pytest.approx(100, rel=1e-3)


def test_a_cluster_without_any_data():
    report = throughput.summarize({}, {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert cluster["hosts"] == [] and cluster["missing"] == ["n1", "n2"] and cluster["window"] is None
    assert report["flagged"] == []
    text = throughput.format_report(report)
    assert "cluster c1: 0 of 2 nodes sampled" in text and "no data from: n1, n2" in text
    assert text.splitlines()[-1].split() == ["cluster", "all", "-", "-", "no", "data"]


def test_missing_hosts_and_counter_resets():
    broken = node({"fab0": (100, 0), "fab1": (50, 0)})
    broken["samples"][-1]["bytes"]["fab1"] = [0, 0]
    report = throughput.summarize({"n1": broken}, {"c1": ["n1", "n3"]})
    cluster = report["clusters"]["c1"]
    assert cluster["missing"] == ["n3"]
    assert cluster["nodes"]["n1"]["links"]["fab1"]["tx_mbit"] is None
    assert cluster["nodes"]["n1"]["share"] == pytest.approx(1.0)
    assert any("n1: the counters of fab1 went backwards" in note for note in cluster["notes"])


@pytest.mark.parametrize("nodes, clusters, options, message", [
    ({}, {"c1": []}, {"threshold": 0}, r"threshold must be a share between 0 \(exclusive\) and 1, got 0"),
    ({}, {"c1": []}, {"threshold": "0.6"}, r"threshold .* got \"0.6\""),
    ({}, {"c1": []}, {"min_mbit": -1}, r"min_mbit must be a number >= 0, got -1"),
    ({}, {"c1": []}, {"stale_after": 0}, r"stale_after must be a number of seconds > 0, got 0"),
    ([], {"c1": []}, {}, r"nodes must be a mapping of host to its samples, got \[\]"),
    ({}, {"c1": "n1"}, {}, r"clusters must be a mapping of cluster to its list of hosts"),
    ({"n9": {"cluster": "c1", "links": LINKS, "samples": []}}, {"c1": ["n1"]}, {},
     r"host n9 reported samples but is in none of the clusters c1"),
    ({"n1": {"cluster": "c1", "links": "fab0", "samples": []}}, {"c1": ["n1"]}, {},
     r"host n1: links must be a list of \{name, device\}, got \"fab0\""),
    ({"n1": {"cluster": "c1", "links": LINKS, "samples": [{"tick": 0, "time": 1.0, "bytes": {"fab0": [1]}}]}},
     {"c1": ["n1"]}, {}, r"host n1: samples\[0\] must be .* got .*\"fab0\": \[1\]"),
])
def test_bad_input_names_the_value(nodes, clusters, options, message):
    with pytest.raises(FabricError, match=message):
        throughput.summarize(nodes, clusters, **options)


STATUS = {
    "updated": 1009.0, "node": "n1",
    "links": {"fab0": {"device": "eth1", "carrier": True, "state": "up", "since": 100.0},
              "fab1": {"device": "eth2", "carrier": False, "state": "down", "since": 950.0}},
    "peers": {"n2": {"fab0": {"address": "198.18.0.12", "state": "up", "since": 100.0, "probes_failed": 0},
                     "fab1": {"address": "198.18.1.12", "state": "down", "since": 951.0, "probes_failed": 6}}},
}


def test_watchdog_states():
    assert throughput.watchdog(None)["state"] == "absent"
    assert throughput.watchdog(None)["message"] == "no watchdog"
    error = throughput.watchdog(None, "/run/x is not JSON: bad")
    assert error["state"] == "error" and "/run/x is not JSON" in error["message"]
    assert throughput.watchdog({"links": []})["state"] == "error"
    assert throughput.watchdog([1, 2])["state"] == "error"
    degraded = throughput.watchdog(STATUS, clock=1010.0)
    assert degraded["state"] == "degraded"
    assert degraded["message"] == ("degraded, 1/2 links up, 1/2 peer paths up, updated 1.0 s ago; "
                                   "link fab1 down for 60 s (eth2, no carrier); "
                                   "peer n2 fab1 down for 59 s (198.18.1.12, 6 probes failed)")
    healthy = dict(STATUS, links={"fab0": STATUS["links"]["fab0"]}, peers={"n2": {"fab0": STATUS["peers"]["n2"]["fab0"]}})
    assert throughput.watchdog(healthy, clock=1010.0)["message"] == \
        "ok, 1/1 links up, 1/1 peer paths up, updated 1.0 s ago"
    stale = throughput.watchdog(healthy, clock=1100.0, stale_after=30)
    assert stale["state"] == "stale" and "updated 91.0 s ago" in stale["message"]
    # a carrier loss the watchdog has not turned into "down" yet still counts
    flapping = dict(healthy, links={"fab0": dict(STATUS["links"]["fab0"], carrier=False)})
    assert throughput.watchdog(flapping, clock=1010.0)["state"] == "degraded"
    # kind mptcp: every link up, but connections that can no longer rejoin one of them
    exhausted = dict(healthy, links={"fab0": dict(STATUS["links"]["fab0"], exhausted=12, short={"opened": 12})})
    view = throughput.watchdog(exhausted, clock=1010.0)
    assert view["state"] == "degraded" and view["exhausted"] == {"fab0": 12}
    assert view["details"] == ["link fab0: 12 connections opened here can no longer get a subflow on it (the kernel's "
                               "limit of re-joins per connection is used up; a restart of the service opens them anew)"]
    assert throughput.watchdog(dict(healthy, links={"fab0": dict(STATUS["links"]["fab0"], exhausted=0)}),
                               clock=1010.0)["state"] == "ok"


def test_watchdog_in_the_report_and_the_table():
    report = throughput.summarize({"n1": node({"fab0": (100, 0), "fab1": (100, 0)}, status=STATUS),
                                   "n2": node({"fab0": (0, 100), "fab1": (0, 100)})}, {"c1": ["n1", "n2", "n3"]})
    assert report["clusters"]["c1"]["watchdog"] == {"absent": 1, "degraded": 1}
    text = throughput.format_report(report)
    lines = text.splitlines()
    assert lines[0] == "cluster c1: 2 of 3 nodes sampled, 2 links, flagged above 60.0 %"
    assert lines[1].startswith("window 5.0 s from ") and lines[1].endswith(", 6 samples, nodes within 0 ms")
    assert lines[2] == "no data from: n3 (unreachable or failed)"
    assert lines[3].split() == ["host", "link", "device", "tx", "Mbit/s", "rx", "Mbit/s", "share"]
    assert lines[4].split() == ["n1", "fab0", "eth1", "100.0", "0.0", "50.0", "%"]
    assert lines[6].split() == ["n1", "all", "200.0", "0.0", "ok,", "busiest", "fab0"]
    assert "watchdog n1: degraded, 1/2 links up, 1/2 peer paths up, updated 1.0 s ago" in lines
    assert "  link fab1 down for 60 s (eth2, no carrier)" in lines
    assert lines[-1] == "watchdog n2: no watchdog"
    # every table line fits a terminal after Ansible's indentation
    assert max(len(line) for line in lines) < 76


def test_table_of_an_imbalanced_and_an_empty_report():
    report = throughput.summarize({"n1": node({"fab0": (100, 0), "fab1": (1, 0)})}, {"c1": ["n1"]})
    assert "IMBALANCED, busiest fab0" in throughput.format_report(report)
    assert throughput.format_report({"clusters": {}}) == "no fabric cluster was sampled"
    with pytest.raises(FabricError, match=r"expected the report of fabric_throughput .* got \[\]"):
        throughput.format_report([])


SOCKETS = {"port": 3001, "links": {"fab0": {"out": 6, "in": 6}, "fab1": {"out": 6, "in": 6}}, "other": 0,
           "moved": 6, "nat_view": True, "error": None}
STATS = {"cluster_size": "2", "cluster_integrity": "true", "migrate_partitions_remaining": "0",
         "fabric_connections": "24"}


def test_server_states():
    assert throughput.server(None) is None
    absent = throughput.server({"listening": False, "sockets": SOCKETS, "statistics": None, "error": None}, 2)
    assert absent["state"] == "absent" and absent["head"] == "no server" and absent["details"] == []
    failed = throughput.server({"listening": True, "sockets": SOCKETS, "statistics": None,
                                "error": "cannot connect to 127.0.0.1 port 3000: refused"}, 2)
    assert failed["state"] == "error" and failed["head"] == "server error: cannot connect to 127.0.0.1 port 3000: refused"
    ok = throughput.server({"listening": True, "sockets": SOCKETS, "statistics": STATS, "error": None}, 2)
    assert (ok["state"], ok["cluster_size"], ok["migrations_pending"], ok["server_fabric_connections"]) == ("ok", 2, 0, 24)
    assert ok["head"] == "cluster size 2, migrations pending 0, fabric connections 24"
    assert ok["details"] == ["ss port 3001: fab0 6 out 6 in, fab1 6 out 6 in; 6 opened ones moved to another link by NAT"]
    assert ok["connections"] == {"fab0": {"out": 6, "in": 6}, "fab1": {"out": 6, "in": 6}}
    alone = throughput.server({"listening": True, "sockets": dict(SOCKETS, nat_view=False, other=2),
                               "statistics": dict(STATS, cluster_size="1", cluster_integrity="false",
                                                  migrate_partitions_remaining="4096"), "error": None}, 2)
    assert alone["head"] == "cluster size 1 (2 in the inventory), integrity false, migrations pending 4096, fabric connections 24"
    assert alone["details"] == ["ss port 3001: fab0 6 out 6 in, fab1 6 out 6 in; 2 on no fabric link; "
                                "opened ones by their own address: no connection tracking table"]
    no_ss = throughput.server({"listening": None, "sockets": {"port": 3001, "links": {}, "error": "ss failed (127): x"},
                               "statistics": STATS, "error": None})
    assert no_ss["state"] == "ok" and no_ss["details"] == ["fabric sockets not counted: ss failed (127): x"]
    assert throughput.server({"listening": True, "statistics": {}})["head"] == "server error: no statistics in its answer"
    assert throughput.server("junk")["state"] == "error"


def test_server_view_bytes_and_connections_in_the_report_and_the_table():
    n1 = node({"fab0": (40, 40), "fab1": (40, 40)})
    n1["server"] = {"listening": True, "sockets": SOCKETS, "statistics": STATS, "error": None}
    n2 = node({"fab0": (0, 0), "fab1": (0, 0)})
    idle = {"fab0": {"out": 0, "in": 0}, "fab1": {"out": 0, "in": 0}}
    n2["server"] = {"listening": False, "sockets": dict(SOCKETS, links=idle), "statistics": None, "error": None}
    report = throughput.summarize({"n1": n1, "n2": n2}, {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert cluster["server"] == {"absent": 1, "ok": 1} and cluster["connections"] == {"fab0": 6, "fab1": 6}
    # the window's bytes, per node and summed (40 Mbit/s for 5 s = 25 MB)
    assert cluster["nodes"]["n1"]["links"]["fab0"]["tx_bytes"] == 25000000
    assert cluster["totals"]["fab1"]["rx_bytes"] == 25000000
    lines = throughput.format_report(report).splitlines()
    assert lines[2].split() == ["host", "link", "device", "tx", "Mbit/s", "rx", "Mbit/s", "share", "conns", "out/in"]
    assert lines[3].split() == ["n1", "fab0", "eth1", "40.0", "40.0", "50.0", "%", "6/6"]
    assert lines[6].split() == ["n2", "fab0", "eth1", "0.0", "0.0", "-", "0/0"]
    assert lines[9].split() == ["cluster", "fab0", "40.0", "40.0", "50.0", "%", "6"]
    assert "server n1: cluster size 2, migrations pending 0, fabric connections 24" in lines
    assert "  ss port 3001: fab0 6 out 6 in, fab1 6 out 6 in; 6 opened ones moved to another link by NAT" in lines
    assert lines[-1] == "server n2: no server"
    # no server anywhere and nothing on the fabric port: no column; something on it: counted
    n1["server"] = dict(n2["server"])
    quiet = throughput.summarize({"n1": n1, "n2": n2}, {"c1": ["n1", "n2"]})
    assert quiet["clusters"]["c1"]["server"] == {"absent": 2} and "conns" not in throughput.format_report(quiet)
    n1["server"]["sockets"] = dict(SOCKETS, links={"fab0": {"out": 8, "in": 0}, "fab1": {"out": 0, "in": 0}})
    busy = throughput.format_report(throughput.summarize({"n1": n1, "n2": n2}, {"c1": ["n1", "n2"]})).splitlines()
    assert busy[3].split()[-1] == "8/0" and busy[9].split()[-1] == "8" and "server n1: no server" in busy
    # without the server view the table keeps its old columns
    plain = throughput.summarize({"n1": node({"fab0": (40, 40), "fab1": (40, 40)})}, {"c1": ["n1"]})
    assert plain["clusters"]["c1"]["server"] is None and plain["clusters"]["c1"]["nodes"]["n1"]["server"] is None
    assert "conns" not in throughput.format_report(plain)
