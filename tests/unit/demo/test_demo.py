# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of hack/demo/demo.py: the workload over verify's window, the per-phase
figures taken from a verify report, the top-level ratio and busiest share, the table."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import throughput

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location("cfm_demo", os.path.join(ROOT, "hack", "demo", "demo.py"))
demo = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(demo)

LINKS = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]


def node(rates, connections):
    """Counter samples of a node sending {link: Mbit/s} for 4 s, and its server view."""
    samples = [{"tick": k, "time": 1000.0 + k,
                "bytes": dict((link, [int(mbit * 1e6 / 8 * k), 0]) for link, mbit in rates.items())} for k in range(5)]
    sockets = {"port": 3001, "links": connections, "other": 0, "moved": 0, "nat_view": True, "error": None}
    stats = {"cluster_size": "2", "cluster_integrity": "true", "migrate_partitions_remaining": "0",
             "fabric_connections": "24"}
    return {"cluster": "c1", "links": LINKS, "samples": samples, "status": None, "status_error": None,
            "clock": 1005.0, "server": {"listening": True, "sockets": sockets, "statistics": stats, "error": None}}


def cluster(rates1, rates2, connections):
    report = throughput.summarize({"n1": node(rates1, connections), "n2": node(rates2, connections)},
                                  {"c1": ["n1", "n2"]})
    return report["clusters"]["c1"]


ONE = {"fab0": {"out": 12, "in": 12}, "fab1": {"out": 0, "in": 0}}
EVEN = {"fab0": {"out": 6, "in": 6}, "fab1": {"out": 6, "in": 6}}


def test_phase_figures_come_from_the_verify_report():
    figures = demo.phase_figures(cluster({"fab0": 47, "fab1": 0}, {"fab0": 46, "fab1": 0}, ONE), ["n1", "n2"],
                                 {"fab0": 50, "fab1": 50})
    assert figures["links"]["fab0"]["mbit"] == pytest.approx(93.0)
    assert figures["links"]["fab0"]["tx_bytes"] == int(47e6 / 8 * 4) + int(46e6 / 8 * 4)
    assert figures["links"]["fab0"]["load"] == {"n1": 0.94, "n2": 0.92}
    assert figures["links"]["fab1"]["share"] == 0.0 and figures["busiest_share"] == 1.0
    assert figures["fabric_connections"]["n1"] == ONE and figures["connections_per_link"] == {"fab0": 24, "fab1": 0}
    assert figures["server"]["n2"]["cluster_size"] == 2 and figures["window_s"] == 4.0
    assert figures["aggregate_mbit"] == pytest.approx(93.0)


def test_ratio_and_busiest_share_and_the_table():
    rates = {"fab0": 50, "fab1": 50}
    phases = {"single": demo.phase_figures(cluster({"fab0": 47, "fab1": 0}, {"fab0": 46, "fab1": 0}, ONE),
                                           ["n1", "n2"], rates),
              "balanced": demo.phase_figures(cluster({"fab0": 45, "fab1": 44}, {"fab0": 44, "fab1": 45}, EVEN),
                                             ["n1", "n2"], rates)}
    top = demo.summary(phases)
    assert top["ratio"] == pytest.approx(178.0 / 93.0, abs=1e-3)
    assert top["busiest_share"] == 0.5 and top["busiest_holds"] is True
    lopsided = dict(phases, balanced=demo.phase_figures(
        cluster({"fab0": 60, "fab1": 30}, {"fab0": 60, "fab1": 30}, EVEN), ["n1", "n2"], rates))
    assert demo.summary(lopsided)["busiest_holds"] is False
    assert demo.summary({"balanced": phases["balanced"]})["ratio"] is None
    for phase in phases.values():
        phase["workload"] = {"failed": 1, "seconds": 40.0, "window": {"writes_per_s": 230.0, "payload_mbit": 92.0, "failed": 0}}
        phase["server"]["n1"]["cluster_size"] = 2
    report = {"hosts": ["n1", "n2"], "phases": phases, "mode": "aerospike", "rate_mbit": 50, "summary": top}
    lines = demo.table(report).splitlines()
    assert lines[1].split() == ["single", "fab0", "47.0", "46.0", "93.0", "100.0", "%", "94", "%", "12/12", "12/12"]
    assert lines[4].split() == ["balanced", "fab0", "45.0", "44.0", "89.0", "50.0", "%", "90", "%", "6/6", "6/6"]
    assert lines[7].startswith("single   workload: 230.0 writes/s, 92.0 Mbit/s payload, 0 failed (during the window; "
                               "whole run: 1 failed in 40.0 s); cluster size 2/")
    assert lines[-1].startswith("aggregate ratio balanced/single: 1.914x; busiest link in balanced: 50.0 % (limit 52 %: holds)")


def test_window_rate_takes_the_buckets_inside_verify_window():
    workload = {"started_at": 1000.0, "interval_s": 0.5, "record_bytes": 50000,
                "writes_per_interval": [100] * 20 + [50] * 10, "failed_per_interval": [0] * 29 + [3]}
    rate = demo.window_rate(workload, {"start": 1005.2, "end": 1012.0})
    # the buckets from 1005.5 to 1012.0: 9 of 100 and 4 of 50, 6.5 s; the failures came later
    assert rate == {"seconds": 6.5, "writes": 1100, "failed": 0, "writes_per_s": 169.2,
                    "payload_mbit": round(1100 * 50000 * 8 / 1e6 / 6.5, 1)}
    assert demo.window_rate(workload, None) is None
    assert demo.window_rate(dict(workload, started_at=None), {"start": 1005.2, "end": 1012.0}) is None


def test_strategy_mptcp_runs_single_balanced_then_mptcp_and_sums_up_the_last():
    assert [name for name, dummy, dummy_args in demo.phases_for(None)] == ["single", "native", "balanced"]
    assert demo.phases_for("balanced") is demo.PHASES
    phases = demo.phases_for("mptcp")
    assert [name for name, dummy, dummy_args in phases] == ["single", "balanced", "mptcp"]
    assert phases[-1][2] == ["-e", "fabric_strategy=mptcp"] and phases[1][2] == ["-e", "fabric_strategy=balanced"]
    assert all("%s" not in what for dummy, what, dummy_args in phases[1:])
    rates = {"fab0": 50, "fab1": 50}
    figures = {"single": demo.phase_figures(cluster({"fab0": 47, "fab1": 0}, {"fab0": 46, "fab1": 0}, ONE),
                                            ["n1", "n2"], rates),
               "mptcp": demo.phase_figures(cluster({"fab0": 46, "fab1": 45}, {"fab0": 45, "fab1": 46}, EVEN),
                                           ["n1", "n2"], rates)}
    top = demo.summary(figures, top="mptcp")
    assert top["phase"] == "mptcp" and top["ratio"] == pytest.approx(182.0 / 93.0, abs=1e-3)
    for phase in figures.values():
        phase["workload"] = {"kind": "plain TCP"}
    report = {"hosts": ["n1", "n2"], "phases": figures, "mode": "plain-tcp", "rate_mbit": 50, "summary": top}
    assert demo.table(report).splitlines()[-1].startswith(
        "aggregate ratio mptcp/single: 1.957x; busiest link in mptcp: 50.0 % (limit 52 %: holds)")
