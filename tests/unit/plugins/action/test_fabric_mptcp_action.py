# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_mptcp action: it computes the endpoints (and the watchdog's configuration) on the
controller and runs the module once with only what it applies."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action import fabric_mptcp as mptcp_action
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import linkwatch_program
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import mptcp_plan

PLAN = {"n1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
        "n2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]}}
LINKS = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PUBLIC = {"plan": PLAN, "node": "n1", "links": LINKS}
ENDPOINTS = [{"id": 101, "address": "198.18.0.11", "device": "eth0"},
             {"id": 102, "address": "198.18.1.11", "device": "eth1"}]


class Task(object):
    action = "clusterfabric.multilink.fabric_mptcp"
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
    plugin = mptcp_action.ActionModule(Task(args, check_mode), Connection(), None, None, None, None)
    calls = []

    def execute(module_name, task_vars, module_args):
        calls.append(("module", module_name, module_args))
        return dict(module_result or {"changed": True, "diff": [], "restart": [], "library": "/lib/x.so"})

    def make_tmp():
        calls.append(("mktemp",))
        plugin._connection._shell.tmpdir = "/tmp/ansible-tmp-1"

    plugin._execute_module = execute
    plugin._make_tmp_path = make_tmp
    plugin._transfer_file = lambda local, remote: calls.append(("transfer", local, remote)) or remote
    plugin._fixup_perms2 = lambda paths, *args, **kwargs: calls.append(("fixup",) + tuple(paths))
    plugin._remove_tmp_path = lambda path, force=False: calls.append(("rmtemp", path))
    return plugin.run(task_vars={"inventory_hostname": "n1"}), calls


def modules(calls):
    return [call[2] for call in calls if call[0] == "module"]


def test_apply_false_computes_on_the_controller_and_runs_no_module():
    result, calls = run(dict(PUBLIC, apply=False))
    assert not result.get("failed") and not result["changed"] and modules(calls) == []
    assert result["model"] == mptcp_plan.build(PLAN, "n1", LINKS, [3001]) and result["watchdog"] == {}


def test_the_module_gets_the_endpoints_and_limits_only_once():
    result, calls = run(dict(PUBLIC, services=["aerospike.service", "valkey.service"]))
    [args] = modules(calls)
    assert [call[1] for call in calls if call[0] == "module"] == ["clusterfabric.multilink.fabric_mptcp"]
    assert args == {"state": "present", "services": ["aerospike.service", "valkey.service"], "library": "",
                    "install_packages": True, "nat_first": False, "root": "",
                    "rendered": {"host": "n1", "watchdog": {"state": "absent"}, "endpoints": ENDPOINTS,
                                 "limits": {"subflows": 8, "add_addr_accepted": 8}}}
    assert result["changed"] and result["model"]["node"] == "n1"
    assert [call for call in calls if call[0] in ("transfer", "mktemp")] == []


def test_leave_watchdog_sends_nothing_about_it():
    result, calls = run(dict(PUBLIC, leave_watchdog=True))
    assert modules(calls)[0]["rendered"]["watchdog"] is None


def test_with_the_watchdog_the_program_is_transferred_and_the_config_is_mptcp_kind():
    model = mptcp_plan.build(PLAN, "n1", LINKS, [3001])
    result, calls = run({"model": model, "watchdog": True, "watchdog_settings": {"interval_ms": 50}})
    [args] = modules(calls)
    watchdog = args["rendered"]["watchdog"]
    with open(linkwatch_program.PROGRAM, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert watchdog["program"] == {"sha256": digest, "src": "/tmp/ansible-tmp-1/linkwatch.py"}
    assert ("transfer", linkwatch_program.PROGRAM, "/tmp/ansible-tmp-1/linkwatch.py") in calls
    config = json.loads(watchdog["config"])
    assert config == result["watchdog"] and config["kind"] == "mptcp" and config["interval_ms"] == 50
    assert config["endpoints"][1] == {"id": 102, "link": "fab1", "address": "198.18.1.11"}
    assert calls[-1] == ("rmtemp", "/tmp/ansible-tmp-1")


def test_check_mode_sends_the_program_digest_only():
    result, calls = run(dict(PUBLIC, watchdog=True), check_mode=True)
    [args] = modules(calls)
    assert "src" not in args["rendered"]["watchdog"]["program"]
    assert [call for call in calls if call[0] in ("transfer", "mktemp")] == []


@pytest.mark.parametrize("args, message", [
    ({"model": {"node": "n1"}}, "model must be the MPTCP model as the inventory contract computes it"),
    (dict(PUBLIC, model={}), "parameters are mutually exclusive: model|plan"),
    ({"node": "n1"}, "parameters are required together: plan, node, links"),
    ({}, "state is present but any of the following are missing: model, plan"),
    (dict(PUBLIC, rendered={}), "rendered is set by the action plugin, not by a task"),
    (dict(PUBLIC, links=[{"name": "fab0", "device": None}, LINKS[1]]), "link fab0 has no device"),
    (dict(PUBLIC, watchdog=True, leave_watchdog=True), "watchdog and leave_watchdog are both true"),
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
    assert args["rendered"] == {"host": "n1", "watchdog": {"state": "absent"}} and result["model"] == {}
