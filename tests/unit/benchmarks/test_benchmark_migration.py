# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of benchmarks/migration.py: the native pick model, ss parsing, the sockets'
links as the accepting node sees them, link load, speed-ups and the table.

The module must import without podman or the test bed; each figure is tested with input that
must change it (an uneven split, a NAT'ed socket, a slow phase), so a broken helper fails.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import ipaddress
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location("benchmark_migration", os.path.join(ROOT, "benchmarks", "migration.py"))
migration = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(migration)

NETWORKS = [("fab0", ipaddress.ip_network("198.19.160.0/24")), ("fab1", ipaddress.ip_network("198.19.161.0/24"))]
N1 = ["198.19.160.11", "198.19.161.11"]
N2 = ["198.19.160.12", "198.19.161.12"]


def test_imports_without_the_test_bed():
    # the live part imports the test bed (and through it podman) only when a Bench is made
    code = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('m', %r); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('testbed', 'aerospike')))" % SPEC.origin)
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- native model
def test_glibc_rand_matches_glibc_unseeded():
    # printf("%d", rand()) five times in a C program on glibc, no srand()
    assert migration.glibc_rand(5) == [1804289383, 846930886, 1681692777, 1714636915, 1957747793]
    assert migration.glibc_rand(3, seed=2) != migration.glibc_rand(3)


def test_endpoint_bytes_layout():
    # capabilities 0, type 1 (IPv4), port 3001 in x86 host order, address in network order
    assert migration.endpoint_bytes("198.19.160.12", 3001) == bytes(bytearray([0, 1, 0xB9, 0x0B, 198, 19, 160, 12]))
    assert migration.endpoint_bytes("2001:2::1", 3001)[:2] == bytes(bytearray([0, 2]))
    assert len(migration.endpoint_bytes("2001:2::1", 3001)) == 20


def test_merge_sort_is_a_stable_sort():
    items = [(3, "a"), (1, "b"), (3, "c"), (0, "d"), (2, "e")]
    out = migration._merge_sort(items, lambda x, y: x[0] - y[0])  # pylint: disable=protected-access
    assert out == [(0, "d"), (1, "b"), (2, "e"), (3, "a"), (3, "c")]


def test_model_reproduces_the_picks_seen_live():
    # asd 8.1.2.0, two links, fresh restarts of both nodes (2026-11-30): the links of each node's
    # 12 sockets to its peer in socket creation order (1 = the second link).
    assert migration.find_rand_position([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1], N2)[:1] == [2]
    assert migration.find_rand_position([1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0], N1)[:1] == [0]
    assert migration.find_rand_position([0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0], N1)[:1] == [2]
    assert migration.native_picks(N2, 2, 12) == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]


def test_model_depends_on_the_addresses_and_finds_nothing_for_impossible_picks():
    other = ["198.19.160.48", "198.19.161.48"]
    assert migration.native_picks(N2, 0, 40) != migration.native_picks(other, 0, 40)
    assert migration.find_rand_position([0] * 40, N2, limit=50) == []
    assert migration.find_rand_position([], N2) == []


def test_native_pick_ranges():
    four = ["198.19.%d.12" % (160 + i) for i in range(4)]
    picks = migration.native_picks(four, 0, 200)
    assert set(picks) == {0, 1, 2, 3}
    assert migration.native_picks(["198.19.160.12"], 0, 5) == [0] * 5


def test_channel_layout_and_bulk_split():
    layout = migration.channel_layout({})
    assert layout == ["rw"] * 8 + ["ctrl", "bulk", "bulk", "meta"]
    assert migration.channel_layout({"bulk": 4}).count("bulk") == 4
    picks = ["fab0"] * 9 + ["fab1", "fab1", "fab0"]
    assert migration.bulk_split(picks, layout, ["fab0", "fab1"]) == {"fab0": 0, "fab1": 2}


# ---------------------------------------------------------------------------- ss and sockets
SS_NODE1 = """\
0      0      198.19.160.11:46942 198.19.160.12:3001 ino:5001 sk:1 cgroup:/ <->
\t bbr wscale:10,10 rto:204 rtt:0.02/0.009 mss:1448 bytes_sent:24 bytes_acked:25 bytes_received:44 segs_out:67
0      0      198.19.160.11:46952 198.19.160.12:3001 ino:5002 sk:2 cgroup:/ <->
\t bbr wscale:10,10 bytes_sent:75127524 bytes_acked:75127525 bytes_received:46500 segs_out:52652
0      0      198.19.160.11:3001  198.19.160.12:55104 ino:6001 sk:3 cgroup:/ <->
\t bbr wscale:10,10 bytes_sent:75077415 bytes_acked:75077415 bytes_received:46524
0      0      198.19.160.11:3001  198.19.160.12:55112 ino:6002 sk:4 cgroup:/ <->
\t bbr wscale:10,10 bytes_sent:100 bytes_acked:100 bytes_received:2000
"""
# node2 opened 55112 and 55104 over fab0; node1's two out sockets both dialled node2's fab0
# address, and NAT took the first (46942) over fab1: node2, the acceptor, sees it there.
SS_NODE2 = """\
0      0      198.19.161.12:3001  198.19.161.11:46942 ino:7001 sk:5 cgroup:/ <->
\t bbr bytes_sent:44 bytes_acked:44 bytes_received:24
0      0      198.19.160.12:3001  198.19.160.11:46952 ino:7002 sk:6 cgroup:/ <->
\t bbr bytes_sent:46500 bytes_acked:46500 bytes_received:75127524
0      0      198.19.160.12:55104 198.19.160.11:3001 ino:8001 sk:7 cgroup:/ <->
\t bbr bytes_sent:46524 bytes_acked:46524 bytes_received:75077415
0      0      198.19.160.12:55112 198.19.160.11:3001 ino:8000 sk:8 cgroup:/ <->
\t bbr bytes_sent:2000 bytes_acked:2000 bytes_received:100
"""


def test_parse_ss():
    sockets = migration.parse_ss(SS_NODE1)
    assert len(sockets) == 4
    assert sockets[0] == {"local": "198.19.160.11", "lport": 46942, "remote": "198.19.160.12", "rport": 3001,
                          "ino": 5001, "bytes_sent": 24, "bytes_acked": 25, "bytes_received": 44, "token": None}
    assert sockets[2]["lport"] == 3001 and sockets[2]["bytes_acked"] == 75077415
    six = migration.parse_ss("0 0 [2001:2::11]:3001 [2001:2::12]:40000 ino:9\n\t bytes_acked:5\n")
    assert six[0]["local"] == "2001:2::11" and six[0]["rport"] == 40000 and six[0]["bytes_acked"] == 5
    assert migration.parse_ss("garbage\n\n") == []


# node2 accepted two MPTCP connections from node1, each with a subflow per link; the first
# carried its data on its fab1 subflow (where node1 dialled), the second on fab0
SUBFLOW = ("0 0 %s:3001 %s:%d ino:0 sk:1 <->\n"
           "\t cubic bytes_acked:%d bytes_received:%d tcp-ulp-mptcp flags:Jec token:%s/%s(id:1) seq:1 maplen:0\n")
SS_MPTCP_NODE2 = "".join([
    SUBFLOW % (N2[1], N1[1], 40001, 10, 70000000, "a1", "b1"),
    SUBFLOW % (N2[0], N1[0], 40002, 10, 300000, "a1", "b1"),
    SUBFLOW % (N2[0], N1[0], 40003, 10, 69000000, "a2", "b2"),
    SUBFLOW % (N2[1], N1[1], 40004, 10, 100, "a2", "b2"),
    SUBFLOW % (N2[0], N1[0], 40005, 10, 2000, "a3", "b3"),
    "0 0 %s:3001 %s:40006 ino:77\n\t cubic bytes_acked:5 bytes_received:9\n" % (N2[0], N1[0]),
])


def test_parse_ss_names_the_mptcp_connection_of_a_subflow():
    sockets = migration.parse_ss(SS_MPTCP_NODE2)
    assert [sock["token"] for sock in sockets] == ["b1", "b1", "b2", "b2", "b3", None]


def test_mptcp_connections_group_subflows_and_name_the_carrier():
    ss = {"node1": [], "node2": migration.parse_ss(SS_MPTCP_NODE2)}
    out = migration.mptcp_connections(ss, NETWORKS, order=["node1", "node2"])
    by_token = dict((c["token"], c) for c in out["connections"])
    assert sorted(by_token) == ["b1", "b2", "b3"]  # the plain TCP socket is not one
    assert by_token["b1"]["bytes_per_link"] == {"fab0": 300000, "fab1": 70000000} and by_token["b1"]["carrier"] == "fab1"
    assert by_token["b2"]["carrier"] == "fab0" and by_token["b2"]["links"] == ["fab0", "fab1"]
    # b3 carried almost nothing: not one of the heavy connections
    assert out["heavy"] == 2 and out["heavy_per_carrier"] == {"fab0": 1, "fab1": 1}
    assert out["heavy_carrier_share"] == round(139000000 / 139300100.0, 3)
    # both heavy connections on one link: what the placement allows is one link's speed
    moved = SS_MPTCP_NODE2.replace("%s:3001 %s:40001" % (N2[1], N1[1]), "%s:3001 %s:40001" % (N2[0], N1[0]))
    both = migration.mptcp_connections({"node1": [], "node2": migration.parse_ss(moved)}, NETWORKS, order=["node1", "node2"])
    assert both["heavy_per_carrier"] == {"fab0": 2, "fab1": 0}
    assert migration.socket_bound_speedup(both["heavy_per_carrier"]) == 1.0


def test_fabric_sockets_take_the_link_from_the_acceptor_and_order_from_inodes():
    ss = {"node1": migration.parse_ss(SS_NODE1), "node2": migration.parse_ss(SS_NODE2)}
    rows = migration.fabric_sockets(ss, NETWORKS, order=["node1", "node2"])
    assert len(rows) == 4
    by_port = dict((r["opener_port"], r) for r in rows)
    # node1 dialled node2's fab0 address, NAT took it over fab1: node2 (acceptor) sees fab1
    assert by_port[46942]["opener"] == "node1" and by_port[46942]["link"] == "fab1"
    assert by_port[46942]["dialled_link"] == "fab0"
    # bytes from node1 to node2: what the acceptor node2 received / what acceptor node1 sent
    assert by_port[46952]["bytes_a_to_b"] == 75127524
    assert by_port[55104]["bytes_a_to_b"] == 75077415 and by_port[55104]["opener"] == "node2"
    # node2 opened 55112 (ino 8000) before 55104 (ino 8001)
    assert by_port[55112]["position"] == 0 and by_port[55104]["position"] == 1
    # 2 sockets per opener do not fit the 12-socket layout: channel unknown
    assert set(r["channel"] for r in rows) == {"unknown"}


def test_fabric_sockets_channels_when_the_layout_fits():
    ss = {"node1": migration.parse_ss(SS_NODE1), "node2": migration.parse_ss(SS_NODE2)}
    rows = migration.fabric_sockets(ss, NETWORKS, fds={"rw": 1, "ctrl": 0, "bulk": 1, "meta": 0}, order=["node1", "node2"])
    channels = dict(((r["opener"], r["position"]), r["channel"]) for r in rows)
    assert channels == {("node1", 0): "rw", ("node1", 1): "bulk", ("node2", 0): "rw", ("node2", 1): "bulk"}


def test_socket_summary_counts_heavy_sockets_per_link():
    ss = {"node1": migration.parse_ss(SS_NODE1), "node2": migration.parse_ss(SS_NODE2)}
    rows = migration.fabric_sockets(ss, NETWORKS, order=["node1", "node2"])
    summary = migration.socket_summary(rows, ["fab0", "fab1"])
    assert summary["heavy_per_link"] == {"fab0": 2, "fab1": 0}
    assert summary["by_opener"]["node1"]["per_link"] == {"fab0": 1, "fab1": 1}
    assert summary["by_opener"]["node1"]["dialled"] == ["fab0", "fab0"]
    assert summary["heavy_bytes_per_link"]["fab0"] == 75127524 + 75077415


def test_link_of():
    assert migration.link_of("198.19.161.3", NETWORKS) == "fab1"
    assert migration.link_of("10.0.0.1", NETWORKS) is None
    assert migration.link_of("not an address", NETWORKS) is None


# ---------------------------------------------------------------------------- attempts
def test_attempts_script_and_parse():
    script = migration.attempts_script(N2)
    assert script.count("counter") == 2 and "delete table inet cfm_mig_count" in script
    assert "meta mark != 0x63666d6c" in script and "ip daddr 198.19.161.12 tcp dport 3001" in script
    listing = """table inet cfm_mig_count {
\tchain out {
\t\ttype filter hook output priority 10; policy accept;
\t\tip daddr 198.19.160.12 tcp dport 3001 tcp flags & (syn | ack) == syn meta mark != 0x63666d6c counter packets 7 bytes 420
\t\tip daddr 198.19.161.12 tcp dport 3001 tcp flags & (syn | ack) == syn meta mark != 0x63666d6c counter packets 5 bytes 300
\t}
}
"""
    assert migration.parse_attempts(listing) == {"198.19.160.12": 7, "198.19.161.12": 5}
    assert "ip6 daddr 2001:2::12" in migration.attempts_script(["2001:2::12"])


# ---------------------------------------------------------------------------- figures
def test_counter_delta_and_cpu_busy():
    before = {"fab0": {"tx": 100, "rx": 5}, "fab1": {"tx": 0, "rx": 0}}
    after = {"fab0": {"tx": 1100, "rx": 15}, "fab1": {"tx": 50, "rx": 1}}
    assert migration.counter_delta(before, after) == {"fab0": {"tx": 1000, "rx": 10}, "fab1": {"tx": 50, "rx": 1}}
    # user nice system idle iowait irq softirq steal: 300 busy of 400
    assert migration.cpu_busy([0] * 8, [100, 0, 100, 80, 20, 50, 50, 0]) == 0.75
    assert migration.cpu_busy([1] * 8, [1] * 8) is None


def samples(rate_mbit, seconds, step=0.25, start=100.0):
    out = []
    for index in range(int(seconds / step) + 1):
        t = start + index * step
        sent = int((t - start) * rate_mbit * 1e6 / 8)
        out.append({"t": t, "tx": {"eth0": sent, "eth1": sent // 4}, "cpu": [index * 2, 0, 0, index * 2, 0, 0, 0, 0]})
    return out


def test_link_load_and_cpu_from_samples():
    load = migration.link_load(samples(95, 10), {"fab0": "eth0", "fab1": "eth1"}, {"fab0": 100.0, "fab1": 100.0}, 101.0, 109.0)
    assert load["fab0"]["mbit"] == pytest.approx(95, abs=0.5)
    assert load["fab0"]["utilisation"] == pytest.approx(0.95, abs=0.01)
    assert load["fab1"]["utilisation"] == pytest.approx(0.2375, abs=0.01)
    assert load["fab0"]["median_interval_utilisation"] == pytest.approx(0.95, abs=0.01)
    assert len(load["fab0"]["series"]) == 34  # 100.75 .. 109.25
    assert migration.link_load(samples(95, 10)[:1], {"fab0": "eth0"}, {"fab0": 100.0}, 101.0, 109.0) == {}
    assert migration.sampled_cpu(samples(95, 10), 101.0, 109.0) == 0.5


def test_window_samples_brackets_the_window():
    window = migration.window_samples(samples(10, 2, step=0.5), 100.7, 101.2)
    assert [s["t"] for s in window] == [100.5, 101.0, 101.5]


def test_migration_window():
    polls = [[0.2, 1, 0, 0, -1], [1.0, 1, 0, 1, 0], [1.9, 2, 4096, 2, 0], [5.0, 2, 10, 2, 10], [7.5, 2, 0, 2, 0]]
    assert migration.migration_window(polls) == (1.9, 7.5)
    assert migration.migration_window([[0.5, 1, 0, 0, -1]]) == (None, 0.5)
    assert migration.migration_window([]) == (None, None)


def run(links, phase, seconds, node1_tx=None, plan=0, cpu=0.3):
    node1_tx = node1_tx or {"fab0": 300e6}
    return {"links": links, "phase": phase, "seconds": seconds, "plan": plan, "cpu_busy": cpu,
            "link_load_node1_tx": {"fab0": {"utilisation": 0.9}, "fab1": {"utilisation": 0.5}},
            "counters": {"node1": dict((link, {"tx": v, "rx": 0}) for link, v in node1_tx.items())}}


RUNS = [run(2, "single", 30.0), run(2, "native", 20.0), run(2, "native", 30.0), run(2, "native", 15.0, plan=1),
        run(2, "balanced", 15.5, {"fab0": 150e6, "fab1": 150e6}),
        run(4, "single", 60.0), run(4, "native", 40.0), run(4, "balanced", 16.0), run(4, "balanced_bulk2", 31.0)]


def test_speedups():
    out, bases = migration.speedups(RUNS)
    assert out["2"] == {"single": 1.0, "balanced": 1.935, "native_mean": round(30 / (65 / 3.0), 3),
                        "native_worst": 1.0, "native_best": 2.0}
    assert out["4"]["balanced"] == 3.75 and out["4"]["balanced_bulk2"] == round(60 / 31.0, 3)
    assert bases["2"] == {"single": "single", "native": "single", "balanced": "single"}
    # no baseline, no speed-up; unfinished runs (seconds None) are left out
    assert migration.speedups([run(2, "balanced", 10.0)]) == ({}, {})
    assert migration.speedups([run(2, "single", 30.0), run(2, "balanced", None)])[0]["2"] == {"single": 1.0}


def test_speedups_compare_server_settings_alike():
    runs = [run(2, "single", 30.0), run(2, "balanced", 20.0), run(2, "single_mt4", 26.0), run(2, "balanced_mt4", 13.0),
            run(2, "balanced_bulk4", 17.0), run(2, "balanced_bulk4_mt4", 13.0)]
    out, bases = migration.speedups(runs)
    assert out["2"]["balanced_mt4"] == 2.0 and bases["2"]["balanced_mt4"] == "single_mt4"
    assert out["2"]["balanced_bulk4_mt4"] == 2.0 and bases["2"]["balanced_bulk4_mt4"] == "single_mt4"
    assert out["2"]["balanced_bulk4"] == round(30 / 17.0, 3) and bases["2"]["balanced_bulk4"] == "single"
    assert out["2"]["single_mt4"] == 1.0 and out["2"]["balanced"] == 1.5
    # without single_mt4 the plain single is the baseline
    assert migration.baseline_of("balanced_mt4", {"single", "balanced_mt4"}) == "single"


def test_native_verdict():
    assert migration.native_verdict(RUNS, 2) == "either"
    assert migration.native_verdict([run(2, "native", 16.0), run(2, "balanced", 15.5)], 2) == "even"
    assert migration.native_verdict([run(2, "native", 25.0), run(2, "balanced", 15.5)], 2) == "uneven"
    assert migration.native_verdict([run(2, "native", 25.0)], 2) is None


def test_table():
    text = migration.table({"runs": RUNS})
    lines = text.splitlines()
    assert lines[0].startswith("links")
    balanced = [line for line in lines if line.split()[:2] == ["2", "balanced"]][0]
    assert "1.94x" in balanced and "fab0 150 fab1 150" in balanced and " 90% " in balanced
    native = [line for line in lines if line.split()[:2] == ["2", "native"]][0]
    assert native.split()[2] == "3" and "1.00x" in native
    expected = ["single", "native", "balanced", "single", "native", "balanced", "balanced_bulk2"]
    assert [line.split()[1] for line in lines[1:]] == expected


def test_parse_args():
    args = migration.parse_args(["--links", "2", "--quick"])
    assert args.links == [2] and args.quick and args.mb == 300
    assert migration.parse_args([]).links == [2, 4]
    with pytest.raises(SystemExit):
        migration.parse_args(["--links", "8"])


def test_shell_quote():
    assert migration.shell_quote("a'b") == "'a'\"'\"'b'"


# ---------------------------------------------------------------------------- socket-bound model
def test_socket_bound_speedup():
    assert migration.socket_bound_speedup({"fab0": 4, "fab1": 0}) == 1.0
    assert migration.socket_bound_speedup({"fab0": 3, "fab1": 1}) == 1.333
    assert migration.socket_bound_speedup({"fab0": 2, "fab1": 2}) == 2.0
    assert migration.socket_bound_speedup({"a": 2, "b": 2, "c": 2, "d": 2}) == 4.0
    assert migration.socket_bound_speedup({"fab0": 0}) is None


def test_native_bulk_model_matches_the_picks():
    # N2 from position 2: picks 1 1 1 1 1 0 0 0 | 0 | 0 1 | 1: bulk (positions 9, 10) one per link
    assert migration.native_bulk_model(N2, {}, [2]) == {(1, 1): 1.0}
    model = migration.native_bulk_model(N2, {}, range(400))
    assert sum(model.values()) == pytest.approx(1.0)
    assert set(model) == {(2, 0), (1, 1), (0, 2)}
    assert [sum(split) for split in migration.native_bulk_model(N2, {"bulk": 4}, range(20))] == [4] * len(
        migration.native_bulk_model(N2, {"bulk": 4}, range(20)))


def test_combined_model_is_the_binomial_for_random_picks():
    # two nodes, two bulk sockets each, every socket on either link with equal chance:
    # 4 + 0 (1x) 2/16, 3 + 1 (1.33x) 8/16, 2 + 2 (2x) 6/16
    flat = {(2, 0): 0.25, (1, 1): 0.5, (0, 2): 0.25}
    assert migration.combine_bulk_models(flat, flat) == {1.0: 0.125, 1.333: 0.5, 2.0: 0.375}
    summary = migration.distribution_summary({1.0: 0.125, 1.333: 0.5, 2.0: 0.375})
    assert summary["mean"] == pytest.approx(1.5415, abs=0.001) and summary["worst"] == 1.0 and summary["p_worst"] == 0.125
    assert migration.distribution_summary({}) == {}


# ---------------------------------------------------------------------------- phases
def test_phase_vars():
    assert migration.phase_vars("single") == {"fabric_strategy": "single", "fabric_roles": ["links", "aerospike"]}
    assert migration.phase_vars("native") == {"fabric_strategy": "native"}
    assert migration.phase_vars("native", extra_plan=True)["fabric_roles"] == ["links", "aerospike"]
    assert migration.phase_vars("balanced") == {"fabric_strategy": "balanced"}
    assert migration.phase_vars("mptcp") == {"fabric_strategy": "mptcp"}
    assert migration.phase_vars("balanced_bulk2") == {"fabric_strategy": "balanced",
                                                      "aerospike_network": {"fabric": {"channel-bulk-fds": 2}}}
    both = migration.phase_vars("single_bulk4_mt4")
    assert both["aerospike_network"] == {"fabric": {"channel-bulk-fds": 4}} and both["aerospike_service"] == {"migrate-threads": 4}
    assert migration.phase_vars("mptcp_placed") == {"fabric_strategy": "mptcp",
                                                    "fabric_mptcp_anchor_subnet": migration.ANCHOR_SUBNET}
    for bad in ("fast", "balanced_bulk", "balanced-bulk2", "balanced_placed", "", None):
        with pytest.raises(ValueError):
            migration.phase_vars(bad)


def test_phase_order_and_phases_option():
    assert migration.phase_order(["balanced_bulk4", "balanced", "single"]) == ["single", "balanced", "balanced_bulk4"]
    args = migration.parse_args(["--links", "2", "--phases", "single, balanced,balanced_mt4"])
    assert args.phases == ["single", "balanced", "balanced_mt4"]
    for bad in ("single,bogus", "balanced"):
        with pytest.raises(SystemExit):
            migration.parse_args(["--phases", bad])


def test_plan_runs_end_with_mptcp_sampled_like_native_on_every_link_count():
    bench = migration.Bench(migration.parse_args(["--links", "2,4", "--quick"]))
    runs = bench.plan_runs()
    main = dict((links, phases) for links, index, phases in runs if index == 0)
    assert main[2] == [("single", 1), ("native", 2), ("balanced", 1), ("mptcp", 2), ("mptcp_placed", 1)]
    assert main[4] == [("single", 1), ("native", 2), ("balanced", 1), ("balanced_bulk2", 1), ("mptcp", 2),
                       ("mptcp_placed", 1)]
    only = migration.Bench(migration.parse_args(["--links", "4", "--phases", "single,balanced_bulk2,mptcp"]))
    assert only.plan_runs() == [(4, 0, [("single", 1), ("balanced_bulk2", 1), ("mptcp", 3)])]


def test_links_are_rated_below_what_one_migrate_thread_moves():
    # 2 x 100 Mbit/s was paced by the server (124 Mbit/s balanced): every link count gets 100 in all
    assert all(links * rate <= 100.0 for links, rate in migration.RATES.items())
    assert migration.RATES[2] == 50.0 and migration.RATES[4] == 25.0


def test_speedups_of_a_sampled_phase_have_worst_and_best():
    runs = [run(2, "single", 30.0), run(2, "mptcp", 15.0), run(2, "mptcp", 20.0), run(2, "balanced", 16.0)]
    out, dummy = migration.speedups(runs)
    assert out["2"]["mptcp"] == round(30.0 / 17.5, 3)
    assert out["2"]["mptcp_worst"] == 1.5 and out["2"]["mptcp_best"] == 2.0
    assert "balanced_worst" not in out["2"]


def test_a_failed_phase_is_recorded_and_the_next_phases_still_run(tmp_path, monkeypatch):
    bench = migration.Bench(migration.parse_args(["--links", "2", "--phases", "single,mptcp,balanced",
                                                  "--out", str(tmp_path / "migration.json")]))
    done = []

    def converge(phase, links, plan_index):
        if phase == "mptcp":
            raise bench.tb["podman"].TestbedError("cluster_size 0 after 120 s")

    def run(phase, links, plan_index, plan, sample):
        done.append(phase)
        bench.report["runs"].append({"links": links, "phase": phase, "seconds": 10.0 if phase == "single" else 5.0,
                                     "plan": plan_index})

    monkeypatch.setattr(bench.tb["aerospike"], "available", lambda: (True, "asd test"))
    monkeypatch.setattr(bench, "up", lambda links, plan: str(tmp_path / "topology.json"))
    monkeypatch.setattr(bench, "down", lambda: None)
    monkeypatch.setattr(bench, "converge", converge)
    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(bench, "finish", lambda: bench.report.update(speedup=migration.speedups(bench.report["runs"])[0]))
    monkeypatch.setattr(migration, "table", lambda report: "")
    assert bench.main() in (0, None)
    assert done == ["single", "balanced"]
    assert [(f["links"], f["phase"]) for f in bench.report["failed"]] == [(2, "mptcp")]
    assert "cluster_size 0" in bench.report["failed"][0]["error"]
    assert bench.report["speedup"]["2"]["balanced"] == 2.0 and "mptcp" not in bench.report["speedup"]["2"]


def test_under_placement_the_acceptors_anchor_is_read_as_the_peers_link():
    # mptcp_placed: node2's NAT took every subflow to its anchor, so its local address is on no link
    anchored = SS_MPTCP_NODE2.replace("%s:3001" % N2[0], "198.19.174.12:3001").replace("%s:3001" % N2[1], "198.19.174.12:3001")
    ss = {"node1": [], "node2": migration.parse_ss(anchored)}
    out = migration.mptcp_connections(ss, NETWORKS, order=["node1", "node2"])
    by_token = dict((c["token"], c) for c in out["connections"])
    assert by_token["b1"]["bytes_per_link"] == {"fab0": 300000, "fab1": 70000000} and by_token["b1"]["carrier"] == "fab1"
    rows = migration.fabric_sockets(ss, NETWORKS, order=["node1", "node2"])
    assert [row["link"] for row in rows] == ["fab1", "fab0", "fab0", "fab1", "fab0", "fab0"]
