# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_throughput and throughput_table filters: results, errors, documentation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter import fabric_throughput as aggregate_plugin
from ansible_collections.clusterfabric.multilink.plugins.filter import throughput_table as table_plugin

LINKS = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
NODES = {"n1": {"cluster": "c1", "links": LINKS,
                "samples": [{"tick": 0, "time": 100.0, "bytes": {"fab0": [0, 0], "fab1": [0, 0]}},
                            {"tick": 1, "time": 101.0, "bytes": {"fab0": [25000000, 0], "fab1": [0, 0]}}]}}


def aggregate(*args, **kwargs):
    return aggregate_plugin.FilterModule().filters()["fabric_throughput"](*args, **kwargs)


def table(report):
    return table_plugin.FilterModule().filters()["throughput_table"](report)


def test_the_documented_example_holds():
    report = aggregate(NODES, {"c1": ["n1", "n2"]})
    cluster = report["clusters"]["c1"]
    assert cluster["hosts"] == ["n1"] and cluster["missing"] == ["n2"]
    assert cluster["nodes"]["n1"]["links"]["fab0"]["tx_mbit"] == pytest.approx(200.0)
    assert cluster["share"] == 1.0 and cluster["imbalanced"]
    assert [(flag["host"], flag["link"], flag["share"]) for flag in report["flagged"]] == \
        [(None, "fab0", 1.0), ("n1", "fab0", 1.0)]
    assert "IMBALANCED, busiest fab0" in table(report)


def test_options_are_passed_through():
    report = aggregate(NODES, {"c1": ["n1"]}, threshold=1.0, min_mbit=500.0, stale_after=5.0)
    assert report["flagged"] == [] and report["clusters"]["c1"]["idle"]
    assert (report["threshold"], report["min_mbit"], report["stale_after"]) == (1.0, 500.0, 5.0)


def test_errors_are_filter_errors_naming_the_value():
    with pytest.raises(AnsibleFilterError, match=r"^fabric_throughput: threshold must be a share .* got 1.5"):
        aggregate(NODES, {"c1": ["n1"]}, threshold=1.5)
    with pytest.raises(AnsibleFilterError, match=r"^fabric_throughput: host n1 reported samples but is in none"):
        aggregate(NODES, {"c2": ["n2"]})
    with pytest.raises(AnsibleFilterError, match=r"^throughput_table: expected the report of fabric_throughput"):
        table("text")
    with pytest.raises(AnsibleFilterError, match=r"^throughput_table: the report is incomplete \(KeyError: 'hosts'\)"):
        table({"clusters": {"c1": {"links": []}}})


@pytest.mark.parametrize("plugin, name", [(aggregate_plugin, "fabric_throughput"), (table_plugin, "throughput_table")])
def test_documentation_is_valid_yaml_with_examples(plugin, name):
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == name and "_input" in doc["options"]
    assert name in plugin.EXAMPLES and yaml.safe_load(plugin.EXAMPLES)
    assert yaml.safe_load(plugin.RETURN)["_value"]
