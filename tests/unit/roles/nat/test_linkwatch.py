# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""linkwatch: the watchdog's state machine, lane choice, nft transaction, config, status, loop.

The daemon is roles/nat/files/linkwatch.py, a standalone program (no collection import); it is
imported here by path. Time is an argument of the logic, so every timing rule is checked with
exact numbers here; the live behaviour (kernel, nft, systemd, real links) is in
tests/integration/test_linkwatch_live.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import importlib.util
import json
import os
import select
import socket
import struct

import pytest
from hypothesis import given, strategies as st

from ansible_collections.clusterfabric.multilink.plugins.module_utils import checks, link_sample, nat_watchdog
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from linkwatch_fakes import Clock, FakeEvents, FakeProber

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FILES = os.path.join(ROOT, "roles", "nat", "files")
_SPEC = importlib.util.spec_from_file_location("clusterfabric_linkwatch", os.path.join(FILES, "linkwatch.py"))
linkwatch = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(linkwatch)

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)
SETTINGS = {"down_after": 3, "up_after": 5, "hold_down_s": 5.0}


def config(ports=(3001,), **options):
    model = nat_rules.build(PLAN, "n1", DEVICES, ports=list(ports), watchdog=True, **options)
    return linkwatch.load_config(nat_rules.watchdog_config(model))


def fail(core, link, peer, times, now):
    lines = []
    for dummy in range(times):
        lines += core.probe_result(link, peer, False, now, "timeout")
    return lines


def succeed(core, link, peer, times, now):
    lines = []
    for dummy in range(times):
        lines += core.probe_result(link, peer, True, now)
    return lines


# ---------------------------------------------------------------------------- the shared statement
def test_dnat_statement_for_one_lane_and_a_rotation():
    assert linkwatch.dnat_statement("nth", ["198.18.0.12"]) == "dnat to 198.18.0.12"
    assert linkwatch.dnat_statement("nth", ["a", "b", "a"]) == "dnat to numgen inc mod 3 map { 0 : a, 1 : b, 2 : a }"
    assert linkwatch.dnat_statement("random", ["a", "b"]) == "dnat to numgen random mod 2 map { 0 : a, 1 : b }"
    with pytest.raises(ValueError):
        linkwatch.dnat_statement("nth", [])


@given(st.sampled_from(["nth", "random"]),
       st.lists(st.sampled_from(["198.18.0.12", "198.18.1.12", "2001:db8::c"]), min_size=1, max_size=6))
def test_the_daemon_and_the_controller_write_the_same_statement(mode, addresses):
    """The daemon's own copy of dnat_statement (it cannot import nat_rules) stays equal."""
    assert linkwatch.dnat_statement(mode, addresses) == nat_rules.dnat_statement(mode, addresses)


def test_the_daemon_names_follow_the_contract_rules_of_checks():
    """It cannot import module_utils/checks.py; the interface-name and link-name rules are equal."""
    assert linkwatch.DEVICE_RE.pattern == checks.DEVICE_RE.pattern
    assert linkwatch.LINK_RE.pattern == checks.LINK_NAME_RE.pattern


def test_the_daemon_reads_the_configuration_format_and_the_paths_the_module_writes():
    assert linkwatch.VERSION == nat_rules.WATCHDOG_CONFIG_VERSION
    assert linkwatch.CONFIG_FILE == nat_watchdog.WATCHDOG_CONFIG
    with open(os.path.join(FILES, "clusterfabric-linkwatch.service")) as handle:
        unit = handle.read()
    assert "ExecStart=/usr/bin/python3 %s --config %s\n" % (nat_watchdog.WATCHDOG_PROGRAM, nat_watchdog.WATCHDOG_CONFIG) in unit
    assert "/run/clusterfabric" in linkwatch.STATUS_FILE and "RuntimeDirectory=clusterfabric\n" in unit


def test_the_module_writes_the_same_statement_the_watchdog_restores():
    model = nat_rules.build(PLAN, "n1", DEVICES, weights={"fab1": 2}, watchdog=True)
    script = nat_rules.render_nft(model)
    core = linkwatch.Watchdog(linkwatch.load_config(nat_rules.watchdog_config(model)), 0.0)
    restore = linkwatch.render_transaction(core.config, core.rules(everything_up=True))
    for (dummy, name), addresses in core.rules(everything_up=True)["chains"].items():
        statement = linkwatch.dnat_statement("nth", addresses)
        assert "\t\t%s\n" % statement in script
        assert "add rule ip clusterfabric_multilink %s %s\n" % (name, statement) in restore
    assert "flush set ip clusterfabric_multilink dead\n" in restore and "add element" not in restore


# ---------------------------------------------------------------------------- configuration
def test_the_controller_configuration_loads_with_the_daemon_defaults():
    raw = nat_rules.watchdog_config(nat_rules.build(PLAN, "n1", DEVICES, ports=[3001, 3002], watchdog=True))
    loaded = linkwatch.load_config(json.loads(json.dumps(raw)))
    assert loaded["interval_ms"] == 100 and loaded["down_after"] == 3 and loaded["up_after"] == 5
    assert loaded["probe"] == "tcp" and loaded["probe_port"] == 3001 and loaded["status_file"] == linkwatch.STATUS_FILE
    assert (loaded["table"], loaded["dead_set"], loaded["mark"]) == ("clusterfabric_multilink", "dead", nat_rules.PROBE_MARK)


def good():
    return nat_rules.watchdog_config(nat_rules.build(PLAN, "n1", DEVICES, watchdog=True))


def with_change(path, value):
    data = good()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("data, message", [
    (with_change(["version"], 1), "version must be 2"),
    (with_change(["interval_ms"], 5), "interval_ms must be a number from 10 to 60000, got 5"),
    (with_change(["down_after"], 2.5), "down_after must be a whole number"),
    (with_change(["hold_down_s"], True), "hold_down_s must be a number"),
    (with_change(["probe"], "arp"), "probe must be one of tcp, icmp, got 'arp'"),
    (with_change(["table"], "x y"), "table: 'x y' is not a safe nft table name"),
    (with_change(["dead_set"], None), "dead_set: None is not a safe nft set name"),
    (with_change(["mark"], None), "mark must be an integer from 1 to 2^32-1, got None"),
    (with_change(["ports"], [0]), "ports must be a non-empty list of TCP ports"),
    (with_change(["links", 1, "device"], 'eth1"; flush ruleset'), "links[1] (fab1): device"),
    (with_change(["links", 1, "device"], "ib0:1"), "links[1] (fab1): device 'ib0:1' is not a safe interface name"),
    (with_change(["links", 1, "device"], "eth+"), "links[1] (fab1): device 'eth+' is not a safe interface name"),
    (with_change(["links", 0, "source"], "2001:db8::1"), "links[0] (fab0) source: 2001:db8::1 is not an ipv4 address"),
    (with_change(["peers", "n2", "fab9"], ["198.18.0.99"]), "peers.n2: link 'fab9' is not one of links"),
    (with_change(["chains", 0, "name"], "peer n2"), "chains[0]: name 'peer n2' is not a new safe chain name"),
    (with_change(["chains", 0, "lanes", 0, "address"], "198.18.0.13"),
     "chains[0] (peer_n2_3001): lane address 198.18.0.13 is not peer n2's address on fab0"),
    (with_change(["chains", 1, "peer"], "n9"), "chains[1] (peer_n3_3001): peer 'n9' is not one of peers"),
    ([], "the configuration must be a JSON object"),
])
def test_bad_configuration_names_the_key(data, message):
    with pytest.raises(linkwatch.ConfigError) as caught:
        linkwatch.load_config(data)
    assert message in str(caught.value)


# ---------------------------------------------------------------------------- path state machine
def test_a_path_goes_down_after_the_third_miss_in_a_row_and_up_after_five_good_probes():
    path = linkwatch.Path("fab1", "n2", "198.18.1.12", 0.0)
    assert [path.probe(False, 0.1, SETTINGS), path.probe(False, 0.2, SETTINGS)] == [None, None]
    assert path.probe(True, 0.3, SETTINGS) is None          # a good probe starts the count again
    assert path.probe(False, 0.4, SETTINGS) is None and path.probe(False, 0.5, SETTINGS) is None
    assert path.probe(False, 0.6, SETTINGS, "timeout") == "down"
    assert (path.state, path.since, path.probes_failed, path.last_error) == ("down", 0.6, 3, "timeout")
    assert path.probe(False, 0.7, SETTINGS) is None and path.probes_failed == 4
    assert [path.probe(True, 0.8 + i / 10.0, SETTINGS) for i in range(4)] == [None] * 4
    assert path.probes_failed == 0
    assert path.probe(True, 1.2, SETTINGS) == "up" and path.since == 1.2
    assert path.hold_until == 0.6  # the first failure is never held down


def test_carrier_loss_takes_a_path_down_at_once_and_it_needs_five_good_probes_after():
    path = linkwatch.Path("fab1", "n2", "198.18.1.12", 0.0)
    assert path.carrier_lost(10.0, SETTINGS) == "down" and path.last_error == "carrier"
    assert path.carrier_lost(10.1, SETTINGS) is None
    assert [path.probe(True, 11 + i, SETTINGS) for i in range(5)] == [None] * 4 + ["up"]


def test_flapping_paths_are_held_down_longer_each_time_and_trusted_again_after_a_quiet_spell():
    path = linkwatch.Path("fab1", "n2", "198.18.1.12", 0.0)
    down = {"down_after": 1, "up_after": 1, "hold_down_s": 5.0}
    assert path.probe(False, 100.0, down) == "down" and path.hold_until == 100.0
    assert path.probe(True, 101.0, down) == "up"
    assert path.probe(False, 102.0, down) == "down"             # 1 s after it came back: a flap
    assert path.flaps == 1 and path.hold_until == 107.0
    assert path.probe(True, 106.9, down) is None and path.state == "down"
    assert path.probe(True, 107.0, down) == "up"
    assert path.probe(False, 108.0, down) == "down" and path.hold_until == 118.0  # second flap: 10 s
    assert path.probe(True, 118.0, down) == "up"
    for flap, hold in ((3, 20.0), (4, 40.0), (5, 40.0)):      # doubling stops at 8 x
        start = path.last_up + 1
        assert path.probe(False, start, down) == "down" and path.flaps == flap
        assert path.hold_until == start + hold
        assert path.probe(True, path.hold_until, down) == "up"
    quiet = path.last_up + 5.0                                   # up for hold_down_s: trusted again
    assert path.probe(False, quiet, down) == "down" and path.flaps == 0 and path.hold_until == quiet


def test_no_hold_down_when_it_is_zero():
    path = linkwatch.Path("fab1", "n2", "198.18.1.12", 0.0)
    settings = {"down_after": 1, "up_after": 1, "hold_down_s": 0}
    for moment in range(10):
        assert path.probe(False, moment + 0.0, settings) == "down"
        assert path.probe(True, moment + 0.5, settings) == "up"


# ---------------------------------------------------------------------------- lanes and resets
def test_a_dead_link_of_one_peer_leaves_the_other_peers_alone():
    core = linkwatch.Watchdog(config(), 0.0)
    lines = fail(core, "fab1", "n2", 3, 1.0)
    assert lines == ["peer n2 link fab1 (198.18.1.12): down after 3 failed probes (timeout)"]
    rules = core.rules()
    assert rules["chains"] == {("ipv4", "peer_n2_3001"): ("198.18.0.12",),
                               ("ipv4", "peer_n3_3001"): ("198.18.0.13", "198.18.1.13")}
    assert rules["dead"] == {"ipv4": (("198.18.1.12", 3001),)}


def test_a_lost_carrier_takes_the_link_out_for_every_peer_and_resets_every_port():
    core = linkwatch.Watchdog(config(ports=(3001, 3002)), 0.0)
    lines = core.set_carrier("fab1", False, 2.0)
    assert lines[0] == "link fab1 (eth1): carrier lost" and len(lines) == 3
    rules = core.rules()
    assert set(rules["chains"].values()) == {("198.18.0.12",), ("198.18.0.13",)}
    assert rules["dead"]["ipv4"] == (("198.18.1.12", 3001), ("198.18.1.12", 3002),
                                     ("198.18.1.13", 3001), ("198.18.1.13", 3002))
    assert core.probe_targets() == [("fab0", "n2", "eth0", "ipv4", "198.18.0.11", "198.18.0.12"),
                                    ("fab0", "n3", "eth0", "ipv4", "198.18.0.11", "198.18.0.13")]
    assert core.probe_result("fab1", "n2", True, 2.1) == []      # a result that raced the loss
    core.set_carrier("fab1", True, 3.0)
    assert core.rules()["dead"]["ipv4"]                          # carrier alone is not failback
    succeed(core, "fab1", "n2", 5, 3.5)
    assert core.rules()["chains"][("ipv4", "peer_n2_3001")] == ("198.18.0.12", "198.18.1.12")
    assert core.rules()["chains"][("ipv4", "peer_n3_3001")] == ("198.18.0.13",)


def test_a_peer_with_every_link_down_keeps_its_primary_lane_and_gets_no_resets():
    core = linkwatch.Watchdog(config(), 0.0)
    fail(core, "fab1", "n2", 3, 1.0)
    fail(core, "fab0", "n2", 3, 1.5)
    rules = core.rules()
    assert rules["chains"][("ipv4", "peer_n2_3001")] == ("198.18.0.12",)
    assert rules["dead"] == {"ipv4": ()}
    core = linkwatch.Watchdog(config(primary_link="fab1"), 0.0)
    fail(core, "fab0", "n2", 3, 1.0)
    fail(core, "fab1", "n2", 3, 1.0)
    assert core.rules()["chains"][("ipv4", "peer_n2_3001")] == ("198.18.1.12",)


def test_weighted_lanes_keep_their_order_and_weights_over_the_links_left():
    links = LINKS + [{"name": "fab2", "subnet": "198.18.2.0/24"}]
    plan = plan_addresses({"n1": 1, "n2": 2}, links)
    devices = DEVICES + [{"name": "fab2", "device": "eth2"}]
    model = nat_rules.build(plan, "n1", devices, weights={"fab0": 2, "fab2": 3}, watchdog=True)
    core = linkwatch.Watchdog(linkwatch.load_config(nat_rules.watchdog_config(model)), 0.0)
    full = [lane["link"] for lane in model["peers"][0]["lanes"]]
    fail(core, "fab1", "n2", 3, 1.0)
    left = core.rules()["chains"][("ipv4", "peer_n2_3001")]
    link_of = {"198.18.0.12": "fab0", "198.18.1.12": "fab1", "198.18.2.12": "fab2"}
    assert [link_of[a] for a in left] == [link for link in full if link != "fab1"]
    assert sorted(link_of[a] for a in left) == ["fab0", "fab0", "fab2", "fab2", "fab2"]


def test_families_fail_over_on_their_own():
    links = LINKS + [{"name": "v6a", "subnet": "2001:db8:1::/64"}, {"name": "v6b", "subnet": "2001:db8:2::/64"}]
    plan = plan_addresses({"n1": 1, "n2": 2}, links)
    devices = DEVICES + [{"name": "v6a", "device": "eth0"}, {"name": "v6b", "device": "eth1"}]
    cfg = linkwatch.load_config(nat_rules.watchdog_config(nat_rules.build(plan, "n1", devices, watchdog=True)))
    core = linkwatch.Watchdog(cfg, 0.0)
    fail(core, "v6a", "n2", 3, 1.0)
    fail(core, "v6b", "n2", 3, 1.0)   # every IPv6 path down: keep the primary lane, no resets
    fail(core, "fab1", "n2", 3, 1.0)
    rules = core.rules()
    assert rules["chains"] == {("ipv4", "peer_n2_3001"): ("198.18.0.12",),
                               ("ipv6", "peer_n2_3001"): ("2001:db8:1::c",)}
    assert rules["dead"] == {"ipv4": (("198.18.1.12", 3001),), "ipv6": ()}
    script = linkwatch.render_transaction(cfg, rules)
    assert "add element ip clusterfabric_multilink dead { 198.18.1.12 . 3001 }" in script
    assert "flush set ip6 clusterfabric_multilink dead" in script


# ---------------------------------------------------------------------------- the transaction
def test_the_transaction_rewrites_only_what_changed_and_the_whole_dead_set():
    cfg = config()
    core = linkwatch.Watchdog(cfg, 0.0)
    before = core.rules()
    fail(core, "fab1", "n2", 3, 1.0)
    after = core.rules()
    script = linkwatch.render_transaction(cfg, after, before, "peer n2 link fab1 down")
    assert script.splitlines() == [
        "# clusterfabric-linkwatch on n1: peer n2 link fab1 down",
        "flush chain ip clusterfabric_multilink peer_n2_3001",
        "add rule ip clusterfabric_multilink peer_n2_3001 dnat to 198.18.0.12",
        "flush set ip clusterfabric_multilink dead",
        "add element ip clusterfabric_multilink dead { 198.18.1.12 . 3001 }",
    ]
    assert linkwatch.render_transaction(cfg, after, after) == ""
    everything = linkwatch.render_transaction(cfg, after)
    assert everything.count("flush chain") == 2 and everything.count("flush set") == 1
    assert linkwatch.describe(cfg, after, before) == "lanes peer_n2_3001=fab0; dead 198.18.1.12.3001"


# ---------------------------------------------------------------------------- status and seeding
def test_status_document_has_the_agreed_shape():
    core = linkwatch.Watchdog(config(), 100.0)
    core.set_carrier("fab1", False, 101.0)
    document = core.status(5000.0, 102.0, core.rules(), {"ok": True})
    assert set(document) >= {"updated", "node", "links", "peers"}
    assert document["updated"] == 5000.0 and document["node"] == "n1"
    assert document["links"] == {"fab0": {"device": "eth0", "carrier": True, "state": "up", "since": 4998.0},
                                 "fab1": {"device": "eth1", "carrier": False, "state": "down", "since": 4999.0}}
    assert document["peers"]["n2"]["fab0"] == {
        "address": "198.18.0.12", "state": "up", "since": 4998.0, "probes_failed": 0}
    assert document["peers"]["n3"]["fab1"]["state"] == "down" and document["peers"]["n3"]["fab1"]["since"] == 4999.0
    assert document["rules"]["dead"] == ["198.18.1.12 . 3001", "198.18.1.13 . 3001"]
    assert document["rules"]["ok"] is True
    json.dumps(document)


def test_link_state_follows_its_peers_when_the_carrier_is_up():
    core = linkwatch.Watchdog(config(), 0.0)
    fail(core, "fab1", "n2", 3, 1.0)
    assert core.links["fab1"]["state"] == "up"
    fail(core, "fab1", "n3", 3, 2.0)
    assert core.links["fab1"]["state"] == "down" and core.links["fab1"]["since"] == 2.0


def test_a_restarted_daemon_starts_from_a_fresh_status_file_only():
    cfg = config()
    old = linkwatch.Watchdog(cfg, 0.0)
    fail(old, "fab1", "n2", 3, 1.0)
    status = old.status(1000.0, 2.0)
    new = linkwatch.Watchdog(cfg, 50.0)
    assert new.seed(status, 50.0, 1005.0) == ["peer n2 link fab1 (198.18.1.12): down (as the previous run saw it)"]
    assert new.rules()["chains"][("ipv4", "peer_n2_3001")] == ("198.18.0.12",)
    assert new.paths[("fab1", "n2")].since == pytest.approx(50.0 - 6.0)
    for stale in (linkwatch.Watchdog(cfg, 0.0), ):
        assert stale.seed(status, 0.0, 1000.0 + linkwatch.SEED_MAX_AGE_S + 1) == []
        assert stale.seed(dict(status, node="n2"), 0.0, 1001.0) == []
        assert stale.seed(None, 0.0, 1001.0) == []


# ---------------------------------------------------------------------------- I/O helpers
def test_carrier_needs_the_interface_up_and_a_carrier(tmp_path):
    for name, flags, carrier in (("up", "0x1003", "1"), ("nocarrier", "0x1003", "0"), ("admindown", "0x1002", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "flags").write_text(flags + "\n")
        if carrier is not None:
            (tmp_path / name / "carrier").write_text(carrier + "\n")
    root = str(tmp_path)
    assert linkwatch.read_carrier("up", root) is True
    assert linkwatch.read_carrier("nocarrier", root) is False
    assert linkwatch.read_carrier("admindown", root) is False
    assert linkwatch.read_carrier("missing", root) is False


def test_icmp_echo_and_reply_parsing():
    packet = linkwatch.icmp_echo("ipv4", 0x1234, 7)
    assert linkwatch.inet_checksum(packet) == 0
    reply = bytearray(packet)
    reply[0] = 0
    ip_header = bytes([0x45]) + bytes(19)
    assert linkwatch.icmp_reply("ipv4", ip_header + bytes(reply)) == (0x1234, 7)
    assert linkwatch.icmp_reply("ipv4", ip_header + packet) is None       # a request, not a reply
    six = bytearray(linkwatch.icmp_echo("ipv6", 9, 8))
    assert six[0] == 128
    six[0] = 129
    assert linkwatch.icmp_reply("ipv6", bytes(six)) == (9, 8)
    assert linkwatch.icmp_reply("ipv6", b"\x81") is None


def test_tcp_probe_verdicts_on_loopback():
    """Accepted and refused both prove the path; a full accept queue drops the SYN: timeout."""
    prober = linkwatch.TcpProber(0, 0, 0.3)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    try:
        prober.port = port
        outcome = run_probe(prober, ("lo", "ok"))
        assert outcome == [(("lo", "ok"), True, None)]
        listener.settimeout(1)
        listener.accept()[0].close()  # empty the queue again
        prober.port = refused_port
        assert run_probe(prober, ("lo", "refused")) == [(("lo", "refused"), True, None)]
        # The first connection sits unaccepted in the queue of backlog 0, so the next SYNs are dropped.
        prober.port = port
        filler = socket.create_connection(("127.0.0.1", port), timeout=1)
        assert run_probe(prober, ("lo", "full")) == [(("lo", "full"), False, "timeout")]
        filler.close()
        assert prober.start("bad", "", "ipv4", "198.18.255.1", "127.0.0.1", 0.0)[0] is False  # not our address
    finally:
        listener.close()
        prober.close()


def run_probe(prober, key):
    verdict = prober.start(key, "", "ipv4", "127.0.0.1", "127.0.0.1", 0.0)
    if verdict is not None:
        return [(key,) + verdict]
    poller = select.poll()
    for fd, mask in prober.fds():
        poller.register(fd, mask)
    events = poller.poll(1000)
    if events and events[0][1] & (select.POLLOUT | select.POLLERR | select.POLLHUP):
        sock_fd = events[0][0]
        if prober.pending[sock_fd][1].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or \
                _connected(prober.pending[sock_fd][1]):
            return prober.ready(sock_fd)
    return prober.expire(10.0)


def _connected(sock):
    try:
        sock.getpeername()
        return True
    except OSError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root (make test runs as root)")
def test_icmp_probe_on_loopback_answers_and_times_out():
    prober = linkwatch.IcmpProber(0.5)
    try:
        assert prober.start(("lo", "peer"), "lo", "ipv4", "127.0.0.1", "127.0.0.1", 0.0) is None
        poller = select.poll()
        for fd, mask in prober.fds():
            poller.register(fd, mask)
        results = []
        for dummy in range(5):
            for fd, dummy_event in poller.poll(500):
                results += prober.ready(fd)   # our own request arrives too and is ignored
            if results:
                break
        assert results == [(("lo", "peer"), True, None)]
        # A probe whose answer was not read before its deadline counts as failed.
        assert prober.start(("lo", "late"), "lo", "ipv4", "127.0.0.1", "127.0.0.1", 0.0) is None
        assert prober.expire(1.0) == [(("lo", "late"), False, "timeout")]
    finally:
        prober.close()


def test_probe_source_ports_sit_just_below_the_ephemeral_range(tmp_path):
    path = tmp_path / "range"
    path.write_text("32768\t60999\n")
    assert linkwatch.probe_source_ports(8, str(path)) == list(range(32760, 32768))
    path.write_text("1025 65535\n")
    assert linkwatch.probe_source_ports(8, str(path)) == []
    assert linkwatch.probe_source_ports(8, str(tmp_path / "missing")) == []


@pytest.mark.parametrize("text", ["32768\t60999\n", "10000 20000\n", "1030 65535\n", "1025 65535\n", "junk\n"])
def test_verify_knows_the_probe_source_ports(tmp_path, text):
    """link_sample.probe_ports() (verify.yml, the test bed) leaves the probes out of the fabric sockets:
    it must name the ports this program takes."""
    path = tmp_path / "range"
    path.write_text(text)
    assert link_sample.probe_ports(str(path)) == frozenset(linkwatch.probe_source_ports(link_sample.PROBE_PORTS, str(path)))


def test_tcp_probes_take_the_source_ports_in_turn_and_skip_a_taken_one():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(8)
    taken.settimeout(2)
    spare = []
    for dummy in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        spare.append(sock.getsockname()[1])
        sock.close()
    pool = [taken.getsockname()[1]] + spare       # the first one is taken by the listener
    prober = linkwatch.TcpProber(pool[0], 0, 1.0, pool)
    used = []
    try:
        for dummy in range(3):
            assert run_probe(prober, ("lo", "pool")) == [(("lo", "pool"), True, None)]
            conn, peer = taken.accept()
            used.append(peer[1])
            conn.close()
    finally:
        taken.close()
        prober.close()
    assert used == [spare[0], spare[0], spare[1]]


def attr(kind, payload, nested=False):
    raw = struct.pack("=HH", 4 + len(payload), kind | (0x8000 if nested else 0)) + payload
    return raw + b"\0" * (-len(raw) % 4)


def ct_tuple(src, dst, sport, dport):
    ip = attr(1, attr(1, socket.inet_aton(src)) + attr(2, socket.inet_aton(dst)), True)
    proto = attr(2, attr(1, bytes([6])) + attr(2, struct.pack("!H", sport)) + attr(3, struct.pack("!H", dport)), True)
    return ip + proto


def test_conntrack_entries_stuck_on_a_dead_address_are_found_and_deleted_by_their_tuple():
    orig = attr(1, ct_tuple("198.18.0.11", "198.18.0.12", 49002, 3001), True)
    reply = attr(2, ct_tuple("198.18.1.12", "198.18.1.11", 3001, 49002), True)
    zone = attr(18, struct.pack("!H", 0))
    body = orig + reply + attr(3, struct.pack("!I", 0x188)) + zone
    entry = linkwatch.parse_ct(body)
    assert entry["orig"] == {"src": "198.18.0.11", "dst": "198.18.0.12", "proto": 6, "sport": 49002, "dport": 3001}
    assert entry["reply"]["src"] == "198.18.1.12" and entry["reply"]["sport"] == 3001
    assert linkwatch.stuck_on(entry, {("198.18.1.12", 3001)})
    assert not linkwatch.stuck_on(entry, {("198.18.1.12", 3002)})
    answered = linkwatch.parse_ct(orig + reply + attr(3, struct.pack("!I", 0x18A)))   # IPS_SEEN_REPLY
    assert not linkwatch.stuck_on(answered, {("198.18.1.12", 3001)})
    message = linkwatch.ct_message(linkwatch.CT_MSG_DELETE, "ipv4", 7, 5, b"".join(entry["keep"]))
    [(kind, flags, seq, payload)] = linkwatch.nlmessages(message)
    assert (kind, flags, seq) == ((1 << 8) | 2, 5, 7) and payload[:4] == bytes([2, 0, 0, 0])
    assert payload[4:] == orig + zone                      # the kernel finds the entry by its tuple
    dump = linkwatch.ct_message(linkwatch.CT_MSG_GET, "ipv6", 8, 0x301)
    assert struct.unpack("=IHH", dump[:8]) == (20, (1 << 8) | 1, 0x301) and dump[16] == 10


def test_probe_errors_are_classified():
    assert linkwatch.probe_verdict(0) == (True, None)
    assert linkwatch.probe_verdict(111) == (True, None)
    assert linkwatch.probe_verdict(errno.ECONNRESET) == (True, None)
    assert linkwatch.probe_verdict(113) == (False, "EHOSTUNREACH")


def test_status_file_is_replaced_atomically_and_readable(tmp_path):
    path = str(tmp_path / "run" / "linkwatch.json")
    linkwatch.write_status(path, {"a": 1})
    linkwatch.write_status(path, {"a": 2})
    assert linkwatch.read_json(path) == {"a": 2}
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert os.listdir(str(tmp_path / "run")) == ["linkwatch.json"]


def test_sd_notify_sends_to_the_socket(tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        linkwatch.sd_notify("READY=1")
        assert server.recv(100) == b"READY=1"
        monkeypatch.delenv("NOTIFY_SOCKET")
        linkwatch.sd_notify("READY=1")  # outside systemd: nothing, no error
    finally:
        server.close()


def test_command_line_checks_and_renders(tmp_path, capsys):
    path = tmp_path / "linkwatch.json"
    path.write_text(json.dumps(good()))
    assert linkwatch.main(["--check-config", str(path)]) == 0
    assert "2 links, 2 peers, 2 chains, tcp probes every 100 ms" in capsys.readouterr().out
    assert linkwatch.main(["--render", str(path)]) == 0
    assert "add rule ip clusterfabric_multilink peer_n3_3001 dnat to numgen inc mod 2" in capsys.readouterr().out
    path.write_text(json.dumps(with_change(["probe"], "arp")))
    assert linkwatch.main(["--check-config", str(path)]) == 1
    assert "probe must be one of tcp, icmp" in capsys.readouterr().err
    assert linkwatch.main(["--bogus"]) == 2


# ---------------------------------------------------------------------------- the loop, with fakes
class FakeNft(object):
    how = "fake"

    def __init__(self):
        self.scripts = []
        self.table = {"ip": 7}
        self.fail = None

    def run(self, script):
        self.scripts.append(script)
        if self.fail:
            return False, self.fail
        return True, None

    def handles(self, table):
        assert table == "clusterfabric_multilink"
        return dict(self.table)


class FakeConntrack(object):
    def __init__(self):
        self.calls = []

    def forget(self, family, dead):
        self.calls.append((family, sorted(dead)))
        return 2


def daemon(tmp_path, **changes):
    cfg = dict(good(), status_file=str(tmp_path / "status.json"), interval_ms=10)
    cfg.update(changes)
    cfg = linkwatch.load_config(cfg)
    clock = Clock()
    nft = FakeNft()
    lw = linkwatch.Daemon(cfg, nft=nft, prober=FakeProber({}, [None], 10 ** 6), events=FakeEvents(),
                          clock=clock, wall=lambda: clock.now + 5000, conntrack=FakeConntrack())
    return lw, nft, clock


def test_sync_applies_one_transaction_per_change_and_nothing_in_between(tmp_path, monkeypatch):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, nft, clock = daemon(tmp_path)
    lw.handles = nft.handles("clusterfabric_multilink")
    assert lw.sync("start", force=True) and len(nft.scripts) == 1
    assert nft.scripts[0].count("flush chain") == 2
    assert lw.sync("change") and len(nft.scripts) == 1            # nothing changed
    lw.handle([(("fab1", "n2"), False, "timeout")] * 3)
    assert lw.sync("change") and len(nft.scripts) == 2
    assert nft.scripts[1].splitlines()[1:] == [
        "flush chain ip clusterfabric_multilink peer_n2_3001",
        "add rule ip clusterfabric_multilink peer_n2_3001 dnat to 198.18.0.12",
        "flush set ip clusterfabric_multilink dead",
        "add element ip clusterfabric_multilink dead { 198.18.1.12 . 3001 }"]
    # Connections still waiting on the address that just died are re-steered at their next SYN.
    assert lw.conntrack.calls == [("ipv4", [("198.18.1.12", 3001)])]
    lw.write_status(force=True)
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["peers"]["n2"]["fab1"]["state"] == "down" and status["rules"]["ok"] is True
    clock.now += 1
    lw.handle([(("fab1", "n2"), True, None)] * 5)
    assert lw.sync("change") and "dnat to numgen inc mod 2" in nft.scripts[2]
    assert len(lw.conntrack.calls) == 1                            # failback: nothing to clear


def test_a_table_loaded_anew_gets_the_watchdog_state_again_and_a_missing_one_is_waited_for(tmp_path, monkeypatch):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, nft, clock = daemon(tmp_path)
    lw.handles = nft.handles("clusterfabric_multilink")
    lw.sync("start", force=True)
    lw.handle([(("fab1", "n3"), False, "timeout")] * 3)
    lw.sync("change")
    count = len(nft.scripts)
    nft.table = {}                                                # fabric_nat state=absent
    lw.resync()
    assert not lw.sync("change") and len(nft.scripts) == count
    lw.handle([(("fab1", "n2"), False, "timeout")] * 3)
    assert not lw.sync("change") and len(nft.scripts) == count   # no table, no transaction
    nft.table = {"ip": 9}                                         # loaded anew: every lane, empty set
    lw.resync()
    assert lw.sync("change") and len(nft.scripts) == count + 1
    script = nft.scripts[-1]
    assert script.count("flush chain") == 2 and "198.18.1.12 . 3001, 198.18.1.13 . 3001" in script
    clock.now += 5
    lw.resync()                                                   # same handles: nothing to do
    assert lw.sync("change") and len(nft.scripts) == count + 1


def test_a_refused_transaction_is_retried_after_resync_s(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, nft, clock = daemon(tmp_path, resync_s=2.0)
    lw.handles = nft.handles("clusterfabric_multilink")
    nft.fail = "Error: No such file or directory"
    assert not lw.sync("start", force=True)
    assert not lw.sync("change") and len(nft.scripts) == 1       # waits
    clock.now += 2.0
    assert not lw.sync("change") and len(nft.scripts) == 2
    nft.fail = None
    clock.now += 2.0
    assert lw.sync("change") and len(nft.scripts) == 3 and nft.scripts[-1].count("flush chain") == 2
    out = capsys.readouterr().out
    assert out.count("rules NOT applied") == 1                   # the same error is logged once


def test_the_loop_detects_fails_over_fails_back_writes_status_and_restores_on_exit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: device != "eth9")
    cfg = linkwatch.load_config(dict(good(), status_file=str(tmp_path / "status.json"), interval_ms=10,
                                     hold_down_s=0))
    box = [None]
    answers = {("fab1", "n2"): [True, False, False, False] + [True] * 5}
    nft = FakeNft()
    lw = linkwatch.Daemon(cfg, nft=nft, prober=FakeProber(answers, box, 14), events=FakeEvents(),
                          conntrack=FakeConntrack())
    box[0] = lw
    notified = []
    lw.run(notify=notified.append, priority=lambda: "test")
    assert notified[0] == "READY=1"
    rotations = [s for s in nft.scripts if "peer_n2_3001" in s]
    assert len(rotations) == 4                                    # start, down, up, stopping
    assert "dnat to 198.18.0.12\n" in rotations[1] and "dead { 198.18.1.12 . 3001 }" in rotations[1]
    assert "numgen inc mod 2" in rotations[2] and "numgen inc mod 2" in rotations[3]
    assert "# clusterfabric-linkwatch on n1: stopping" in rotations[3]
    out = capsys.readouterr().out
    assert "peer n2 link fab1 (198.18.1.12): down after 3 failed probes (timeout)" in out
    assert "peer n2 link fab1 (198.18.1.12): up after 5 good probes" in out
    assert "stopping: every lane restored" in out
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["peers"]["n2"]["fab1"]["state"] == "up"
    assert struct.calcsize("ii") == len(linkwatch.LINGER_RST)


def test_the_contract_checks_the_daemon_s_own_setting_limits():
    """contract_roles refuses a bad watchdog setting before any host changes, with the daemon's ranges."""
    from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.contract_roles import WATCHDOG_LIMITS  # pylint: disable=import-outside-toplevel
    for name, (dummy, low, high) in WATCHDOG_LIMITS.items():
        assert linkwatch.SETTINGS[name][1:] == (low, high), name
