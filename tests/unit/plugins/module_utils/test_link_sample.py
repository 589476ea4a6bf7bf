# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side of verification: counter paths, the shared tick grid, the watchdog status file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


def fake_sys(tmp_path, counters):
    """A /sys/class/net look-alike: {device: (tx, rx)}."""
    for device, (tx_bytes, rx_bytes) in counters.items():
        stats = tmp_path / device / "statistics"
        stats.mkdir(parents=True)
        (stats / "tx_bytes").write_text("%d\n" % tx_bytes)
        (stats / "rx_bytes").write_text("%d\n" % rx_bytes)
    return str(tmp_path)


class Clock(object):
    """A fake wall clock: sleep advances it, every read costs `cost` seconds."""

    def __init__(self, now, cost=0.0):
        self.now = now
        self.cost = cost
        self.slept = []

    def time(self):
        self.now += self.cost
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_counter_paths_and_read(tmp_path):
    root = fake_sys(tmp_path, {"eth1": (10, 20), "eth2": (30, 40)})
    paths = link_sample.counter_paths([{"name": "fab0", "device": "eth1", "subnet": "x"},
                                       {"name": "fab1", "device": "eth2"}], root=root)
    assert [entry[0] for entry in paths] == ["fab0", "fab1"]
    assert link_sample.read_counters(paths) == {"fab0": [10, 20], "fab1": [30, 40]}


@pytest.mark.parametrize("links, message", [
    ([], r"non-empty list"),
    ([{"name": "fab0"}], r"needs a name and a device, got \{'name': 'fab0'\}"),
    ([{"name": "fab0", "device": "eth1"}, {"name": "fab0", "device": "eth1"}], r"link fab0 is listed twice"),
    ([{"name": "fab0", "device": "../etc"}], r"link fab0: '../etc' is not an interface name"),
    ([{"name": "fab1", "device": "eth9"}], r"link fab1: this host has no interface eth9 .*fabric_nat_devices"),
])
def test_counter_paths_errors_name_the_link_and_device(tmp_path, links, message):
    root = fake_sys(tmp_path, {"eth1": (0, 0)})
    with pytest.raises(FabricError, match=message):
        link_sample.counter_paths(links, root=root)


def test_samples_follow_the_shared_grid():
    clock = Clock(1000.0)
    readings = iter(range(100))

    def read(paths):
        value = next(readings)
        return {"fab0": [value, 2 * value]}
    samples = link_sample.sample([], 3, 1, start_at=1002.0, clock=clock.time, sleep=clock.sleep, read=read)
    assert [entry["tick"] for entry in samples] == [0, 1, 2, 3]
    assert [entry["time"] for entry in samples] == [1002.0, 1003.0, 1004.0, 1005.0]
    assert samples[2]["bytes"] == {"fab0": [2, 4]}
    assert clock.slept[0] == 2.0


def test_a_late_start_skips_the_missed_ticks_instead_of_shifting():
    clock = Clock(1001.5)
    samples = link_sample.sample([], 4, 1, start_at=1000.0, clock=clock.time, sleep=clock.sleep,
                                 read=lambda paths: {})
    # ticks 0 and 1 have passed (1 by 0.5 s, more than a fifth of an interval): not read late
    assert [entry["tick"] for entry in samples] == [2, 3, 4]
    assert samples[0]["time"] == 1002.0


def test_a_slightly_late_tick_is_still_read():
    clock = Clock(1000.1)
    samples = link_sample.sample([], 1, 1, start_at=1000.0, clock=clock.time, sleep=clock.sleep,
                                 read=lambda paths: {})
    assert [entry["tick"] for entry in samples] == [0, 1]


def test_without_start_at_the_grid_starts_now():
    clock = Clock(50.0)
    samples = link_sample.sample([], 2, 0.5, clock=clock.time, sleep=clock.sleep, read=lambda paths: {})
    assert [entry["time"] for entry in samples] == [50.0, 50.5, 51.0, 51.5, 52.0]


@pytest.mark.parametrize("seconds, interval, start_at, now, message", [
    (10, 0, None, 0.0, r"interval must be a positive number of seconds, got 0"),
    (0.5, 1, None, 0.0, r"seconds must be at least one interval \(1\), got 0.5"),
    (10, 1, 5000.0, 1000.0, r"start_at 5000.0 is 4000 s in the future"),
    (3, 1, 1000.0, 1010.0, r"sampling window missed: this host started 10.0 s after start_at"),
])
def test_sample_errors(seconds, interval, start_at, now, message):
    clock = Clock(now)
    with pytest.raises(FabricError, match=message):
        link_sample.sample([], seconds, interval, start_at=start_at, clock=clock.time, sleep=clock.sleep,
                           read=lambda paths: {})


def test_status_file_absent_valid_broken(tmp_path):
    path = tmp_path / "linkwatch.json"
    assert link_sample.read_status(str(path)) == (None, None)
    path.write_text(json.dumps({"updated": 1.0, "links": {}, "peers": {}}))
    assert link_sample.read_status(str(path)) == ({"updated": 1.0, "links": {}, "peers": {}}, None)
    path.write_text("{not json")
    status, error = link_sample.read_status(str(path))
    assert status is None and error.startswith("%s is not JSON" % path)
    status, error = link_sample.read_status(str(tmp_path))  # a directory: exists, unreadable as a file
    assert status is None and str(tmp_path) in error


# ---------------------------------------------------------------------------- fabric sockets
# What node1 of a two-link cluster (fab0 198.19.32.0/24, fab1 198.19.33.0/24, fabric port 3001)
# showed with balanced NAT: ss gives every socket its own addresses, so both connections node1
# opened to node2's fab0 address look like fab0 ones; conntrack tells that the second one was
# moved to fab1 (DNAT to .33.12, SNAT to .33.11).
LINKS = [{"name": "fab0", "device": "eth0", "subnet": "198.19.32.0/24"},
         {"name": "fab1", "device": "eth1", "subnet": "198.19.33.0/24"}]
SS = """\
0      0      198.19.32.11:3001  198.19.32.12:53638
0      0      198.19.33.11:3001  198.19.33.12:59758
0      0      198.19.32.11:60552 198.19.32.12:3001
0      0      198.19.32.11:60570 198.19.32.12:3001
0      0      198.19.33.11:57050 198.19.33.12:3001
0      0      127.0.0.1:3001     127.0.0.1:41000
"""
CONNTRACK = [
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.32.11 dst=198.19.32.12 sport=60552 dport=3001 "
    "src=198.19.32.12 dst=198.19.32.11 sport=3001 dport=60552 [ASSURED] mark=0 zone=0 use=2\n",
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.32.11 dst=198.19.32.12 sport=60570 dport=3001 "
    "src=198.19.33.12 dst=198.19.33.11 sport=3001 dport=60570 [ASSURED] mark=0 zone=0 use=2\n",
    "ipv4     2 tcp      6 431999 ESTABLISHED src=198.19.33.11 dst=198.19.33.12 sport=57050 dport=3001 "
    "src=198.19.33.12 dst=198.19.33.11 sport=3001 dport=57050 [ASSURED] mark=0 zone=0 use=2\n",
    "ipv4     2 tcp      6 116 TIME_WAIT src=198.19.32.12 dst=198.19.32.11 sport=53588 dport=3001 "
    "src=198.19.32.11 dst=198.19.32.12 sport=3001 dport=53588 [ASSURED] mark=0 zone=0 use=2\n",
    "ipv4     2 udp      17 20 src=198.19.32.11 dst=198.19.32.12 sport=5353 dport=3001 "
    "src=198.19.32.12 dst=198.19.32.11 sport=3001 dport=5353 mark=0 zone=0 use=2\n",
    "ipv4     2 tcp      6 10 CLOSE src=198.19.32.11 dst=198.19.32.12 sport=40000 dport=5201 "
    "src=198.19.32.12 dst=198.19.32.11 sport=5201 dport=40000 mark=0 zone=0 use=2\n",
]


def ip(text):
    return link_sample.ipaddress.ip_address(text)


@pytest.mark.parametrize("text, want", [
    ("198.18.0.11:3001", ("198.18.0.11", 3001)),
    ("[2001:2::11]:3001", ("2001:2::11", 3001)),
    ("[fe80::1%eth0]:3001", ("fe80::1", 3001)),
    ("[::ffff:198.18.0.11]:3001", ("198.18.0.11", 3001)),
    ("*:3001", None),
    ("Local", None),
    ("198.18.0.11:x", None),
])
def test_parse_endpoint(text, want):
    got = link_sample.parse_endpoint(text)
    assert (None if got is None else (str(got[0]), got[1])) == want


def test_parse_ss_skips_a_header_and_short_lines():
    sockets = link_sample.parse_ss("Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\n" + SS)
    assert len(sockets) == 6
    assert sockets[2] == (ip("198.19.32.11"), 60552, ip("198.19.32.12"), 3001)


def test_parse_conntrack_keeps_tcp_to_the_port_with_the_reply_addresses():
    table = link_sample.parse_conntrack(CONNTRACK, 3001)
    assert len(table) == 4  # the udp entry and the one to port 5201 are left out
    assert table[(ip("198.19.32.11"), 60570, ip("198.19.32.12"), 3001)] == (ip("198.19.33.12"), ip("198.19.33.11"))
    ipv6 = ("ipv6     10 tcp      6 300 ESTABLISHED src=2001:0002:0000:0000:0000:0000:0000:0011 "
            "dst=2001:0002:0000:0000:0000:0000:0000:0012 sport=40000 dport=3001 "
            "src=2001:0002:0000:0000:0000:0000:0001:0012 dst=2001:0002:0000:0000:0000:0000:0001:0011 sport=3001 "
            "dport=40000 [ASSURED] mark=0 zone=0 use=2")
    assert link_sample.parse_conntrack([ipv6], 3001) == {
        (ip("2001:2::11"), 40000, ip("2001:2::12"), 3001): (ip("2001:2::1:12"), ip("2001:2::1:11"))}


def test_fabric_sockets_put_nat_moved_connections_on_their_real_link():
    counts = link_sample.fabric_sockets(LINKS, 3001, link_sample.parse_ss(SS),
                                        link_sample.parse_conntrack(CONNTRACK, 3001))
    assert counts == {"port": 3001, "links": {"fab0": {"out": 1, "in": 1}, "fab1": {"out": 2, "in": 1}},
                      "other": 1, "moved": 1, "nat_view": True, "probes": 0}


def test_fabric_sockets_leave_out_what_the_watchdogs_probes_opened(tmp_path):
    probe = "0      0      198.19.32.11:3001  198.19.32.12:32761\n"
    counts = link_sample.fabric_sockets(LINKS, 3001, link_sample.parse_ss(SS + probe), None,
                                        frozenset(range(32760, 32768)))
    assert counts["probes"] == 1
    assert counts["links"] == link_sample.fabric_sockets(LINKS, 3001, link_sample.parse_ss(SS), None)["links"]
    assert link_sample.fabric_sockets(LINKS, 3001, link_sample.parse_ss(SS + probe), None)["probes"] == 0
    port_range = tmp_path / "range"
    port_range.write_text("32768\t60999\n")
    assert link_sample.probe_ports(str(port_range)) == frozenset(range(32760, 32768))
    assert link_sample.probe_ports(str(tmp_path / "missing")) == frozenset()


def test_without_conntrack_opened_connections_count_by_their_own_address():
    counts = link_sample.fabric_sockets(LINKS, 3001, link_sample.parse_ss(SS), None)
    assert counts["links"] == {"fab0": {"out": 2, "in": 1}, "fab1": {"out": 1, "in": 1}}
    assert counts["nat_view"] is False and counts["moved"] == 0


def test_fabric_sockets_ignore_other_ports_and_links_without_subnet():
    sockets = link_sample.parse_ss("0 0 198.19.32.11:5201 198.19.32.12:40000\n0 0 198.19.32.11:3001 198.19.32.12:1\n")
    counts = link_sample.fabric_sockets([{"name": "fab0", "device": "eth0"}], 3001, sockets, {})
    assert counts["links"] == {} and counts["other"] == 1
    with pytest.raises(FabricError, match=r"link fab0: subnet 'nope' is not a network"):
        link_sample.fabric_sockets([{"name": "fab0", "subnet": "nope"}], 3001, sockets, {})


def test_read_conntrack_absent_is_none(tmp_path):
    assert link_sample.read_conntrack(3001, str(tmp_path / "nf_conntrack")) is None
    path = tmp_path / "nf_conntrack"
    path.write_text("".join(CONNTRACK))
    assert len(link_sample.read_conntrack(3001, str(path))) == 4


def test_listening_and_the_ss_commands():
    text = "LISTEN 0      4096      127.0.0.1:3000 0.0.0.0:*\nLISTEN 0 4096 *:30001 *:*\n"
    assert link_sample.listening(text, 3000) and not link_sample.listening(text, 3001)
    assert link_sample.listening("LISTEN 0 4096 *:3001 *:*\n", 3001)
    assert link_sample.ss_command(3001) == ["ss", "-Htn", "state", "established", "( sport = :3001 or dport = :3001 )"]
    assert link_sample.ss_command(3000, listening=True) == ["ss", "-Hltn", "( sport = :3000 )"]
