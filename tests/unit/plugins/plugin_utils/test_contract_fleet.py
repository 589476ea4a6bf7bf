# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import contract as fleet_plan
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"}]


def fleet(clusters):
    """clusters: {name: {host: node id}} -> (groups, hostvars) as Ansible gives them."""
    groups = {"all": [], "ungrouped": []}
    hostvars = {}
    for cluster, nodes in clusters.items():
        groups[cluster] = list(nodes)
        for host, node_id in nodes.items():
            groups["all"].append(host)
            hostvars[host] = {"fabric_cluster_group": cluster, "fabric_node_id": node_id,
                              "fabric_links": copy.deepcopy(LINKS)}
    return groups, hostvars


def test_every_cluster_is_planned_with_its_own_hosts():
    groups, hostvars = fleet({"east": {"e1": 1, "e2": 2}, "west": {"w2": 2, "w1": 1}})
    out = fleet_plan.plan_fleet(groups, hostvars)
    assert sorted(out) == ["east", "west"]
    assert out["west"]["hosts"] == ["w1", "w2"]
    assert out["west"]["plan"]["w1"] == {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]}
    assert out["east"]["links"] == ["fab0", "fab1"]
    assert out["east"]["ports"] == [3001]
    assert out["east"]["strategy"] == "balanced"


def test_hosts_outside_clusters_are_ignored():
    groups, hostvars = fleet({"east": {"e1": 1}})
    groups["monitoring"] = ["prom"]
    hostvars["prom"] = {}
    assert list(fleet_plan.plan_fleet(groups, hostvars)) == ["east"]


def test_devices_may_differ_per_host():
    groups, hostvars = fleet({"east": {"e1": 1, "e2": 2}})
    hostvars["e2"]["fabric_links"][0]["device"] = "ens1f0"
    fleet_plan.plan_fleet(groups, hostvars)


@pytest.mark.parametrize("change, message", [
    (lambda g, h: h["e2"].update(fabric_cluster_group="nope"),
     r"host e2: fabric_cluster_group is \"nope\", which is not an inventory group"),
    (lambda g, h: h["e2"].update(fabric_cluster_group="all"), r"host e2: fabric_cluster_group is \"all\""),
    (lambda g, h: (g.update(west=["e2"]), h["e2"].update(fabric_cluster_group="west")),
     r"host e2 is in inventory group east .* fabric_cluster_group is \"west\": a host belongs to one cluster"),
    (lambda g, h: g["east"].remove("e2"),
     r"host e2: fabric_cluster_group is east but the host is not in inventory group east"),
    (lambda g, h: h["e2"].pop("fabric_links"), r"host e2 \(cluster east\): fabric_links is not set"),
    (lambda g, h: h["e2"]["fabric_links"][1].update(subnet="198.18.9.0/24"),
     r"host e2 \(cluster east\): fabric_links differs from host e1's \(fabric_links\[1\].subnet is "
     r"\"198.18.9.0/24\" vs \"198.18.1.0/24\"\)"),
    (lambda g, h: h["e2"].update(fabric_ports=[3001, 3002]),
     r"host e2 \(cluster east\): fabric_ports differs from host e1's \(\[3001, 3002\] vs \[3001\]\)"),
    (lambda g, h: h["e2"].update(fabric_strategy="native"),
     r"host e2 \(cluster east\): fabric_strategy differs"),
    (lambda g, h: h["e1"].update(fabric_strategy="fast"), r"host e1: fabric_strategy is \"fast\""),
    (lambda g, h: h["e1"].update(fabric_ports="3001"), r"host e1: fabric_ports must be a non-empty list"),
    (lambda g, h: h["e1"].update(fabric_ports=[0]), r"host e1: fabric_ports entry 0 is not a TCP port"),
    (lambda g, h: h["e1"].update(fabric_ports=["3001", 3001]), r"host e1: fabric_ports lists port 3001 twice"),
    (lambda g, h: h["e2"].update(fabric_node_id=1), r"cluster east: hosts e1 and e2 both have fabric_node_id 1"),
    (lambda g, h: [v["fabric_links"][1].update(subnet="198.18.0.0/25") for v in h.values()],
     r"cluster east: fabric_links: links fab0 and fab1 have overlapping subnets"),
], ids=["not-a-group", "builtin-group", "two-clusters", "not-in-its-group", "no-links",
        "links-differ", "ports-differ", "strategy-differs", "bad-strategy", "ports-string",
        "port-zero", "port-twice", "duplicate-id", "overlap"])
def test_inconsistent_inventories_are_refused_naming_host_variable_and_value(change, message):
    groups, hostvars = fleet({"east": {"e1": 1, "e2": 2}})
    change(groups, hostvars)
    with pytest.raises(FabricError, match=message):
        fleet_plan.plan_fleet(groups, hostvars)


def test_an_inventory_without_clusters_is_refused():
    with pytest.raises(FabricError, match="no host of the inventory sets fabric_cluster_group"):
        fleet_plan.plan_fleet({"all": ["a"]}, {"a": {}})


def test_digit_string_ports_are_accepted():
    groups, hostvars = fleet({"east": {"e1": 1}})
    hostvars["e1"]["fabric_ports"] = ["3001"]
    assert fleet_plan.plan_fleet(groups, hostvars)["east"]["ports"] == [3001]


def test_a_200_host_fleet_plans_in_well_under_a_second():
    clusters = dict(("c%02d" % c, dict(("c%02d-n%02d" % (c, n), n) for n in range(1, 11)))
                    for c in range(20))
    groups, hostvars = fleet(clusters)
    start = time.perf_counter()
    out = fleet_plan.plan_fleet(groups, hostvars)
    elapsed = time.perf_counter() - start
    assert sum(len(entry["hosts"]) for entry in out.values()) == 200
    # Loose bound (shared CI machine): one planner run per cluster costs milliseconds.
    assert elapsed < 2.0, elapsed
