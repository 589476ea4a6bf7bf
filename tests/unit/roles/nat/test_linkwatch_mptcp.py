# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""linkwatch in MPTCP mode (kind mptcp, the mptcp role's configuration): a link whose path comes
back up gets its signal endpoints deleted and re-added (the kernel does not re-create a dead
subflow), endpoints of ours that went missing are re-added, and the status file reports per link."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import importlib.util
import json
import os

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import mptcp_plan
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from linkwatch_fakes import Clock, FakeEvents, FakeProber

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
_SPEC = importlib.util.spec_from_file_location("clusterfabric_linkwatch_mptcp",
                                               os.path.join(ROOT, "roles", "nat", "files", "linkwatch.py"))
linkwatch = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(linkwatch)

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)
MODEL = mptcp_plan.build(PLAN, "n1", DEVICES, [3001])


def good(**settings):
    return json.loads(json.dumps(mptcp_plan.watchdog_config(MODEL, settings)))


def with_change(path, value):
    data = good()
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


# ---------------------------------------------------------------------------- configuration
def test_the_mptcp_configuration_loads_without_nft_names():
    config = linkwatch.load_config(good())
    assert config["kind"] == "mptcp" and config["table"] is None and config["dead_set"] is None
    assert config["mark"] == 0 and config["chains"] == []
    assert config["endpoints"] == [{"id": 101, "link": "fab0", "address": "198.18.0.11", "device": "eth0"},
                                   {"id": 102, "link": "fab1", "address": "198.18.1.11", "device": "eth1"}]


@pytest.mark.parametrize("path, value, message", [
    (["kind"], "bgp", "kind must be one of nat, mptcp"),
    (["endpoints"], [], "endpoints must be a non-empty list with kind mptcp"),
    (["endpoints"], KeyError, "endpoints must be a non-empty list with kind mptcp"),
    (["endpoints", 0, "link"], "fab9", r"endpoints\[0\] must be an object with the link of one of links"),
    (["endpoints", 1, "id"], 101, r"endpoints\[1\]: id 101 is not a new endpoint id"),
    (["endpoints", 1, "id"], 0, r"endpoints\[1\]: id 0 is not a new endpoint id"),
    (["endpoints", 1, "id"], True, r"endpoints\[1\]: id True is not a new endpoint id"),
    (["endpoints", 1, "address"], "198.18.0.11; rm", r"endpoints\[1\] address"),
    (["chains"], [{"name": "x", "peer": "n2", "family": "ipv4", "port": 3001, "lanes": []}], "chains"),
])
def test_bad_mptcp_configuration_names_the_key(path, value, message):
    with pytest.raises(linkwatch.ConfigError, match=message):
        linkwatch.load_config(with_change(path, value))


def test_a_second_endpoint_on_one_address_is_refused():
    data = good()
    data["endpoints"][1] = dict(data["endpoints"][0], id=102)
    with pytest.raises(linkwatch.ConfigError, match=r"endpoints\[1\]: address 198.18.0.11 is listed twice"):
        linkwatch.load_config(data)


def test_endpoints_belong_to_kind_mptcp_only():
    data = good()
    data["kind"] = "nat"
    with pytest.raises(linkwatch.ConfigError):
        linkwatch.load_config(data)


def test_render_readd_deletes_then_adds_the_links_endpoints():
    config = linkwatch.load_config(good())
    assert linkwatch.render_readd(config, ["fab1"]) == (
        ["mptcp endpoint delete id 102"], ["mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"])
    deletes, adds = linkwatch.render_readd(config, ["fab0", "fab1"])
    assert len(deletes) == 2 and len(adds) == 2


def test_endpoints_are_read_from_ip_mptcp_endpoint_show_with_the_implicit_ones():
    text = ("198.18.0.11 id 101 signal dev eth0 \n10.0.0.1 id 3 subflow \n198.18.1.11 id 102 rawflags 10 \n"
            "198.18.2.11 id 104 implicit \n198.18.3.11 id 105 rawflags zz \n\n")
    assert linkwatch.parse_endpoints(text) == {
        101: {"address": "198.18.0.11", "implicit": False}, 3: {"address": "10.0.0.1", "implicit": False},
        102: {"address": "198.18.1.11", "implicit": True}, 104: {"address": "198.18.2.11", "implicit": True},
        105: {"address": "198.18.3.11", "implicit": False}}


def present(*entries):
    return dict((number, {"address": address, "implicit": implicit}) for number, address, implicit in entries)


def test_a_re_add_takes_whatever_is_on_our_address_and_over_an_implicit_endpoint_gives_no_id():
    config = linkwatch.load_config(good())
    # ours in place: deleted (and, at the add step, with nothing on the address, added back with our id)
    assert linkwatch.render_readd(config, ["fab1"], present((101, "198.18.0.11", False), (102, "198.18.1.11", False)))[0] == [
        "mptcp endpoint delete id 102"]
    assert linkwatch.render_readd(config, ["fab1"], present((101, "198.18.0.11", False)))[1] == [
        "mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"]
    # at the add step ours is there again (a converge between the delete and the add): no add
    assert linkwatch.render_readd(config, ["fab1"], present((102, "198.18.1.11", False)))[1] == []
    # ours under another id (an earlier re-add took over an implicit one): that id goes
    assert linkwatch.render_readd(config, ["fab1"], present((103, "198.18.1.11", False)))[0] == [
        "mptcp endpoint delete id 103"]
    # an implicit endpoint on our address: the add gives no id, so the kernel makes it ours
    assert linkwatch.render_readd(config, ["fab1"], present((101, "198.18.0.11", False), (104, "198.18.1.11", True)))[1] == [
        "mptcp endpoint add 198.18.1.11 dev eth1 signal"]
    # our id taken by an endpoint on another address: no id either (explicit would be refused: EBUSY)
    assert linkwatch.render_readd(config, ["fab1"], present((102, "10.9.9.9", False)))[1] == [
        "mptcp endpoint add 198.18.1.11 dev eth1 signal"]
    # nothing known: our ids
    assert linkwatch.render_readd(config, ["fab1"]) == (
        ["mptcp endpoint delete id 102"], ["mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"])
    # addresses compare as addresses
    v6 = dict(config, endpoints=[dict(config["endpoints"][0], address="2001:db8::11")])
    assert linkwatch.render_readd(v6, ["fab0"], present((7, "2001:db8:0:0::11", True)))[0] == ["mptcp endpoint delete id 7"]


def test_ours_are_known_by_their_address_and_an_implicit_one_is_not_ours():
    config = linkwatch.load_config(good())
    assert linkwatch.missing_endpoints(config, present((101, "198.18.0.11", False), (107, "198.18.1.11", False))) == []
    missing = linkwatch.missing_endpoints(config, present((101, "198.18.0.11", False), (102, "198.18.1.11", True)))
    assert [e["id"] for e in missing] == [102]
    assert [e["id"] for e in linkwatch.missing_endpoints(config, {})] == [101, 102]


def test_command_line_checks_and_renders_the_mptcp_configuration(tmp_path, capsys):
    path = tmp_path / "linkwatch.json"
    path.write_text(json.dumps(good()))
    assert linkwatch.main(["--check-config", str(path)]) == 0
    assert "kind mptcp, 2 links, 2 peers, 2 endpoints, tcp probes every 100 ms" in capsys.readouterr().out
    assert linkwatch.main(["--render", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mptcp endpoint delete id 101", "mptcp endpoint delete id 102",
        "mptcp endpoint add 198.18.0.11 dev eth0 signal id 101", "mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"]


# ---------------------------------------------------------------------------- the state machine
def test_a_path_back_up_marks_its_link_for_a_re_add_and_a_nat_watchdog_never_does():
    config = linkwatch.load_config(good(hold_down_s=0))
    core = linkwatch.Watchdog(config, 0.0)
    for dummy in range(3):
        core.probe_result("fab1", "n2", False, 1.0, "timeout")
    assert core.readd == set()
    for dummy in range(5):
        lines = core.probe_result("fab1", "n2", True, 2.0)
    assert core.readd == {"fab1"} and "up after 5 good probes" in lines[0]
    core.endpoints_readded(["fab1"], False, "RTNETLINK answers: File exists", 3.0)
    assert core.readd == {"fab1"} and core.readds["fab1"] == {"count": 0, "at": None,
                                                              "error": "RTNETLINK answers: File exists"}
    core.endpoints_readded(["fab1"], True, None, 4.0)
    assert core.readd == set() and core.readds["fab1"] == {"count": 1, "at": 4.0, "error": None}


def test_carrier_back_re_adds_once_the_paths_answer_again():
    config = linkwatch.load_config(good(hold_down_s=0))
    core = linkwatch.Watchdog(config, 0.0)
    core.set_carrier("fab0", False, 1.0)
    core.set_carrier("fab0", True, 2.0)
    assert core.readd == set()                      # carrier alone: the peers must answer first
    for dummy in range(5):
        core.probe_result("fab0", "n3", True, 3.0)
    assert core.readd == {"fab0"}


# ss -Htni of n1's fabric port: connection aaaa has subflows on fab0 and fab1, bbbb only on fab0
INFO = "\t cubic wscale:7,7 rto:204 tcp-ulp-mptcp flags:%s token:%s seq:1 maplen:0\n"
SHORT_ON_FAB1 = "".join("0      0      %s %s\n" % (local, remote) + INFO % (flags, token) for local, remote, flags, token in (
    ("198.18.0.11:45318", "198.18.0.12:3001", "Mmec", "0000(id:0)/aaaa(id:0)"),
    ("198.18.1.11:37783", "198.18.1.12:3001", "Jjec", "dd65(id:102)/aaaa(id:102)"),
    ("198.18.0.11:3001", "198.18.0.13:41000", "Mec", "0000(id:0)/bbbb(id:0)"))) + \
    "0      0      198.18.0.11:3001 198.18.0.13:41001\n\t cubic wscale:7,7 rto:204\n"


WHOLE = SHORT_ON_FAB1 + "0      0      198.18.1.11:3001 198.18.1.13:41002\n" + INFO % ("Jec", "0000(id:102)/bbbb(id:102)")


def test_short_links_are_those_a_connection_has_no_subflow_on():
    config = linkwatch.load_config(good())
    assert linkwatch.short_links(SHORT_ON_FAB1, config) == ["fab1"]
    assert linkwatch.short_links(WHOLE, config) == []
    assert linkwatch.short_links("", config) == []


def path_back(lw, clock, link, peer="n2"):
    """``link``'s path to ``peer`` goes down and comes back up; READD_CHECK_S later the daemon looks."""
    lw.handle([((link, peer), False, "timeout")] * 3)
    lw.handle([((link, peer), True, None)] * 5)
    lw.sync("change")
    clock.now += linkwatch.READD_CHECK_S


def test_short_links_of_one_side_tell_opened_from_accepted_connections():
    # aaaa (n1 opened it: the peer's port is the fabric port) covers both links, bbbb (accepted) fab0 only
    config = linkwatch.load_config(good())
    assert linkwatch.short_links(SHORT_ON_FAB1, config, accepted=True) == ["fab1"]
    assert linkwatch.short_links(SHORT_ON_FAB1, config, accepted=False) == []
    opened_short = SHORT_ON_FAB1.replace("dd65(id:102)/aaaa", "dd65(id:102)/bbbb")
    assert linkwatch.short_links(opened_short, config, accepted=False) == ["fab1"]
    assert linkwatch.short_links(opened_short, config, accepted=True) == []


def test_a_dual_stack_listeners_ipv4_mapped_addresses_are_on_their_links():
    # a listener on [::] shows IPv4 subflows as [::ffff:a.b.c.d] (measured: benchmarks/mptcp.py's sink)
    config = linkwatch.load_config(good())
    mapped = WHOLE.replace("198.18.0.11:3001 198.18.0.13", "[::ffff:198.18.0.11]:3001 [::ffff:198.18.0.13]") \
        .replace("198.18.1.11:3001 198.18.1.13", "[::ffff:198.18.1.11]:3001 [::ffff:198.18.1.13]")
    assert "[::ffff:198.18.1.11]:3001" in mapped
    assert linkwatch.short_links(mapped, config) == []
    assert linkwatch.connection_links(mapped, config)["bbbb"] == {"accepted": True, "links": {"fab0", "fab1"}}


# ss -HMni of the same connections: the path manager counters (ss leaves out a counter that is 0)
MSK = ("0      0      198.18.0.11:45318 198.18.0.12:3001\n"
       "\t subflows:1 add_addr_signal:2 add_addr_accepted:%s subflows_max:8 add_addr_signal_max:2 "
       "add_addr_accepted_max:8 remote_key token:aaaa write_seq:1 snd_una:1 rcv_nxt:1\n"
       "0      0      198.18.0.11:3001 198.18.0.13:41000\n"
       "\t subflows:0 add_addr_signal:2 subflows_max:8 add_addr_signal_max:2 add_addr_accepted_max:8 "
       "remote_key token:bbbb write_seq:1 snd_una:1 rcv_nxt:1\n")


def test_msk_counters_and_the_connections_that_can_no_longer_join_a_link():
    assert linkwatch.parse_msk_counters(MSK % 8) == {"aaaa": (8, 8), "bbbb": (0, 8)}
    assert linkwatch.parse_msk_counters("garbage\n") == {}
    config = linkwatch.load_config(good())
    opened_short = SHORT_ON_FAB1.replace("dd65(id:102)/aaaa", "dd65(id:102)/bbbb")   # aaaa: fab0 only
    view = linkwatch.subflow_view(opened_short, MSK % 8, config)
    assert view == {"fab0": {"short": {"opened": 0, "accepted": 0}, "exhausted": 0},
                    "fab1": {"short": {"opened": 1, "accepted": 0}, "exhausted": 1}}
    # places left: short, not exhausted; and a connection with its counters unknown is never exhausted
    left = linkwatch.subflow_view(opened_short, MSK % 7, config)["fab1"]
    assert left == {"short": {"opened": 1, "accepted": 0}, "exhausted": 0}
    assert linkwatch.subflow_view(opened_short, None, config)["fab1"]["exhausted"] == 0
    # an accepted connection's places are its peer's business: short, never exhausted here
    view = linkwatch.subflow_view(SHORT_ON_FAB1, MSK.replace("token:bbbb", "add_addr_accepted:8 token:bbbb") % 8, config)
    assert view["fab1"] == {"short": {"opened": 0, "accepted": 1}, "exhausted": 0}


def test_a_link_only_connections_this_node_opened_lack_is_left_to_the_peers_re_add(tmp_path, monkeypatch, capsys):
    # the peer gives those connections their subflow back by announcing its address again; a
    # re-add here would only close this node's live joins on the link (each uses up a place)
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    ip.subflow_text = SHORT_ON_FAB1.replace("dd65(id:102)/aaaa", "dd65(id:102)/bbbb")
    ip.msk_text = MSK % 3
    path_back(lw, clock, "fab1")
    assert lw.sync("change") and ip.batches == [("ss", [3001])]
    assert "link fab1 is back and every connection it accepted has its subflow on it: no re-add" in capsys.readouterr().out
    lw.write_status(force=True)
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["links"]["fab1"]["short"] == {"opened": 1, "accepted": 0} and status["links"]["fab1"]["exhausted"] == 0
    assert status["subflows_looked"] == clock.now + 5000


def test_exhausted_connections_are_logged_once_and_looked_at_every_few_seconds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    ip.subflow_text = SHORT_ON_FAB1.replace("dd65(id:102)/aaaa", "dd65(id:102)/bbbb")
    ip.msk_text = MSK % 8
    lw.resync()
    assert ip.batches == [] and lw.view is None      # not yet: SUBFLOWS_LOOK_S after the start
    lw.write_status(force=True)
    assert linkwatch.read_json(str(tmp_path / "status.json"))["subflows_looked"] is None
    clock.now += linkwatch.SUBFLOWS_LOOK_S
    lw.resync()
    out = capsys.readouterr().out
    assert "link fab1: 1 connection this node opened can no longer get a subflow on it" in out
    assert "mptcp_net-next issue 498" in out
    lw.write_status()                                 # a changed view is written at once
    assert linkwatch.read_json(str(tmp_path / "status.json"))["links"]["fab1"]["exhausted"] == 1
    clock.now += linkwatch.SUBFLOWS_LOOK_S
    lw.resync()
    assert len(ip.batches) == 2 and capsys.readouterr().out == ""   # looked again, said once
    ip.subflow_text, ip.msk_text = WHOLE, MSK % 1                  # the service was restarted
    clock.now += linkwatch.SUBFLOWS_LOOK_S
    lw.resync()
    assert "link fab1: no connection is exhausted any more" in capsys.readouterr().out
    ip.subflow_text = None                                          # ss failed: the last view stays
    clock.now += linkwatch.SUBFLOWS_LOOK_S
    lw.resync()
    assert lw.view["fab1"]["exhausted"] == 0 and len(ip.batches) == 4


def test_subflows_that_resumed_by_themselves_are_left_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    ip.subflow_text = SHORT_ON_FAB1.replace("dd65(id:102)/aaaa", "dd65(id:102)/bbbb")  # every connection on fab0
    path_back(lw, clock, "fab0")
    assert lw.sync("change") and ip.batches == [("ss", [3001])]
    assert "link fab0 is back and every connection it accepted has its subflow on it: no re-add" in capsys.readouterr().out
    lw.write_status(force=True)
    fab0 = linkwatch.read_json(str(tmp_path / "status.json"))["links"]["fab0"]
    assert fab0["readded"] == 0 and fab0["readd_skipped"] == 1 and not fab0["readd_pending"]


# ---------------------------------------------------------------------------- the daemon, with fakes
class FakeIp(object):
    how = "fake ip"

    def __init__(self):
        self.batches = []
        self.present = {101: "198.18.0.11", 102: "198.18.1.11"}
        self.implicit = set()
        self.fail = None
        self.subflow_text = None  # ss failed: the daemon re-adds without knowing
        self.msk_text = ""        # ss -M: the connections' path manager counters

    def subflows(self, ports):
        self.batches.append(("ss", list(ports)))
        return self.subflow_text

    def connections(self, ports):
        return self.msk_text

    def delete(self, lines):
        self.batches.append(("delete", list(lines)))
        for line in lines:
            if self.present is not None:
                self.present.pop(int(line.split()[-1]), None)

    def add(self, lines):
        self.batches.append(("add", list(lines)))
        if self.fail:
            return False, self.fail
        for line in lines:  # as the kernel: an add without id takes an implicit endpoint's over, or the lowest free
            words = line.split()
            if self.present is None:
                continue
            if "id" in words:
                number = int(words[words.index("id") + 1])
            else:
                over = [n for n in self.present if n in self.implicit and self.present[n] == words[3]]
                number = over[0] if over else min(n for n in range(101, 256) if n not in self.present)
            self.implicit.discard(number)
            self.present[number] = words[3]
        return True, None

    def endpoints(self):
        if self.present is None:
            return None
        return dict((number, {"address": address, "implicit": number in self.implicit})
                    for number, address in self.present.items())


def daemon(tmp_path, **settings):
    cfg = dict(good(**settings), status_file=str(tmp_path / "status.json"), interval_ms=10)
    cfg = linkwatch.load_config(cfg)
    clock = Clock()
    ip = FakeIp()
    lw = linkwatch.Daemon(cfg, prober=FakeProber({}, [None], 10 ** 6), events=FakeEvents(), clock=clock,
                          wall=lambda: clock.now + 5000, ip=ip)
    return lw, ip, clock


def test_an_mptcp_daemon_has_no_nft(tmp_path):
    lw, ip, dummy = daemon(tmp_path)
    assert lw.mptcp and lw.nft is None and lw.ip is ip
    lw.restore()                                    # nothing to undo
    assert ip.batches == []


def test_a_link_back_up_gets_its_endpoints_re_added_and_the_status_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    assert lw.sync("start") and ip.batches == []   # nothing pending
    lw.handle([(("fab1", "n2"), False, "timeout")] * 3)
    assert lw.sync("change") and ip.batches == []  # down: the kernel moves the data by itself
    clock.now += 1
    lw.handle([(("fab1", "n2"), True, None)] * 5)
    assert not lw.sync("change") and ip.batches == []   # the subflows are looked at a little later
    clock.now += linkwatch.READD_CHECK_S
    ip.subflow_text = SHORT_ON_FAB1
    assert not lw.sync("change")                   # one has none on fab1: deleted now, added back later
    assert ip.batches == [("ss", [3001]), ("delete", ["mptcp endpoint delete id 102"])]
    del ip.batches[0]
    lw.write_status(force=True)
    assert linkwatch.read_json(str(tmp_path / "status.json"))["links"]["fab1"]["readd_pending"]
    clock.now += linkwatch.READD_SETTLE_S - 0.1
    assert not lw.sync("change") and len(ip.batches) == 1
    clock.now += 0.1
    ip.present[102] = "198.18.1.11"                # the peer's joins made an implicit endpoint (id 102 again)
    ip.implicit.add(102)
    assert not lw.sync("change")                   # looked at again later
    assert ip.batches[1:] == [("add", ["mptcp endpoint add 198.18.1.11 dev eth1 signal"])]
    clock.now += linkwatch.READD_VERIFY_S
    ip.subflow_text = WHOLE
    assert lw.sync("change") and ip.batches[2:] == [("ss", [3001])]
    lw.write_status(force=True)
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["kind"] == "mptcp" and "rules" not in status
    fab1, fab0 = status["links"]["fab1"], status["links"]["fab0"]
    assert fab1["endpoints"] == [{"id": 102, "address": "198.18.1.11"}] and fab1["readded"] == 1
    assert fab1["readded_at"] == 6001.0 + linkwatch.READD_CHECK_S + linkwatch.READD_SETTLE_S
    assert not fab1["readd_pending"] and fab1["readd_skipped"] == 0
    assert fab1["readd_error"] is None
    assert fab0["endpoints"] == [{"id": 101, "address": "198.18.0.11"}] and fab0["readded"] == 0
    assert fab0["readded_at"] is None
    assert status["endpoints"]["ok"] and status["endpoints"]["links"] == ["fab1"]
    assert status["peers"]["n2"]["fab1"]["state"] == "up"


def test_a_failed_re_add_is_retried_after_resync_s_and_logged_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    lw.config["resync_s"] = 2.0
    lw.handle([(("fab0", "n3"), False, "timeout")] * 3)
    lw.handle([(("fab0", "n3"), True, None)] * 5)
    ip.fail = "Error: RTNETLINK answers: No such device"
    lw.sync("change")
    clock.now += linkwatch.READD_CHECK_S
    assert not lw.sync("change") and [kind for kind, dummy in ip.batches] == ["ss", "delete"]
    del ip.batches[0]
    clock.now += linkwatch.READD_SETTLE_S
    assert not lw.sync("change") and [kind for kind, dummy in ip.batches] == ["delete", "add"]
    assert not lw.sync("change") and len(ip.batches) == 2      # waits resync_s
    lw.write_status(force=True)
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["links"]["fab0"]["readd_pending"] and "No such device" in status["links"]["fab0"]["readd_error"]
    clock.now += 2.0
    assert not lw.sync("change") and [kind for kind, dummy in ip.batches] == ["delete", "add", "delete"]
    clock.now += linkwatch.READD_SETTLE_S
    assert not lw.sync("change") and len(ip.batches) == 4       # failed again
    ip.fail = None
    clock.now += 2.0
    lw.sync("change")
    clock.now += linkwatch.READD_SETTLE_S
    assert not lw.sync("change") and [kind for kind, dummy in ip.batches][-2:] == ["delete", "add"]
    assert capsys.readouterr().out.count("endpoints of fab0 NOT re-added") == 1
    ip.subflow_text = WHOLE
    clock.now += linkwatch.READD_VERIFY_S
    assert lw.sync("change")


def fab1_back_short(lw, ip, clock, delete=True):
    """fab1's path to n2 goes down and comes back, and a connection has no subflow on it; with
    ``delete``, the look READD_CHECK_S later (which deletes the endpoint) is taken too."""
    path_back(lw, clock, "fab1")
    ip.subflow_text = SHORT_ON_FAB1
    if delete:
        lw.sync("change")


def test_an_endpoint_a_converge_put_back_between_delete_and_add_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    fab1_back_short(lw, ip, clock)
    assert 102 not in ip.present
    ip.present[102] = "198.18.1.11"                # the mptcp role's converge, in the second between
    clock.now += linkwatch.READD_SETTLE_S
    lw.sync("change")
    assert [kind for kind, dummy in ip.batches] == ["ss", "delete"] and ip.present[102] == "198.18.1.11"
    lw.write_status(force=True)
    assert linkwatch.read_json(str(tmp_path / "status.json"))["links"]["fab1"]["readd_error"] is None


def readd_round(lw, clock, settle):
    lw.sync("change")                      # deleted
    clock.now += settle
    lw.sync("change")                      # added
    clock.now += linkwatch.READD_VERIFY_S
    lw.sync("change")                      # looked at


def test_a_re_add_that_left_a_connection_short_is_repeated_a_bounded_number_of_times(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path, hold_down_s=0)
    fab1_back_short(lw, ip, clock, delete=False)   # and it stays short: the peer's delete keeps coming late
    for attempt in range(linkwatch.READD_ATTEMPTS + 1):
        readd_round(lw, clock, linkwatch.READD_SETTLE_S * 2 ** attempt)
    adds = [lines for kind, lines in ip.batches if kind == "add"]
    assert len(adds) == linkwatch.READD_ATTEMPTS, ip.batches
    out = capsys.readouterr().out
    assert out.count("still has no subflow on it after the re-add: re-adding again") == linkwatch.READD_ATTEMPTS - 1
    assert [float(line.split(" in ")[-1].split()[0]) for line in out.splitlines() if "adding them back in" in line] == [
        linkwatch.READD_SETTLE_S * 2 ** attempt for attempt in range(linkwatch.READD_ATTEMPTS)]   # the pause doubles
    assert "link fab1: some connection it accepted still has no subflow on it after %d re-adds" % linkwatch.READD_ATTEMPTS in out
    assert lw.sync("change")
    lw.write_status(force=True)
    fab1 = linkwatch.read_json(str(tmp_path / "status.json"))["links"]["fab1"]
    assert fab1["readded"] == linkwatch.READD_ATTEMPTS and not fab1["readd_pending"]
    # the next time a path of fab1 comes back, it starts from one again
    lw.handle([(("fab1", "n2"), False, "timeout")] * 3)
    lw.handle([(("fab1", "n2"), True, None)] * 5)
    lw.sync("change")
    clock.now += linkwatch.READD_CHECK_S
    lw.sync("change")
    assert "adding them back in %.1f s" % linkwatch.READD_SETTLE_S in capsys.readouterr().out
    clock.now += linkwatch.READD_SETTLE_S
    lw.sync("change")
    assert len([kind for kind, dummy in ip.batches if kind == "add"]) == linkwatch.READD_ATTEMPTS + 1
    assert lw.verifying["fab1"][1] == 1


def test_endpoints_of_ours_that_went_missing_are_re_added(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    lw, ip, clock = daemon(tmp_path)
    lw.resync()
    assert lw.sync("change") and ip.batches == []
    ip.present[107] = ip.present.pop(101)            # ours under another id: still ours
    lw.resync()
    assert lw.sync("change") and ip.batches == []
    del ip.present[107]                              # `ip mptcp endpoint flush`, another tool
    lw.resync()
    lw.sync("change")
    clock.now += linkwatch.READD_SETTLE_S
    assert not lw.sync("change")
    assert ip.batches == [("delete", []), ("add", ["mptcp endpoint add 198.18.0.11 dev eth0 signal id 101"])]
    assert "endpoint id 101 (198.18.0.11) missing: re-adding fab0" in capsys.readouterr().out
    ip.present = None                                # unreadable: nothing is assumed
    lw.resync()
    clock.now += linkwatch.READD_VERIFY_S            # and the subflows cannot be read (ss failed): done
    assert lw.sync("change") and len(ip.batches) == 3 and ip.batches[2] == ("ss", [3001])


def test_the_loop_re_adds_when_a_link_returns_and_writes_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(linkwatch, "read_carrier", lambda device: True)
    monkeypatch.setattr(linkwatch, "READD_SETTLE_S", 0.03)
    monkeypatch.setattr(linkwatch, "READD_CHECK_S", 0.02)
    cfg = linkwatch.load_config(dict(good(hold_down_s=0), status_file=str(tmp_path / "status.json"), interval_ms=10))
    box = [None]
    ip = FakeIp()
    answers = {("fab1", "n2"): [True, False, False, False] + [True] * 5}
    lw = linkwatch.Daemon(cfg, prober=FakeProber(copy.deepcopy(answers), box, 24), events=FakeEvents(), ip=ip)
    box[0] = lw
    notified = []
    lw.run(notify=notified.append, priority=lambda: "test")
    assert notified[0] == "READY=1"
    assert ip.batches == [("ss", [3001]), ("delete", ["mptcp endpoint delete id 102"]),
                          ("add", ["mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"])]
    out = capsys.readouterr().out
    assert "endpoint re-adds through fake ip" in out and "endpoints re-added (change)" in out
    assert "mptcp endpoint add 198.18.1.11 dev eth1 signal id 102" in out
    status = linkwatch.read_json(str(tmp_path / "status.json"))
    assert status["links"]["fab1"]["readded"] == 1 and status["links"]["fab0"]["readded"] == 0


def test_ip_mptcp_forces_the_deletes_and_checks_the_adds(monkeypatch):
    runs = []

    class Result(object):
        def __init__(self, code):
            self.returncode = code
            self.stdout = ""
            self.stderr = "Error: bad" if code else ""

    def fake_run(argv, **kwargs):
        runs.append((argv, kwargs["input"]))
        return Result(0 if "-force" in argv else 1)
    monkeypatch.setattr(linkwatch.subprocess, "run", fake_run)
    ok, error = linkwatch.IpMptcp("/sbin/ip").readd(["mptcp endpoint delete id 101"], ["mptcp endpoint add x"])
    assert runs == [(["/sbin/ip", "-force", "-batch", "-"], "mptcp endpoint delete id 101\n"),
                    (["/sbin/ip", "-batch", "-"], "mptcp endpoint add x\n")]
    assert not ok and error == "Error: bad"


def test_under_anchor_placement_an_accepted_subflow_is_on_its_peers_link():
    # n1's NAT took the subflows it accepted to its anchor (198.18.9.11): the peer's address names the link
    config = linkwatch.load_config(good())
    anchored = WHOLE.replace("198.18.0.11:3001", "198.18.9.11:3001").replace("198.18.1.11:3001", "198.18.9.11:3001")
    assert linkwatch.short_links(anchored, config) == []
    assert linkwatch.short_links(SHORT_ON_FAB1.replace("198.18.0.11:3001", "198.18.9.11:3001"), config) == ["fab1"]
