# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/verify.yml on live two-node podman clusters (the test bed, docs/testbed.md).

Traffic: two 200 Mbit/s links and iperf3. One run with all traffic on fab0 (one iperf3 stream
to the peer's fab0 address): verify must flag the imbalance with a share near 1.0 on fab0,
fail with verify_fail_on_imbalance, show n1's (fake) watchdog status and draw the chart. One
run in check mode with one stream per link address: shares near 0.5, nothing flagged, "no
watchdog", and "no server" (nothing listens on the service port).

Server view, when the node image has the real Aerospike server: site.yml converges a second
cluster (balanced NAT, the server started by the role) and verify must show what the server
says: cluster size 2, no migrations pending, and the fabric connections per link, where the
connections a node opened (which its NAT rules moved between links) must sit on the same link
as the peer's accepted ones. With one server stopped: "no server" there, cluster size 1 on the
other node.

Containers and networks: cfm-vfy-* (links 198.19.68.0/24, 198.19.69.0/24) and cfm-vfysrv-*
(links 198.19.66.0/24, 198.19.67.0/24).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import sys
import time

import pytest

from testbed import aerospike as tba
from testbed import inventory as tbi

NODES = {"n1": 1, "n2": 2}
GROUP = "vfy"
SERVER_GROUP = "vfysrv"
SECONDS = 4
STATUS = "/run/clusterfabric/linkwatch.json"


def links(first):
    return [{"name": "fab0", "subnet": "198.19.%d.0/24" % first, "device": "eth0"},
            {"name": "fab1", "subnet": "198.19.%d.0/24" % (first + 1), "device": "eth1"}]


@pytest.fixture(scope="module")
def bed(testbed):
    cluster = testbed(GROUP, "cfm-vfy", NODES, {"fabric_links": links(68), "testbed_rate_mbit": 200})
    try:
        for port in (5201, 5202):
            cluster.run("n2", "iperf3 -s -D -p %d" % port)
        deadline = time.time() + 10
        while not all(":%d " % port in cluster.run("n2", "ss -ltnH").stdout for port in (5201, 5202)):
            assert time.time() < deadline, "iperf3 servers did not start"
            time.sleep(0.2)
        yield cluster
    finally:
        cluster.down()


def verify(bed, tmp_path, *args):
    """Run verify.yml; returns (rc, output, report)."""
    report = tmp_path / "report.json"
    result = tbi.ansible("ansible-playbook", bed.inventory, "playbooks/verify.yml", "-e", "verify_seconds=%d" % SECONDS,
                         "-e", "verify_report=%s" % report, *args, timeout=300)
    data = json.loads(report.read_text()) if report.exists() else None
    return result.returncode, result.stdout, data


def start_traffic(bed, targets):
    """One iperf3 client per (address, port) from n1, for longer than a verify run (which takes a minute
    or more on a loaded machine; stop_traffic ends them); their pids."""
    pids = []
    for address, port in targets:
        pids.append(bed.run("n1", "setsid iperf3 -c %s -p %d -t 600 >/dev/null 2>&1 </dev/null & echo $!"
                            % (address, port)).stdout.strip())
    time.sleep(1)  # past TCP slow start
    return pids


def stop_traffic(bed, pids):
    bed.run("n1", "kill %s; true" % " ".join(pids))


def fake_status(bed, host):
    """A watchdog status file in the contract's format: fab1 down, the peer's fab1 path too."""
    now = float(bed.run(host, "date +%s.%N").stdout)
    peer = "n2" if host == "n1" else "n1"
    status = {
        "updated": now, "node": host,
        "links": {"fab0": {"device": "eth0", "carrier": True, "state": "up", "since": now - 3600},
                  "fab1": {"device": "eth1", "carrier": False, "state": "down", "since": now - 90}},
        "peers": {peer: {"fab0": {"address": bed.plan[peer]["fab0"][0], "state": "up", "since": now - 3600,
                                  "probes_failed": 0},
                         "fab1": {"address": bed.plan[peer]["fab1"][0], "state": "down", "since": now - 88,
                                  "probes_failed": 7}}},
    }
    bed.run(host, "mkdir -p /run/clusterfabric && cat > %s <<'EOF'\n%s\nEOF" % (STATUS, json.dumps(status)))


def report_line(name, cluster):
    """One line of figures for the test log (pytest -s)."""
    print("%s: shares %s, busiest %s %.3f, %d samples over %.2f s, nodes within %.1f ms" % (
        name, dict((link, round(figures["share"], 3)) for link, figures in cluster["totals"].items()),
        cluster["busiest"], cluster["share"], cluster["window"]["samples"], cluster["window"]["seconds"],
        cluster["window"]["skew"] * 1000))


def no_leftovers(bed):
    for host in NODES:
        assert bed.run(host, "ls -A /root/.ansible_async 2>/dev/null; true").stdout.strip() == "", host


def test_traffic_on_one_link_is_flagged(bed, tmp_path):
    fake_status(bed, "n1")
    pids = start_traffic(bed, [(bed.plan["n2"]["fab0"][0], 5201)])
    try:
        rc, output, report = verify(bed, tmp_path, "-e", "verify_fail_on_imbalance=true", "-e", "verify_watchdog_stale=300",
                                    "-e", "verify_png_dir=%s" % (tmp_path / "png"))
    finally:
        stop_traffic(bed, pids)
        bed.run("n1", "rm -f %s" % STATUS)
    assert report is not None, output
    assert rc != 0 and "busiest link above 60.0 % of the traffic" in output, output
    cluster = report["clusters"][GROUP]
    report_line("one link", cluster)
    assert cluster["hosts"] == ["n1", "n2"] and cluster["missing"] == []
    # Every node read its counters at the same ticks, over (nearly) the whole window: on a
    # loaded machine the launch may overrun the start delay by a tick.
    assert cluster["window"]["samples"] >= SECONDS, cluster["window"]
    assert cluster["window"]["skew"] < 0.5, cluster["window"]
    assert cluster["busiest"] == "fab0" and cluster["share"] > 0.95 and cluster["imbalanced"]
    sender, receiver = cluster["nodes"]["n1"], cluster["nodes"]["n2"]
    assert 120 < sender["links"]["fab0"]["tx_mbit"] < 210, sender
    assert 120 < receiver["links"]["fab0"]["rx_mbit"] < 210, receiver
    assert sender["links"]["fab1"]["tx_mbit"] < 1 and sender["links"]["fab0"]["device"] == "eth0"
    flagged = sorted((flag["host"] or "", flag["link"]) for flag in report["flagged"])
    assert flagged == [("", "fab0"), ("n1", "fab0"), ("n2", "fab0")]
    assert "IMBALANCED, busiest fab0" in output
    watchdog = sender["watchdog"]
    assert watchdog["state"] == "degraded", watchdog
    assert [entry["link"] for entry in watchdog["links_down"]] == ["fab1"]
    assert [(entry["peer"], entry["link"], entry["probes_failed"]) for entry in watchdog["paths_down"]] == \
        [("n2", "fab1", 7)]
    assert re.match(r"degraded, 1/2 links up, 1/2 peer paths up, updated [0-9.]+ (s|min) ago; "
                    r"link fab1 down for \d+ (s|min) \(eth1, no carrier\); "
                    r"peer n2 fab1 down for \d+ (s|min) \(198\.19\.69\.12, 7 probes failed\)$",
                    watchdog["message"]), watchdog["message"]
    assert "watchdog n1: degraded, 1/2 links up" in output
    assert receiver["watchdog"]["state"] == "absent" and "watchdog n2: no watchdog" in output
    png = tmp_path / "png" / ("%s.png" % GROUP)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_leftovers(bed)


def test_one_stream_per_link_is_balanced_in_check_mode(bed, tmp_path):
    pids = start_traffic(bed, [(bed.plan["n2"]["fab0"][0], 5201), (bed.plan["n2"]["fab1"][0], 5202)])
    try:
        rc, output, report = verify(bed, tmp_path, "--check", "-e", "verify_fail_on_imbalance=true")
    finally:
        stop_traffic(bed, pids)
    assert rc == 0, output
    cluster = report["clusters"][GROUP]
    report_line("one stream per link", cluster)
    assert report["flagged"] == [] and not cluster["imbalanced"]
    for link in ("fab0", "fab1"):
        assert 0.4 < cluster["totals"][link]["share"] < 0.6, cluster["totals"]
        assert 0.4 < cluster["nodes"]["n1"]["links"][link]["share"] < 0.6
        assert cluster["nodes"]["n1"]["links"][link]["tx_mbit"] > 100
    assert cluster["mbit"] > 2 * 2 * 100  # both links, counted by sender (tx) and receiver (rx)
    series = cluster["series"]
    assert len(series["time"]) == cluster["window"]["samples"] - 1 and min(series["tx"]["fab1"]) > 100, series
    assert [cluster["nodes"][host]["watchdog"]["state"] for host in NODES] == ["absent", "absent"]
    assert "ok, busiest fab" in output
    # no database here: nothing listens on the service port, which is not an error
    assert [cluster["nodes"][host]["server"]["state"] for host in NODES] == ["absent", "absent"]
    assert cluster["server"] == {"absent": 2} and "server n1: no server" in output
    no_leftovers(bed)


def test_charts_without_matplotlib_stop_the_play_before_sampling(tmp_path):
    """The controller's Python lacks matplotlib (an import blocker on its path): a clear error,
    before any node samples. Local hosts, no containers needed."""
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named matplotlib (blocked by the test)')\n")
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nPYTHONPATH=%s exec %s \"$@\"\n" % (blocker.parent, sys.executable))
    python.chmod(0o755)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"children": {
        "c1": {"hosts": {"h1": {"fabric_node_id": 1}},
               "vars": {"fabric_cluster_group": "c1", "ansible_connection": "local",
                        "fabric_links": [{"name": "fab0", "subnet": "198.19.68.0/24", "device": "lo"}]}},
        "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                               "ansible_python_interpreter": str(python)}}}}}}))
    bed = type("Bed", (), {"inventory": str(inventory)})
    rc, output, report = verify(bed, tmp_path, "-e", "verify_png_dir=%s" % (tmp_path / "png"))
    assert rc != 0 and report is None
    assert "Failed to import the required Python library (matplotlib)" in output, output
    assert "-m pip install matplotlib" in output
    assert "Sample the link counters" not in output


# ---------------------------------------------------------------------------- the server's view
@pytest.fixture(scope="module")
def server_bed(testbed):
    present, reason = tba.available()
    if not present:
        pytest.skip(reason)
    group_vars = {
        "fabric_links": links(66), "testbed_rate_mbit": 200, "fabric_ports": [3001], "fabric_strategy": "balanced",
        "fabric_links_backend": "networkd", "aerospike_version": "8.1", "aerospike_restart": True,
        "aerospike_restart_wait": "cluster",
        "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                                  "storage-engine": {"type": "memory", "data-size": "512M"}}],
    }
    cluster = testbed(SERVER_GROUP, "cfm-vfysrv", NODES, group_vars)
    try:
        result = tbi.ansible("ansible-playbook", cluster.inventory, "playbooks/site.yml")
        assert result.returncode == 0, result.stdout[-5000:]
        # the new cluster's partitions settle before the figures are read
        result = tbi.ansible("ansible", cluster.inventory, SERVER_GROUP, "-m", "clusterfabric.multilink.aerospike_info",
                             "-a", json.dumps({"wait_for": {"migrate_partitions_remaining": 0}, "timeout": 120}))
        assert result.returncode == 0, result.stdout[-3000:]
        yield cluster
    finally:
        cluster.down()


def test_the_server_view_shows_cluster_size_migrations_and_connections_per_link(server_bed, tmp_path):
    rc, output, report = verify(server_bed, tmp_path)
    assert rc == 0, output
    cluster = report["clusters"][SERVER_GROUP]
    views = dict((host, cluster["nodes"][host]["server"]) for host in NODES)
    for host, view in views.items():
        print("%s: %s; %s" % (host, view["head"], "; ".join(view["details"])))
        assert view["state"] == "ok", view
        assert (view["cluster_size"], view["cluster_integrity"], view["migrations_pending"]) == (2, "true", 0), view
        # 14 each way: rw 8, bulk 4 (the aerospike role's 2 per link under balanced), ctrl 1, meta 1
        assert view["server_fabric_connections"] >= 28, view
        assert view["nat_view"] is True and view["connections_other"] == 0, view
        assert sum(pair["out"] for pair in view["connections"].values()) == 14, view
        assert sum(pair["in"] for pair in view["connections"].values()) == 14, view
        assert "server %s: cluster size 2, migrations pending 0, fabric connections " % host in output
    # What one node opened on a link, the other accepted on that link: the opener's count follows
    # the NAT rules (conntrack), not the addresses its sockets were opened with.
    for link in ("fab0", "fab1"):
        assert views["n1"]["connections"][link]["out"] == views["n2"]["connections"][link]["in"], views
        assert views["n2"]["connections"][link]["out"] == views["n1"]["connections"][link]["in"], views
        assert cluster["connections"][link] == views["n1"]["connections"][link]["out"] + \
            views["n2"]["connections"][link]["out"]
    # the server picks one of the peer's two addresses per socket, the rules rotate: some moved
    assert views["n1"]["moved"] + views["n2"]["moved"] > 0, views
    assert re.search(r"n1\s+fab0\s+eth0\s+\S+\s+\S+\s+\S+ %\s+\d+/\d+", output), output


def test_a_stopped_server_is_no_server_and_its_peer_sees_a_cluster_of_one(server_bed, tmp_path):
    server_bed.run("n2", "systemctl stop aerospike")
    try:
        rc, output, report = verify(server_bed, tmp_path, "--check")
    finally:
        server_bed.run("n2", "systemctl start aerospike")
    assert rc == 0, output
    cluster = report["clusters"][SERVER_GROUP]
    alone, stopped = cluster["nodes"]["n1"]["server"], cluster["nodes"]["n2"]["server"]
    assert stopped["state"] == "absent" and "server n2: no server" in output, stopped
    assert alone["state"] == "ok" and alone["cluster_size"] == 1, alone
    assert "server n1: cluster size 1 (2 in the inventory)" in output
    assert cluster["server"] == {"absent": 1, "ok": 1}
    no_leftovers(server_bed)
