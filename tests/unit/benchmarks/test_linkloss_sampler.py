# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/linkloss_sampler.py: sockets per link from /proc/net/tcp and conntrack, counters."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sampler = _load("linkloss_sampler")
LINKS = sampler.parse_links(["fab0=eth0=198.19.176.0/24", "fab1=eth1=198.19.177.0/24"])
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def hexaddr(address, port):
    a, b, c, d = (int(x) for x in address.split("."))
    return "%02X%02X%02X%02X:%04X" % (d, c, b, a, port)


def line(local, lport, remote, rport, state="01", tx=0, timer="00:00000000", retrans=0, probes=0):
    return "   0: %s %s %s %08X:00000000 %s %08X     0        %d 12345 1 0000000000000000 20 4 30 10 -1\n" % (
        hexaddr(local, lport), hexaddr(remote, rport), state, tx, timer, retrans, probes)


def test_hex_ipv4_reads_proc_net_tcp_byte_order():
    assert sampler.hex_ipv4("0BB013C6") == "198.19.176.11"
    assert sampler.link_of("198.19.177.12", LINKS) == "fab1"
    assert sampler.link_of("10.0.0.1", LINKS) is None


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
    counts = sampler.parse_tcp(text, LINKS, ["3001", "3002"])
    assert counts["fab0"]["3001"] == {"out": 1, "in": 0, "retrans": 0, "queued": 0, "probing": 0}
    assert counts["fab1"]["3001"] == {"out": 1, "in": 2, "retrans": 1, "queued": 2, "probing": 1}
    assert counts["fab0"]["3002"]["out"] == 1
    assert counts["fab1"]["3002"] == {"out": 0, "in": 0, "retrans": 0, "queued": 0, "probing": 0}


CONNTRACK = (
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.176.11 dst=198.19.176.12 sport=40000 dport=3001 "
    "src=198.19.177.12 dst=198.19.177.11 sport=3001 dport=40000 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.176.11 dst=198.19.176.12 sport=40001 dport=3001 "
    "src=198.19.176.12 dst=198.19.176.11 sport=3001 dport=40001 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 118 SYN_SENT src=198.19.176.11 dst=198.19.177.12 sport=40002 dport=3001 [UNREPLIED] "
    "src=198.19.176.12 dst=198.19.176.11 sport=3001 dport=40002 mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.178.1 dst=198.19.178.11 sport=5000 dport=3000 "
    "src=198.19.178.12 dst=198.19.178.1 sport=3000 dport=5000 [ASSURED] mark=0 zone=0 use=2\n"
)


def test_conntrack_names_the_real_peer_of_nat_steered_connections_only():
    nat = sampler.parse_conntrack(CONNTRACK, ["3001", "3002"])
    assert nat == {("198.19.176.11", 40000, "198.19.176.12", 3001): "198.19.177.12"}


def test_an_opened_socket_counts_on_the_link_the_nat_sent_it_to():
    text = HEADER + line("198.19.176.11", 40000, "198.19.176.12", 3001) + line("198.19.176.11", 40001,
                                                                               "198.19.176.12", 3001)
    plain = sampler.parse_tcp(text, LINKS, ["3001"])
    assert (plain["fab0"]["3001"]["out"], plain["fab1"]["3001"]["out"]) == (2, 0)
    steered = sampler.parse_tcp(text, LINKS, ["3001"], sampler.parse_conntrack(CONNTRACK, ["3001"]))
    assert (steered["fab0"]["3001"]["out"], steered["fab1"]["3001"]["out"]) == (1, 1)


def test_main_writes_json_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(sampler, "read_bytes", lambda links: dict((link[0], [1, 2]) for link in links))
    monkeypatch.setattr(sampler, "read", lambda path: HEADER + line("198.19.177.11", 3001, "198.19.177.12", 5)
                        if path.endswith("tcp") else "")
    out = tmp_path / "samples.jsonl"
    assert sampler.main([str(out), "0.01", "0.05", "3001", "fab0=eth0=198.19.176.0/24",
                         "fab1=eth1=198.19.177.0/24"]) == 0
    rows = [json.loads(text) for text in out.read_text().splitlines()]
    assert rows and rows[0]["bytes"] == {"fab0": [1, 2], "fab1": [1, 2]}
    assert rows[0]["sockets"]["fab1"]["3001"]["in"] == 1
