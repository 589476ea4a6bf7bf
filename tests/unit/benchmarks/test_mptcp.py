# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/mptcp.py without containers: the bed's inventory, the figures from raw records
(stream windows, the receiver's ss samples, the link-loss timings), the report; and the test
bed's Multipath TCP sockets (node tool, nat_probe) on loopback."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import socket
import threading

import pytest

from testbed import inventory as tb_inventory
from testbed import node_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LO = [{"name": "lo", "device": "lo", "subnet": "127.0.0.0/8"}]


def _load(name):
    spec = importlib.util.spec_from_file_location("benchmark_" + name, os.path.join(ROOT, "benchmarks", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mptcp = _load("mptcp")
nat_probe = _load("nat_probe")


def mptcp_available():
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, node_tool.IPPROTO_MPTCP).close()
    except OSError:
        return False
    return True


needs_mptcp = pytest.mark.skipif(not mptcp_available(), reason="the kernel has no Multipath TCP (net.mptcp.enabled)")


# ---------------------------------------------------------------------------- the bed
def test_inventory_holds_both_clusters_with_their_strategies():
    data = mptcp.inventory_data()
    groups = data["all"]["children"]
    assert sorted(groups) == ["mbmp", "mbnat"]
    nat, mp = groups["mbnat"]["vars"], groups["mbmp"]["vars"]
    assert (nat["fabric_strategy"], mp["fabric_strategy"]) == ("balanced", "mptcp")
    for variables in (nat, mp):
        assert variables["fabric_roles"] == ["nat", "mptcp"]
        assert variables["fabric_ports"] == [3001, 3002]
        assert variables["ansible_connection"] == tb_inventory.CONNECTION["ansible_connection"]
        assert tb_inventory.PREFIX_RE.fullmatch(variables["testbed_prefix"])
        assert [link["device"] for link in variables["fabric_links"]] == ["eth0", "eth1"]
    subnets = [link["subnet"] for group in groups.values() for link in group["vars"]["fabric_links"]]
    assert len(set(subnets)) == 4 and all(subnet.startswith("198.19.10") for subnet in subnets)
    assert groups["mbmp"]["hosts"]["m1"] == {"fabric_node_id": 1, "ansible_host": "cfm-mb-mp-m1"}


def test_topology_reads_each_cluster_of_the_inventory():
    data = mptcp.inventory_data()
    hostvars = {}
    for group in data["all"]["children"].values():
        for host, values in group["hosts"].items():
            hostvars[host] = dict(group["vars"], **values)
    topo = tb_inventory.Topology({"_meta": {"hostvars": hostvars}}, "mbmp")
    assert topo.hosts == ["m1", "m2"] and topo.strategy == "mptcp" and topo.ports == [3001, 3002]
    assert topo.plan["m2"]["fab1"] == ["198.19.103.12"]
    assert topo.links[0]["rate_mbit"] == 200


# ---------------------------------------------------------------------------- figures
def window(tx, seconds=2.0, busy=300, process=1.5):
    return {"window": {"before": {"fab0": [0, 0], "fab1": [0, 0]},
                       "after": {"fab0": [tx[0], 0], "fab1": [tx[1], 0]}, "seconds": seconds,
                       "cpu_before": [1000, 5000], "cpu_after": [1000 + busy, 5400],
                       "process_cpu_before": 0.5, "process_cpu_after": 0.5 + process},
            "errors": [None, "ConnectionResetError: reset"]}


def test_carried_gives_rate_share_cpu_and_broken_streams():
    run = window((50000000, 50000000))
    run["window"].update(cgroup_cpu_before=10.0, cgroup_cpu_after=10.5)
    assert mptcp.carried(run, receiver_cpu=0.3)["cpu"]["containers_s_per_gb"] == 8.0
    assert mptcp.carried(run)["cpu"]["containers_s"] is None
    figures = mptcp.carried(window((50000000, 50000000)))
    assert figures["mbit"] == 400.0 and figures["busiest_share"] == 0.5 and figures["broken"] == 1
    ticks = float(os.sysconf("SC_CLK_TCK"))
    assert figures["cpu"]["machine_s"] == round(300 / ticks, 3)
    assert figures["cpu"]["machine_s_per_gb"] == round(300 / ticks / 0.1, 3)
    assert figures["cpu"]["sender_s_per_gb"] == 15.0


def row(nat_mbit, mp_mbit, nat_share=0.5, mp_share=0.5, cpu=(2.0, 3.0)):
    return {"nat": {"mbit": nat_mbit, "busiest_share": nat_share, "ratio_to_one_link": nat_mbit / 200.0,
                    "cpu": {"machine_s_per_gb": cpu[0], "sender_s_per_gb": 1.0}},
            "mptcp": {"mbit": mp_mbit, "busiest_share": mp_share, "ratio_to_one_link": mp_mbit / 200.0,
                      "cpu": {"machine_s_per_gb": cpu[1], "sender_s_per_gb": 1.5}}}


def test_pick_and_cpu_and_checks():
    picked = mptcp.pick({"1": row(200, 210), "8": row(245, 215)}, (200, 50))
    assert picked["1"]["strategy"] == "mptcp" and picked["8"]["strategy"] == "nat"
    assert picked["8"]["of_sum_of_links"] == 0.98
    connections = {"link_mbit": 200, "seconds": 3, "rows": {"1": row(190, 370), "8": row(390, 392, mp_share=0.55)},
                   "one_tcp_connection_no_rules": {"mbit": 191.0}}
    cpu = mptcp.cpu_figures(connections)
    assert cpu["mptcp_vs_nat_machine_s_per_gb"] == 1.5 and cpu["connections"] == 8
    report = {"connections": connections, "linkloss": {"carrier": {"violations": ["1 connections broken"]}}}
    assert mptcp.checks(report) == ["mptcp one connection 1.85x < 1.9x", "mptcp eight connections busiest link 55.0 % > 52 %",
                                    "carrier: 1 connections broken"]
    report.update(cpu=cpu, rate={"runs": 3, "per_second": {"none": 1000, "mptcp": 800, "nat": 950},
                                 "ratio_to_none": {"none": 1.0, "mptcp": 0.8, "nat": 0.95}},
                  unequal={"link_mbit": {"fab0": 200, "fab1": 50}, "rows": {"1": row(190, 205)},
                           "pick": {"1": {"strategy": "mptcp"}}})
    report["linkloss"]["carrier"].update(broken=1, recovered_s=0.7, mbit_one_link=185.0, restored_s=1.1, mbit_after=370.0)
    text = mptcp.summarise(report)
    assert "1 connection(s): nat 190.0 Mbit/s (0.95x one link" in text
    assert "unequal links 200+50:" in text and "pick mptcp" in text
    assert "mptcp 800 (0.800x); nat 950 (0.950x)" in text
    assert "link loss carrier broken 1" in text and "VIOLATES 1 connections broken" in text


SS_TEXT = """T 100.0
0      0      [::ffff:198.19.103.12]:3001 [::ffff:198.19.102.11]:40000
\t subflows:1 add_addr_signal:1 subflows_max:1 remote_key token:aa write_seq:1 snd_una:1 rcv_nxt:1000
0      0      [::ffff:198.19.103.12]:3001 [::ffff:198.19.102.11]:40002
\t subflows:1 token:bb rcv_nxt:ffffffffffffff00
T 100.1
0      0      [::ffff:198.19.103.12]:3001 [::ffff:198.19.102.11]:40000
\t subflows:1 token:aa rcv_nxt:1fa8
0      0      [::ffff:198.19.103.12]:3001 [::ffff:198.19.102.11]:40002
\t subflows:1 token:bb rcv_nxt:f00
0      0      [::ffff:198.19.103.12]:3001 [::ffff:198.19.102.11]:40004
\t token:cc rcv_nxt:99999
T 100.2
"""


def test_ss_samples_and_goodput_count_delivered_bytes_per_connection():
    samples = mptcp.parse_ss_samples(SS_TEXT)
    assert [sample[0] for sample in samples] == [100.0, 100.1, 100.2]
    assert samples[0][1] == {"[::ffff:198.19.102.11]:40000": 0x1000, "[::ffff:198.19.102.11]:40002": 0xffffffffffffff00}
    assert len(samples[1][1]) == 3 and samples[2][1] == {}
    assert samples[1][2] == {"[::ffff:198.19.102.11]:40000": 1, "[::ffff:198.19.102.11]:40002": 1,
                             "[::ffff:198.19.102.11]:40004": 0}
    assert mptcp.subflows_at(samples, 100.15) == samples[1][2] and mptcp.subflows_at(samples, 99.0) is None
    series = mptcp.goodput(samples)
    # 0x1fa8 - 0x1000 = 4008 bytes, the wrapped one 0xf00 + 0x100 = 4096 bytes, the new one nothing
    assert series[0][:2] == (100.0, 100.1)
    assert series[0][2] == pytest.approx((4008 + 4096) * 8 / 1e6 / 0.1)
    assert series[1][2] == 0.0  # no connection in both samples


def test_loss_timings_from_a_goodput_series():
    # 0.1 s intervals: 380 Mbit/s until the failure at 10.0, 0 for 0.6 s, 185 until the repair at
    # 15.0, 185 for 1.2 s more, then 372
    series = []
    for index in range(200):
        t0 = index / 10.0
        if t0 < 10.0:
            mbit = 380.0
        elif t0 < 10.6:
            mbit = 0.0
        elif t0 < 16.2:
            mbit = 185.0
        else:
            mbit = 372.0
        series.append((t0, t0 + 0.1, mbit))
    figures = mptcp.loss_figures(series, 10.0, 15.0, 20.0, 200)
    assert figures["mbit_before"] == 380.0 and figures["one_link_mbit"] == 190.0
    assert figures["before_vs_link_rate"] == 1.9
    assert figures["recovered_s"] == pytest.approx(0.6)   # 185 >= 0.9 * 190 from 10.6 on
    assert figures["restored_s"] == pytest.approx(1.2)    # 372 >= 1.9 * 190 = 361 from 16.2 on
    assert figures["stalled_s"] == pytest.approx(0.6)
    assert figures["mbit_one_link"] == 185.0 and figures["mbit_after"] == 372.0
    assert mptcp.loss_violations(dict(figures, broken=0)) == []
    one_link_after = [(15.0 + i / 10.0, 15.1 + i / 10.0, 185.0) for i in range(50)]
    late = mptcp.loss_figures([s for s in series if s[0] < 15.0] + one_link_after, 10.0, 15.0, 20.0, 200)
    assert late["restored_s"] is None
    assert mptcp.loss_violations(dict(late, broken=2)) == ["2 connections broken", "restored_s None > 3.0"]


def test_window_rate_needs_most_of_the_window():
    series = [(0.0, 0.1, 100.0), (0.1, 0.2, 300.0)]
    assert mptcp.window_rate(series, 0.0, 0.2) == pytest.approx(200.0)
    assert mptcp.window_rate(series, 0.1, 0.5) is None


# ---------------------------------------------------------------------------- MPTCP sockets on loopback
def test_cgroup_cpu_of_v1_and_v2():
    assert node_tool.cgroup_cpu({"/sys/fs/cgroup/cpuacct/cpuacct.usage": "392246239\n"}) == 0.392246
    assert node_tool.cgroup_cpu({"/sys/fs/cgroup/cpu.stat": "usage_usec 1500000\nuser_usec 1\n"}) == 1.5
    assert node_tool.cgroup_cpu({}) is None


def test_cpu_jiffies_reads_the_cpu_line():
    text = "cpu  10 2 30 400 5 6 7 8 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n"
    assert node_tool.cpu_jiffies(text) == [10 + 2 + 30 + 6 + 7 + 8, 468]
    busy, total = node_tool.cpu_jiffies()
    assert 0 < busy <= total


def serve(server):
    def accept():
        while True:
            try:
                conn, dummy = server.accept()
            except OSError:
                return
            threading.Thread(target=node_tool._drain, args=(conn,), daemon=True).start()  # pylint: disable=protected-access
    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1]


@needs_mptcp
def test_mptcp_streams_to_an_mptcp_sink_on_loopback():
    server = node_tool.listener(0, mptcp=True)
    try:
        assert server.proto == node_tool.IPPROTO_MPTCP
        port = serve(server)
        result = node_tool.streams("127.0.0.1", port, count=2, seconds=0.3, stream_mbit=0, links=LO, mptcp=True)
        assert result["mptcp"] is True and result["label"] == "2 MPTCP streams"
        assert result["errors"] == [None, None] and all(result["bytes_claimed"])
        window = result["window"]
        assert window["cpu_after"][1] >= window["cpu_before"][1]
        assert window["process_cpu_after"] >= window["process_cpu_before"]
        # a plain TCP peer still connects to the MPTCP listener (fallback)
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        server.close()


def test_a_broken_stream_is_recorded_and_the_others_go_on():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        for dummy_index in range(2):
            accepted.append(server.accept()[0])
        # both connected: the first one gets a RST and breaks, the second is read to its end
        accepted[0].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, nat_probe.LINGER_RST)
        accepted[0].close()
        node_tool._drain(accepted[1])  # pylint: disable=protected-access

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        result = node_tool.streams("127.0.0.1", port, count=2, seconds=0.4, stream_mbit=0, links=LO)
    finally:
        server.close()
    assert result["errors"][0] and result["errors"][1] is None
    assert result["bytes_claimed"][1] > 0


@needs_mptcp
def test_nat_probe_rate_with_mptcp_sockets(capsys):
    server = nat_probe._listener(0, "mptcp")  # pylint: disable=protected-access
    port = server.getsockname()[1]

    def accept():
        while True:
            try:
                conn, dummy = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        nat_probe.main(["rate", "0.1", "127.0.0.1:%d" % port, "mptcp"])
    finally:
        server.close()
    result = json.loads(capsys.readouterr().out)
    assert result["connections"] > 0 and result["failed"] == 0
    assert server.proto == nat_probe.IPPROTO_MPTCP
