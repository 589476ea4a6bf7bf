# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""link_sample's MPTCP view (what verify.yml reports under fabric_strategy mptcp): subflows from
``ss -Htni`` grouped into connections by their local token, placed on links, short connections
flagged; the MPJoin counters of /proc/net/netstat. The ss output is real (kernel 6.18, two
network namespaces, two links, two MPTCP connections from A to B's first address)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample

LINKS = [{"name": "fab0", "subnet": "10.250.0.0/24"}, {"name": "fab1", "subnet": "10.250.1.0/24"}]
INFO = "\t bbr wscale:10,10 rto:204 rtt:0.04/0.02 mss:1448 cwnd:10 snd_wnd:64512 tcp-ulp-mptcp flags:%s token:%s seq:1 maplen:0\n"
# The side that opened the connections: its first subflows have remote token 0000.
OPENER = "".join("0      0      %s %s\n" % (local, remote) + INFO % (flags, token) for local, remote, flags, token in (
    ("10.250.0.1:45318", "10.250.0.2:3001", "Mmec", "0000(id:0)/c3e3f2cc(id:0)"),
    ("10.250.0.1:45332", "10.250.0.2:3001", "Mmec", "0000(id:0)/e9dbcb38(id:0)"),
    ("10.250.1.1:37783", "10.250.1.2:3001", "Jjec", "dd659f85(id:102)/e9dbcb38(id:102)"),
    ("10.250.1.1:43973", "10.250.1.2:3001", "Jjec", "11174af8(id:102)/c3e3f2cc(id:102)")))
ACCEPTOR = "".join("0      0      %s %s\n" % (local, remote) + INFO % (flags, token) for local, remote, flags, token in (
    ("10.250.1.2:3001", "10.250.1.1:43973", "Jec", "0000(id:102)/11174af8(id:102)"),
    ("10.250.0.2:3001", "10.250.0.1:45318", "Mec", "0000(id:0)/11174af8(id:0)"),
    ("10.250.0.2:3001", "10.250.0.1:45332", "Mec", "0000(id:0)/dd659f85(id:0)"),
    ("10.250.1.2:3001", "10.250.1.1:37783", "Jec", "0000(id:102)/dd659f85(id:102)")))


def test_subflows_of_one_connection_share_the_local_token():
    sockets = link_sample.parse_subflows(OPENER)
    assert [entry[4] for entry in sockets] == ["c3e3f2cc", "e9dbcb38", "e9dbcb38", "c3e3f2cc"]
    assert str(sockets[2][0]) == "10.250.1.1" and sockets[2][1] == 37783 and sockets[2][3] == 3001


def test_every_connection_has_a_subflow_on_each_link_on_both_sides():
    for text, direction in ((OPENER, "out"), (ACCEPTOR, "in")):
        view = link_sample.mptcp_subflows(LINKS, 3001, link_sample.parse_subflows(text))
        assert view["connections"] == 2 and view["short"] == 0 and view["plain"] == 0 and view["other"] == 0, view
        assert view["opened"] == (2 if direction == "out" else 0)
        assert view["links"] == {"fab0": {"subflows": 2, "connections": 2}, "fab1": {"subflows": 2, "connections": 2}}


def test_a_connection_that_lost_its_join_is_short_and_plain_tcp_is_counted():
    lines = OPENER.splitlines(True)
    text = "".join(lines[:4] + lines[6:]) + "0      0      10.250.0.1:50000 10.250.0.2:3001\n\t cubic wscale:7,7 rto:204\n"
    view = link_sample.mptcp_subflows(LINKS, 3001, link_sample.parse_subflows(text))
    assert view["connections"] == 2 and view["short"] == 1 and view["plain"] == 1
    assert view["short_listed"] == [{"direction": "out", "peer": "10.250.0.2", "subflows": 1, "links": ["fab0"]}]


def test_mpjoin_counters():
    text = ("TcpExt: SyncookiesSent Foo\nTcpExt: 0 1\n"
            "MPTcpExt: MPCapableSYNRX MPJoinSynRx MPJoinSynAckRx MPJoinAckRx\nMPTcpExt: 4 2 3 2\n")
    assert link_sample.parse_netstat(text) == {"MPJoinSynRx": 2, "MPJoinSynAckRx": 3, "MPJoinAckRx": 2}
    assert link_sample.parse_netstat("") == {}


def test_a_plain_socket_counts_only_when_it_lasts_across_two_looks():
    probe = "0      0      10.250.0.2:3001 10.250.0.1:50000\n\t cubic wscale:7,7 rto:204\n"
    fallen_back = "0      0      10.250.1.2:3001 10.250.1.1:50002\n\t cubic wscale:7,7 rto:204\n"
    first = link_sample.parse_subflows(ACCEPTOR + fallen_back)
    second = link_sample.parse_subflows(ACCEPTOR + probe + fallen_back)
    assert link_sample.mptcp_subflows(LINKS, 3001, second)["plain"] == 2
    view = link_sample.mptcp_subflows(LINKS, 3001, second, earlier=first)
    assert view["plain"] == 1 and view["connections"] == 2 and view["short"] == 0
    assert link_sample.mptcp_subflows(LINKS, 3001, second, earlier=link_sample.parse_subflows(ACCEPTOR))["plain"] == 0
