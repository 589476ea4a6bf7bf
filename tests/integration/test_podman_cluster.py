# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test bed itself: planned addresses, isolated links, emulated link speed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


def test_nodes_sit_on_their_planned_addresses(two_nodes):
    for host in two_nodes.hosts:
        shown = json.loads(two_nodes.run(host, "ip -j -4 addr show").stdout)
        addresses = {(i["ifname"], a["local"]) for i in shown for a in i["addr_info"]}
        for link in two_nodes.links:
            expected = (two_nodes.device(link["name"]), two_nodes.plan[host][link["name"]][0])
            assert expected in addresses


def test_each_link_is_its_own_network_and_carries_only_its_bytes(two_nodes):
    peer = two_nodes.plan["n2"]["fab1"][0]
    before = two_nodes.counters("n1")
    two_nodes.run("n1", "ping -c 20 -i 0.01 -s 1000 -W 1 %s" % peer)
    after = two_nodes.counters("n1")
    sent = dict((name, after[name]["tx"] - before[name]["tx"]) for name in after)
    assert sent["fab1"] >= 20 * 1000
    assert sent["fab0"] < 2000


def test_tbf_caps_a_link_near_its_rate(two_nodes):
    peer = two_nodes.plan["n2"]["fab0"][0]
    two_nodes.run("n2", "iperf3 -s -D -p 5299 -1")
    out = json.loads(two_nodes.run("n1", "sleep 0.3; iperf3 -J -c %s -p 5299 -t 2" % peer).stdout)
    mbit = out["end"]["sum_received"]["bits_per_second"] / 1e6
    assert 120 < mbit < 215, mbit
