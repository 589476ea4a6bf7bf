# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/failover.py, nat_split.py and nat_probe.py without containers: the figures from
raw records, the failures of the test bed, the report of a partial run, the probe's connect load."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import socket
import threading

from testbed import cluster as tb_cluster
from testbed import inventory as tb_inventory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _load(name):
    spec = importlib.util.spec_from_file_location("benchmark_" + name, os.path.join(ROOT, "benchmarks", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


failover = _load("failover")
nat_split = _load("nat_split")
nat_probe = _load("nat_probe")


def bed(prefix="cfm-lw-unit", links=None, nodes=None):
    """A test bed Cluster from an inventory's data (no ansible-inventory, no podman)."""
    hostvars = {}
    for host, number in (nodes or failover.NODES).items():
        hostvars[host] = dict(tb_inventory.CONNECTION, fabric_node_id=number, ansible_host="%s-%s" % (prefix, host),
                              fabric_cluster_group="failover", testbed_prefix=prefix,
                              **failover.group_vars(links))
    return tb_cluster.Cluster(tb_inventory.Topology({"_meta": {"hostvars": hostvars}}, "failover"))


def monitor_line(stamp, chain, addresses):
    numbered = ", ".join("%d : %s" % (i, a) for i, a in enumerate(addresses))
    return "%.6f add rule ip clusterfabric_multilink %s handle 9 dnat to numgen inc mod %d map { %s }" % (
        stamp, chain, len(addresses), numbered)


def test_the_failure_kinds_are_the_test_beds():
    cluster = bed()
    host, fail, repair = failover.failure_commands(cluster, "link_down")
    assert (host, fail, repair) == ("n1", "ip link set eth1 down", "ip link set eth1 up")
    host, fail, repair = failover.failure_commands(cluster, "peer_drop")
    assert host == "n2" and 'iifname "eth1" drop' in fail and repair.startswith("nft delete table inet ")


def test_detection_failback_and_connections_from_the_raw_records():
    cluster = bed()
    n2 = [cluster.plan["n2"]["fab0"][0], cluster.plan["n2"]["fab1"][0]]
    n1 = [cluster.plan["n1"]["fab0"][0], cluster.plan["n1"]["fab1"][0]]
    fail, repair = {"before": 100.0}, {"before": 103.0}
    monitors = {"n1": [monitor_line(100.3, "peer_n2_3001", n2[:1]), monitor_line(103.4, "peer_n2_3001", n2)],
                "n2": [monitor_line(100.6, "peer_n1_3001", n1[:1]), monitor_line(103.2, "peer_n1_3001", n1)]}
    records = [[0, 99.0 + i * 0.1, 99.01 + i * 0.1, True, None, 40000 + i] for i in range(60)]
    records[20] = [0, 101.0, 104.5, False, "timeout", 40020]      # after detection: a violation
    records[5] = [0, 100.1, 100.2, False, "ECONNREFUSED", 40005]   # before detection: reported
    records += [[1, 101.5, 101.51, False, "ECONNREFUSED", 41000], [1, 102.0, 105.5, False, "timeout", 41001]]
    load = {"targets": ["%s:3001" % n2[0], "%s:3001" % n2[1]], "records": records}
    figures = failover.analyse(cluster, "peer_drop", fail, repair, monitors, load)
    assert figures["detection_s"] == 0.3 and figures["failback_s"] == 0.4
    assert figures["peer_detection_s"] == 0.6 and figures["peer_failback_s"] == 0.2
    assert figures["failed_after_detection"] == 1 and figures["failed_before_detection"] == 1
    assert figures["unexplained_rule_changes"] == 0
    assert figures["dead_address_after_detection"]["failed_at_once"] == 1
    assert figures["dead_address_after_detection"]["hung"] == 1
    figures["share_after_failback"] = 0.5
    assert failover.violations(figures) == ["failed_after_detection 1 != 0",
                                            "1 connects to the dead link's address hung after detection"]


def test_nat_split_reports_a_rate_only_run_and_plans_a_thousand_peers():
    cluster = bed("cfm-nat-unit", links=[{"name": "fab0", "subnet": "198.18.48.0/21", "device": "eth0"},
                                         {"name": "fab1", "subnet": "198.18.56.0/21", "device": "eth1"}],
                  nodes={"n1": 1, "rnone": 2, "ript": 6, "n2": 1001})
    plan = nat_split.big_plan(cluster)
    assert len(plan) == 1001 and plan["n2"] == cluster.plan["n2"]
    rate = {"peers": 1000, "runs": 3, "per_second": {"none": 4000, "nftables": 3900, "iptables": 2000},
            "ratio": {"none": 1.0, "nftables": 0.975, "iptables": 0.5}}
    text = nat_split.report({"rate": rate})
    assert "P1" not in text and "no rules 4000; nftables 3900 (0.975x, goal >= 0.97x); iptables 2000 (0.500x)" in text


def test_the_probes_connect_load_records_every_attempt(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except socket.timeout:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        out = str(tmp_path / "load.json")
        nat_probe.load(out, 0.5, 1.0, ["127.0.0.1:%d@40" % port])
    finally:
        stop.set()
        thread.join()
        server.close()
    with open(out) as handle:
        document = json.load(handle)
    assert document["targets"] == ["127.0.0.1:%d" % port]
    assert 15 <= len(document["records"]) <= 25 and all(record[3] for record in document["records"])
    act = str(tmp_path / "act.json")
    nat_probe.act(act, "echo done")
    with open(act) as handle:
        record = json.load(handle)
    assert record["rc"] == 0 and record["output"] == "done\n" and record["after"] >= record["before"]


def test_probe_rows_say_where_a_connection_arrived_or_what_failed(capsys):
    answering = nat_probe._listener(0)
    answering_port = answering.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)        # accepts into the backlog, never answers
    silent_port = silent.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()

    def serve_once():
        conn = answering.accept()[0]
        nat_probe._answer(conn)

    thread = threading.Thread(target=serve_once)
    thread.start()
    try:
        nat_probe.probe(1, ["0.3", "127.0.0.1:%d" % answering_port, "127.0.0.1:%d" % closed_port,
                            "127.0.0.1:%d" % silent_port])
    finally:
        thread.join()
        answering.close()
        silent.close()
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == ["127.0.0.1:%d" % answering_port, "127.0.0.1", "127.0.0.1", None]
    assert rows[1][1:3] == [None, None] and rows[1][3].startswith("connect: ECONNREFUSED after ")
    assert rows[2][1:3] == [None, None] and rows[2][3].startswith("answer: timeout after 0.3")
