# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/lib/testbed/node_tool.py: the emulation's picks and sockets, streams, the sink, sockets
per link and port from /proc/net/tcp with the conntrack view, sampling, and the host-side
command line (testbed.traffic).

The live parts run on loopback only (a sink on 127.0.0.1 and traffic against it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import ipaddress
import json
import socket
import threading

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample

from testbed import node_tool, traffic
from testbed import podman

ADDRESSES = ["198.19.3.12", "198.19.4.12"]
LINKS = node_tool.parse_links("fab0=eth0=198.19.176.0/24,fab1=eth1=198.19.177.0/24")
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def test_aerospike_default_channels_are_twelve_sockets_rw_first():
    kinds = node_tool.socket_kinds()
    assert len(kinds) == 12
    assert kinds[:8] == ["rw"] * 8
    assert collections.Counter(kinds) == {"rw": 8, "bulk": 2, "ctrl": 1, "meta": 1}


def test_picks_repeat_for_a_seed_and_vary_between_seeds():
    first = node_tool.pick_addresses(ADDRESSES, 12, seed=1)
    assert first == node_tool.pick_addresses(ADDRESSES, 12, seed=1)
    assert set(first) <= set(ADDRESSES)
    assert len(set(tuple(node_tool.pick_addresses(ADDRESSES, 12, seed=s)) for s in range(20))) > 10


def test_picks_are_uniform_per_socket():
    picks = [a for seed in range(300) for a in node_tool.pick_addresses(ADDRESSES, 12, seed)]
    assert 0.45 < picks.count(ADDRESSES[0]) / float(len(picks)) < 0.55
    # one published address (servers before 3.14 dial one): every socket goes there
    assert set(node_tool.pick_addresses(ADDRESSES[:1], 12, seed=5)) == set(ADDRESSES[:1])
    with pytest.raises(ValueError):
        node_tool.pick_addresses([], 12, seed=1)


def test_parse_channels_and_links():
    assert node_tool.parse_channels("rw=16,bulk=2") == (("rw", 16), ("bulk", 2))
    for bad in ("rw=x", "data=1", "rw"):
        with pytest.raises(ValueError):
            node_tool.parse_channels(bad)
    assert LINKS[1] == {"name": "fab1", "device": "eth1", "subnet": "198.19.177.0/24"}
    assert node_tool.parse_links("fab0=eth0") == [{"name": "fab0", "device": "eth0", "subnet": None}]
    for bad in ("fab0", "=eth0", "a=b=c=d"):
        with pytest.raises(ValueError):
            node_tool.parse_links(bad)


def test_counters_go_through_link_sample(monkeypatch):
    seen = []

    def paths(links):
        seen.append(links)
        return [("lo", "tx", "rx")]
    monkeypatch.setattr(link_sample, "counter_paths", paths)
    monkeypatch.setattr(link_sample, "read_counters", lambda found: {"lo": [1, 2]})
    assert node_tool.counters([{"name": "lo", "device": "lo", "subnet": None}]) == {"lo": [1, 2]}
    assert seen and node_tool.counters([]) == {}


def free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def loopback_sink(seconds=3.0):
    """A sink on 127.0.0.1 (a stray connection, like the probe below, is simply drained)."""
    port = free_port()
    server = threading.Thread(target=node_tool.sink, args=(port, seconds))
    server.daemon = True
    server.start()
    for dummy in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            threading.Event().wait(0.05)
    return port


LO = [{"name": "lo", "device": "lo", "subnet": "127.0.0.0/8"}]


def test_emulation_against_a_loopback_sink():
    port = loopback_sink()
    result = node_tool.emulate(["127.0.0.1"], port, seed=7, seconds=0.5, offered_mbit=16, links=LO)
    assert result["label"].startswith("emulation of the Aerospike >= 3.14")
    assert [s["kind"] for s in result["sockets"]] == node_tool.socket_kinds()
    rw = sum(s["bytes_claimed"] for s in result["sockets"] if s["kind"] == "rw")
    # 16 Mbit/s for 0.5 s is 1 MB; pacing keeps it near that (never a free-running flood)
    assert 0.4e6 < rw < 2.5e6, rw
    assert all(s["bytes_claimed"] > 0 for s in result["sockets"])
    assert result["window"]["start"] < result["window"]["end"]


def test_run_sampled_reads_counters_during_the_command():
    result = node_tool.run_sampled(LO, 0.1, ["sleep", "0.35"])
    assert result["returncode"] == 0
    times = [t for t, dummy in result["samples"]]
    assert times[0] == 0.0 and len(times) >= 4 and times == sorted(times)
    assert set(result["samples"][-1][1]) == {"lo"}


def test_streams_frame_the_traffic_with_kernel_counters():
    port = loopback_sink()
    result = node_tool.streams("127.0.0.1", port, count=3, seconds=0.3, stream_mbit=0, links=LO)
    window = result["window"]
    assert len(result["bytes_claimed"]) == 3 and all(result["bytes_claimed"])
    assert window["seconds"] >= 0.3 and window["end"] - window["start"] == pytest.approx(window["seconds"], abs=1e-3)
    # every byte the streams sent went through lo between the two readings (keyed by link name)
    assert window["after"]["lo"][0] - window["before"]["lo"][0] >= sum(result["bytes_claimed"])


def test_the_sink_listens_on_ipv4_and_ipv6():
    """The sink takes connections of both families (the ipv6 scenario's streams), IPv4 only
    where the kernel has no IPv6."""
    server = node_tool.listener(free_port())
    port = server.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        if server.family == socket.AF_INET6:
            socket.create_connection(("::1", port), timeout=2).close()
    finally:
        server.close()


# ---------------------------------------------------------------------------- sockets per link and port
def hexaddr(address, port):
    packed = ipaddress.ip_address(address).packed
    words = "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4))
    return "%s:%04X" % (words, port)


def line(local, lport, remote, rport, state="01", tx=0, timer="00:00000000", retrans=0, probes=0, rx=0, inode=12345):
    return "   0: %s %s %s %08X:%08X %s %08X     0        %d %d 1 0000000000000000 20 4 30 10 -1\n" % (
        hexaddr(local, lport), hexaddr(remote, rport), state, tx, rx, timer, retrans, probes, inode)


def test_proc_addresses_in_host_byte_order():
    assert str(node_tool.proc_address("0BB013C6")) == "198.19.176.11"
    assert str(node_tool.proc_address(hexaddr("2001:2:0:10::c", 1).split(":")[0])) == "2001:2:0:10::c"
    # a dual-stack socket's IPv4-mapped address is the IPv4 address
    assert str(node_tool.proc_address(hexaddr("::ffff:198.19.176.11", 1).split(":")[0])) == "198.19.176.11"


def test_sockets_count_per_link_port_and_side():
    text = HEADER + "".join([
        line("198.19.176.11", 40000, "198.19.176.12", 3001),                      # out on fab0
        line("198.19.177.11", 40001, "198.19.177.12", 3001, tx=5000, timer="01:00000010", retrans=3),
        line("198.19.177.11", 3001, "198.19.177.12", 50000, tx=100),               # in, queued only
        line("198.19.177.11", 3001, "198.19.177.12", 50001, timer="02:00000050", probes=4),
        line("198.19.176.11", 40002, "198.19.176.12", 3002),                      # heartbeat out
        line("198.19.176.11", 40003, "198.19.176.12", 3001, state="06"),          # TIME_WAIT: not counted
        line("198.19.178.11", 3000, "198.19.178.1", 55555),                       # service: not a port wanted
    ])
    found = node_tool.place(node_tool.parse_proc_tcp(text, [3001, 3002]), LINKS)
    counts = node_tool.per_link(found, LINKS, [3001, 3002])
    assert counts["fab0"]["3001"] == {"out": 1, "in": 0, "retrans": 0, "queued": 0, "probing": 0}
    assert counts["fab1"]["3001"] == {"out": 1, "in": 2, "retrans": 1, "queued": 2, "probing": 1}
    assert counts["fab0"]["3002"]["out"] == 1
    assert counts["fab1"]["3002"] == {"out": 0, "in": 0, "retrans": 0, "queued": 0, "probing": 0}
    assert found[0]["local"] == "198.19.176.11" and found[0]["remote_port"] == 3001


CONNTRACK = (
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.176.11 dst=198.19.176.12 sport=40000 dport=3001 "
    "src=198.19.177.12 dst=198.19.177.11 sport=3001 dport=40000 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.176.11 dst=198.19.176.12 sport=40001 dport=3001 "
    "src=198.19.176.12 dst=198.19.176.11 sport=3001 dport=40001 [ASSURED] mark=0 zone=0 use=2\n"
)


def test_an_opened_socket_counts_on_the_link_the_nat_sent_it_to():
    """The socket keeps the addresses Aerospike dialed; the conntrack entry's reply source tells
    the link it really rides."""
    text = HEADER + line("198.19.176.11", 40000, "198.19.176.12", 3001) + line("198.19.176.11", 40001, "198.19.176.12", 3001)
    plain = node_tool.per_link(node_tool.place(node_tool.parse_proc_tcp(text, [3001]), LINKS), LINKS, [3001])
    assert (plain["fab0"]["3001"]["out"], plain["fab1"]["3001"]["out"]) == (2, 0)
    table = link_sample.parse_conntrack(CONNTRACK.splitlines(), 3001)
    steered = node_tool.place(node_tool.parse_proc_tcp(text, [3001]), LINKS, table)
    assert [(s["remote"], s["peer"], s["link"]) for s in steered] == [
        ("198.19.176.12", "198.19.177.12", "fab1"), ("198.19.176.12", "198.19.176.12", "fab0")]


def test_a_socket_no_file_holds_and_unread_bytes_are_told():
    text = HEADER + line("198.19.177.11", 3001, "198.19.177.12", 50000) + \
        line("198.19.177.11", 3001, "198.19.177.12", 50001, rx=120, inode=0)
    held, waiting = node_tool.parse_proc_tcp(text, [3001])
    assert (held["owned"], held["unread"]) == (True, False)
    assert (waiting["owned"], waiting["unread"]) == (False, True)


def test_lasting_sockets_leave_out_probes():
    fabric = {"direction": "out", "local": "198.19.12.11", "local_port": 40000, "remote": "198.19.12.13", "remote_port": 3001}
    probe = dict(fabric, local_port=40001)
    later_probe = dict(fabric, local_port=40002)
    assert node_tool.lasting([fabric, probe], [fabric, later_probe]) == [fabric]


def test_sample_writes_json_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(node_tool, "counters", lambda links: dict((link["name"], [1, 2]) for link in links))
    monkeypatch.setattr(node_tool, "_read", lambda path: HEADER + line("198.19.177.11", 3001, "198.19.177.12", 5)
                        if path == "/proc/net/tcp" else "")
    monkeypatch.setattr(link_sample, "read_conntrack", lambda port, path=None: None)
    out = tmp_path / "samples.jsonl"
    assert node_tool.main(["sample", "--links", "fab0=eth0=198.19.176.0/24,fab1=eth1=198.19.177.0/24",
                           "--ports", "3001", "--out", str(out), "--interval", "0.01", "--seconds", "0.05"]) == 0
    rows = [json.loads(text) for text in out.read_text().splitlines()]
    assert rows and rows[0]["bytes"] == {"fab0": [1, 2], "fab1": [1, 2]}
    assert rows[0]["sockets"]["fab1"]["3001"]["in"] == 1


def test_sockets_command_reports_lasting_sockets_and_the_watchdog(capsys, monkeypatch, tmp_path):
    status = tmp_path / "linkwatch.json"
    status.write_text(json.dumps({"updated": 1, "peers": {}}))
    monkeypatch.setattr(link_sample, "STATUS_FILE", str(status))
    monkeypatch.setattr(link_sample.read_status, "__defaults__", (str(status),))
    monkeypatch.setattr(node_tool, "_read", lambda path: HEADER + line("198.19.176.11", 3001, "198.19.176.12", 5)
                        if path == "/proc/net/tcp" else "")
    monkeypatch.setattr(link_sample, "read_conntrack", lambda port, path=None: {})
    assert node_tool.main(["sockets", "--links", "fab0=eth0=198.19.176.0/24", "--ports", "3001", "--lasting", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["links"]["fab0"]["3001"]["in"] == 1 and out["other"] == 0 and out["nat_view"] is True
    assert out["watchdog"] == {"updated": 1, "peers": {}}


def test_sockets_accepted_from_the_watchdogs_probe_ports_are_not_fabric_sockets(capsys, monkeypatch):
    monkeypatch.setattr(node_tool, "_read", lambda path: HEADER + line("198.19.176.11", 3001, "198.19.176.12", 40000)
                        + line("198.19.176.11", 3001, "198.19.176.12", 32761)
                        + line("198.19.176.11", 32762, "198.19.176.12", 3001) if path == "/proc/net/tcp" else "")
    monkeypatch.setattr(link_sample, "read_conntrack", lambda port, path=None: {})
    monkeypatch.setattr(link_sample, "probe_ports", lambda path=None: frozenset(range(32760, 32768)))
    assert node_tool.main(["sockets", "--links", "fab0=eth0=198.19.176.0/24", "--ports", "3001", "--lasting", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["probes"] == 1
    counts = out["links"]["fab0"]["3001"]
    assert (counts["in"], counts["out"]) == (1, 1), out["links"]


# ---------------------------------------------------------------------------- the host side
class FakeCluster(object):
    """Records the commands testbed.traffic sends; the node tool is missing at first."""

    class Topo(object):
        links = [{"name": "fab0", "device": "eth0", "subnet": "198.19.1.0/24"}]
        ports = [3001]

    topo = Topo()
    hosts = ["n1"]

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.commands = []

    def container(self, host):
        return "cfm-x-" + host

    def run(self, host, command, check=True, timeout=300):  # pylint: disable=unused-argument
        self.commands.append(command)
        code, out = self.outputs.pop(0)
        return type("Done", (), {"returncode": code, "stdout": out, "stderr": ""})()


def test_traffic_installs_the_tool_when_missing_and_reads_its_json(monkeypatch):
    installed = []
    monkeypatch.setattr(traffic, "install", lambda cluster, hosts=None: installed.append(hosts))
    cluster = FakeCluster([(97, ""), (0, json.dumps({"time": 1, "bytes": {"fab0": [5, 7]}}) + "\n")])
    assert traffic.counters(cluster, "n1") == {"fab0": {"tx": 5, "rx": 7}}
    assert installed == [["n1"]]
    assert "PYTHONPATH=/usr/local/lib/clusterfabric-test exec python3 /usr/local/lib/clusterfabric-test/node_tool.py" \
        in cluster.commands[-1]
    assert "'--links' 'fab0=eth0=198.19.1.0/24'" in cluster.commands[-1]
    with pytest.raises(podman.TestbedError, match="node tool counters .* failed .1.: boom"):
        traffic.counters(FakeCluster([(1, "boom")]), "n1")


def test_read_samples_skips_a_cut_line_and_sorts():
    text = '{"t": 2, "bytes": {}, "sockets": {}}\n{"t": 1, "bytes": {}, "sockets": {}}\n{"t": 3, "by'
    assert [s["t"] for s in traffic.read_samples(FakeCluster([(0, text)]), "n1", "/tmp/x.jsonl")] == [1, 2]
