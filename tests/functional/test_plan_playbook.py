# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible path end to end: real ansible-playbook / ansible-doc on the collection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_cli import run_ansible


def ansible(tool, *args):
    return run_ansible(tool, *args, ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")


def test_plan_playbook_prints_the_example_plan():
    result = ansible("ansible-playbook", "-i", "examples/inventory", "playbooks/plan.yml")
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "cluster aero_east (4 nodes, 2 links)" in out
    assert "east-db5     5  198.18.10.15  198.18.11.25" in out
    assert "west-db1     1  2001:db8:20::b  198.18.20.12 198.18.20.13" in out


@pytest.mark.parametrize("beta, message", [
    ("{fabric_node_id: 2}", "hosts alpha and beta both have fabric_node_id 2"),
    ("{}", "host beta has no fabric_node_id"),
], ids=["duplicate-id", "missing-id"])
def test_plan_playbook_stops_naming_the_host_at_fault(tmp_path, beta, message):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    c1:\n      hosts:\n"
        "        alpha: {fabric_node_id: 2}\n        beta: %s\n" % beta)
    (tmp_path / "group_vars" / "c1.yml").write_text(
        "fabric_cluster_group: c1\nfabric_links:\n  - {name: fab0, subnet: 198.18.0.0/24}\n")
    result = ansible("ansible-playbook", "-i", str(tmp_path), "playbooks/plan.yml")
    assert result.returncode != 0
    assert message in result.stdout


@pytest.mark.parametrize("name", ["fabric_addresses", "bond_slave"])
def test_ansible_doc_shows_filter_docs_with_examples(name):
    result = ansible("ansible-doc", "-t", "filter", "clusterfabric.multilink." + name)
    assert result.returncode == 0, result.stdout
    assert "EXAMPLES" in result.stdout
    assert "clusterfabric.multilink.%s" % name in result.stdout
    assert "ERROR" not in result.stdout
