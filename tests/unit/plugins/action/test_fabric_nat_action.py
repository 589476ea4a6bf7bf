# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_nat action: it computes and renders on the controller and runs the module once
with only what it applies (the program transferred when the watchdog may need it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action import fabric_nat as nat_action
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import linkwatch_program
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules

PLAN = {"n1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
        "n2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]}}
LINKS = [{"name": "fab0", "device": "eth0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "device": "eth1"}]
PUBLIC = {"plan": PLAN, "node": "n1", "links": LINKS}


class Task(object):
    action = "clusterfabric.multilink.fabric_nat"
    async_val = 0

    def __init__(self, args, check_mode):
        self.args = args
        self.check_mode = check_mode


class Shell(object):
    tmpdir = None

    @staticmethod
    def join_path(*parts):
        return "/".join(parts)


class Connection(object):
    def __init__(self):
        self._shell = Shell()


def run(args, check_mode=False, module_result=None):
    """(result, [calls]) of the action with the remote side faked."""
    plugin = nat_action.ActionModule(Task(args, check_mode), Connection(), None, None, None, None)
    calls = []

    def execute(module_name, task_vars, module_args):
        calls.append(("module", module_name, module_args))
        return dict(module_result or {"changed": True, "diff": [{"before": "", "after": "x"}]})

    def make_tmp():
        calls.append(("mktemp",))
        plugin._connection._shell.tmpdir = "/tmp/ansible-tmp-1"

    plugin._execute_module = execute
    plugin._make_tmp_path = make_tmp
    plugin._transfer_file = lambda local, remote: calls.append(("transfer", local, remote)) or remote
    plugin._fixup_perms2 = lambda paths, *args, **kwargs: calls.append(("fixup",) + tuple(paths))
    plugin._remove_tmp_path = lambda path, force=False: calls.append(("rmtemp", path))
    return plugin.run(task_vars={}), calls


def modules(calls):
    return [call[2] for call in calls if call[0] == "module"]


def test_apply_false_computes_on_the_controller_and_runs_no_module():
    result, calls = run(dict(PUBLIC, apply=False))
    assert not result.get("failed") and not result["changed"] and modules(calls) == []
    assert result["rules"]["peers"][0]["lanes"][1]["address"] == "198.18.1.12"
    assert result["ruleset"].startswith("# clusterfabric.multilink fabric_nat: node n1, backend nftables")
    assert result["diff"] == [] and result["watchdog"] == {}


def test_apply_false_iptables_returns_restore_input():
    result, dummy = run(dict(PUBLIC, apply=False, backend="iptables", weights={"fab1": "2"}, ports=["3001", 3002]))
    assert "-A CFML-n2-3002 -m statistic --mode nth --every 3 --packet 0" in result["ruleset"]
    assert result["ruleset6"] == ""


def test_the_module_gets_only_what_it_applies_once():
    result, calls = run(dict(PUBLIC, persist=False))
    assert result["changed"] and result["diff"] == [{"before": "", "after": "x"}]
    [args] = modules(calls)
    model = nat_rules.build(PLAN, "n1", LINKS)
    assert args == {"state": "present", "backend": "nftables", "persist": False,
                    "rendered": {"rules": nat_rules.node_rules(model, "nftables"), "watchdog": {"state": "absent"}}}
    assert result["rules"] == model and result["ruleset"] == nat_rules.render_nft(model)
    assert ("transfer",) not in [call[:1] for call in calls]


def test_a_precomputed_model_is_applied_as_it_is():
    model = nat_rules.build(PLAN, "n1", LINKS, ports=[3001, 3002], watchdog=True)
    result, calls = run({"model": model, "watchdog_settings": {"interval_ms": 200}}, check_mode=True)
    assert not result.get("failed"), result
    [args] = modules(calls)
    assert args["rendered"]["rules"] == nat_rules.node_rules(model, "nftables")
    assert result["watchdog"]["interval_ms"] == 200 and result["watchdog"]["ports"] == [3001, 3002]


def test_with_the_watchdog_the_program_is_transferred_once_and_the_config_checked():
    model = nat_rules.build(PLAN, "n1", LINKS, watchdog=True)
    result, calls = run({"model": model, "watchdog": True})
    [args] = modules(calls)
    watchdog = args["rendered"]["watchdog"]
    with open(linkwatch_program.PROGRAM, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert watchdog["program"] == {"sha256": digest, "src": "/tmp/ansible-tmp-1/linkwatch.py"}
    assert ("transfer", linkwatch_program.PROGRAM, "/tmp/ansible-tmp-1/linkwatch.py") in calls
    assert calls.index(("mktemp",)) < calls.index(("transfer", linkwatch_program.PROGRAM, "/tmp/ansible-tmp-1/linkwatch.py")) \
        < [call[0] for call in calls].index("module") < calls.index(("rmtemp", "/tmp/ansible-tmp-1"))
    assert json.loads(watchdog["config"]) == result["watchdog"] == nat_rules.watchdog_config(model)
    assert watchdog["config"].endswith("}\n") and "ExecStart=" in watchdog["unit"]


def test_check_mode_sends_the_program_digest_only():
    result, calls = run(dict(PUBLIC, watchdog=True), check_mode=True)
    [args] = modules(calls)
    assert "src" not in args["rendered"]["watchdog"]["program"]
    assert [call for call in calls if call[0] in ("transfer", "mktemp")] == []


@pytest.mark.parametrize("args, message", [
    (dict(PUBLIC, watchdog=True, backend="iptables"), "watchdog=true needs backend=nftables"),
    ({"model": nat_rules.build(PLAN, "n1", LINKS), "watchdog": True},
     "watchdog is True but the model was computed with watchdog False"),
    ({"model": {"node": "n1"}}, "model must be the NAT rules as the inventory contract computes them"),
    (dict(PUBLIC, model={}), "parameters are mutually exclusive: model|plan"),
    ({"node": "n1"}, "parameters are required together: plan, node, links"),
    ({}, "state is present but any of the following are missing: model, plan"),
    (dict(PUBLIC, rendered={}), "rendered is set by the action plugin, not by a task"),
    (dict(PUBLIC, links=[{"name": "fab0", "device": "eth0; drop"}]),
     "link fab0: device 'eth0; drop' is not a safe interface name"),
    (dict(PUBLIC, watchdog=True, watchdog_settings={"interval_ms": 5}),
     "watchdog configuration: interval_ms must be a number from 10 to 60000, got 5"),
    (dict(PUBLIC, watchdog=True, watchdog_settings={"probe": "arp"}),
     "watchdog configuration: probe must be one of tcp, icmp, got 'arp'"),
])
def test_refused_tasks_fail_naming_the_item_and_run_nothing(args, message):
    result, calls = run(args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert modules(calls) == []


def test_absent_needs_nothing_else_and_removes_the_watchdog_too():
    result, calls = run({"state": "absent"})
    [args] = modules(calls)
    assert args["rendered"] == {"rules": None, "watchdog": {"state": "absent"}} and result["rules"] == {}


def test_a_failure_on_the_host_keeps_the_computed_rules_in_the_result():
    result, dummy = run(PUBLIC, module_result={"failed": True, "msg": "nft -c failed"})
    assert result["failed"] and result["msg"] == "nft -c failed" and result["rules"]["node"] == "n1"
