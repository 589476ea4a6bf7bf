# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test bed itself (tests/lib/testbed, docs/testbed.md), on one cluster that uses every
feature: an IPv4 link with two lanes per node (addresses_per_node 2), an IPv6 link at its own
rate, a management network. Each check compares what the nodes show with what the inventory
and the collection's planner say, so a bed that lays out or shapes its links wrongly fails.

Containers and networks: cfm-tb-*, links 198.18.6.0/24 and 2001:2:0:20::/64, management
198.18.7.0/24.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import subprocess

import pytest

from testbed import podman as tb_podman

LINKS = [
    {"name": "fab0", "subnet": "198.18.6.0/24", "device": "eth0", "addresses_per_node": 2},
    {"name": "fab1", "subnet": "2001:2:0:20::/64", "device": "eth1"},
]
RATES = {"fab0": 200, "fab1": 100}
MGMT = {"n1": "198.18.7.11", "n2": "198.18.7.12"}


@pytest.fixture(scope="module")
def bed(testbed):
    cluster = testbed("tb", "cfm-tb", {"n1": 1, "n2": 2}, {
        "fabric_links": LINKS, "testbed_rate_mbit": RATES["fab0"], "testbed_link_rates": {"fab1": RATES["fab1"]},
        "testbed_mgmt_subnet": "198.18.7.0/24"},
        {host: {"testbed_mgmt_address": address} for host, address in MGMT.items()})
    yield cluster
    cluster.down()


def shown(bed, host):
    """{device: [(family, address)]} of the global addresses in ``host``."""
    out = {}
    for iface in json.loads(bed.run(host, "ip -j addr show").stdout):
        out[iface["ifname"]] = sorted((a["family"], a["local"]) for a in iface.get("addr_info", [])
                                      if a.get("scope") == "global")
    return out


def test_every_lane_of_the_plan_and_nothing_else_sits_on_its_device(bed):
    assert [len(bed.plan["n1"][link["name"]]) for link in LINKS] == [2, 1]
    for host in bed.hosts:
        found = shown(bed, host)
        for link in LINKS:
            family = "inet6" if ":" in link["subnet"] else "inet"
            # an IPv6 link: podman's automatic IPv4 address is gone
            assert found[link["device"]] == sorted((family, address) for address in bed.plan[host][link["name"]]), found
        assert found["mgmt0"] == [("inet", MGMT[host])], found


def test_each_link_is_an_internal_network_carrying_only_its_own_bytes(bed):
    for link in LINKS:
        network = json.loads(tb_podman.podman("network", "inspect", "cfm-tb-%s" % link["name"]).stdout)[0]
        assert network["internal"] is True
        assert link["subnet"] in [subnet["subnet"] for subnet in network["subnets"]], network["subnets"]
    for link, other, command in (
            ("fab0", "fab1", "ping -c 20 -i 0.01 -s 1000 -W 1 -I %s %s" % (bed.plan["n1"]["fab0"][1], bed.plan["n2"]["fab0"][1])),
            ("fab1", "fab0", "ping -6 -c 20 -i 0.01 -s 1000 -W 1 %s" % bed.plan["n2"]["fab1"][0])):
        before = bed.counters("n1")
        bed.run("n1", command)
        after = bed.counters("n1")
        sent = dict((name, after[name]["tx"] - before[name]["tx"]) for name in after)
        assert sent[link] >= 20 * 1000 and sent[other] < 2000, (link, sent)


def test_the_controller_reaches_the_nodes_on_the_management_network(bed):
    for host, address in MGMT.items():
        assert bed.mgmt_address(host) == address
        ping = subprocess.run(["ping", "-c", "1", "-W", "2", address], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        assert ping.returncode == 0, ping.stdout
    bridge = tb_podman.podman("network", "inspect", "--format", "{{.NetworkInterface}}", "cfm-tb-mgmt").stdout.strip()
    held = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", bridge], stdout=subprocess.PIPE,
                                     universal_newlines=True, check=True).stdout)[0]["addr_info"]
    assert "198.18.7.1" in [a["local"] for a in held], held
    # the node's own view: the controller is the management subnet's first address
    bed.run("n1", "ping -c 1 -W 2 -I mgmt0 198.18.7.1")


def test_tbf_caps_every_link_near_its_own_rate(bed):
    ports = {"fab0": 5301, "fab1": 5302}
    for port in ports.values():
        bed.run("n2", "iperf3 -s -D -1 -p %d" % port)
    for port in ports.values():
        bed.wait_listening("n2", port)
    # both links at once: each has its own device and qdisc
    text = bed.run("n1", "iperf3 -J -c %s -p %d -t 2 > /tmp/fab0.json & iperf3 -J -c %s -p %d -t 2 > /tmp/fab1.json; wait; "
                         "cat /tmp/fab0.json; echo '@@'; cat /tmp/fab1.json" % (
                             bed.plan["n2"]["fab0"][0], ports["fab0"], bed.plan["n2"]["fab1"][0], ports["fab1"])).stdout
    results = dict(zip(("fab0", "fab1"), (json.loads(part) for part in text.split("@@"))))
    mbit = dict((link, round(result["end"]["sum_received"]["bits_per_second"] / 1e6, 1)) for link, result in results.items())
    print("tbf: %s Mbit/s (rates %s)" % (mbit, RATES))
    for link, rate in RATES.items():
        assert 0.6 * rate < mbit[link] < 1.08 * rate, (link, mbit, RATES)
    for link in LINKS:
        qdisc = json.loads(bed.run("n1", "tc -j qdisc show dev %s root" % link["device"]).stdout)[0]
        assert qdisc["kind"] == "tbf", qdisc
