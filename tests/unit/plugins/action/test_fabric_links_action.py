# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_links action: what it sends the module, and how many module runs it costs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.clusterfabric.multilink.plugins.action.fabric_links import ActionModule
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import build_model

LINKS = [{"name": "fab0", "subnet": "198.18.64.0/24", "device": "eth1"},
         {"name": "fab1", "subnet": "198.18.65.0/24", "device": "bond1",
          "bond": {"mode": "active-backup", "members": ["eth2", "eth3"]}}]
MODEL = build_model("n1", LINKS, plan_addresses({"n1": 1}, LINKS))
RUNNING = {"state": "running", "status": "enabled"}


class Task(object):
    def __init__(self, args):
        self.args = args


def action(args, detected=None, applied=None):
    """An ActionModule whose module runs are recorded instead of executed."""
    plugin = object.__new__(ActionModule)
    plugin._task = Task(args)  # pylint: disable=protected-access
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, copy.deepcopy(module_args)))
        if module_args.get("files") is None:
            return {"changed": False, "detected": detected}
        return dict(applied or {"changed": True, "changed_devices": ["eth1", "bond1"]})
    plugin._execute_module = execute  # pylint: disable=protected-access
    return plugin, calls


def run(args, **kwargs):
    plugin, calls = action(args, **kwargs)
    return plugin._run({}), calls  # pylint: disable=protected-access


def test_an_explicit_backend_costs_one_module_run_without_the_model():
    result, calls = run({"model": MODEL, "backend": "networkd", "root": "/tmp/x"})
    assert result["changed_devices"] == ["eth1", "bond1"]
    assert len(calls) == 1
    name, args = calls[0]
    assert name == "clusterfabric.multilink.fabric_links" and "model" not in args
    assert args["backend"] == "networkd" and args["netplan_renderer"] == "auto" and args["root"] == "/tmp/x"
    assert args["manifest"] == "/var/lib/clusterfabric-multilink/links-manifest.json"
    assert [f["path"].rsplit("/", 1)[1] for f in args["files"]] == [
        "10-fabric-eth1.network", "10-fabric-bond1.netdev", "10-fabric-eth2.network", "10-fabric-eth3.network",
        "10-fabric-bond1.network"]
    assert args["files"][0]["content"].startswith("# Written by clusterfabric.multilink.links (fabric link fab0)")
    assert args["digests"] == ["eth1=networkd:auto:master:%s" % MODEL["links"][0]["digest"],
                               "bond1=networkd:auto:master:%s" % MODEL["links"][1]["digest"]]


def test_the_live_root_is_sent_as_slash():
    dummy, calls = run({"model": MODEL, "backend": "ifupdown", "root": ""})
    assert calls[0][1]["root"] == "/"


def test_auto_asks_the_host_once_then_applies():
    result, calls = run({"model": MODEL}, detected={"netplan": False, "services": {"NetworkManager.service": RUNNING}})
    assert [args.get("files") is None for dummy, args in calls] == [True, False]
    assert calls[0][1] == {"backend": "auto"}
    assert calls[1][1]["backend"] == "networkmanager" and calls[1][1]["netplan_renderer"] == "NetworkManager"
    assert not result.get("failed")


def test_netplan_with_renderer_auto_detects_the_renderer_only():
    dummy, calls = run({"model": MODEL, "backend": "netplan"}, detected={"netplan": False, "services": {}})
    assert len(calls) == 2 and calls[1][1]["backend"] == "netplan" and calls[1][1]["netplan_renderer"] == "networkd"
    assert "  renderer: networkd\n" in calls[1][1]["files"][0]["content"]


def test_nothing_found_names_the_host_and_applies_nothing():
    result, calls = run({"model": MODEL}, detected={"netplan": False, "services": {}})
    assert result["failed"] and len(calls) == 1
    assert result["msg"].startswith("fabric_links: host n1: fabric_links_backend auto: found no netplan")


@pytest.mark.parametrize("args, message", [
    ({"backend": "networkd"}, "missing required arguments: model"),
    ({"model": MODEL, "backend": "systemd"}, "backend must be one of"),
    ({"model": MODEL, "files": []}, "files"),
    ({"model": {"host": "n1"}}, "model must be a render model as the inventory contract builds it"),
    ({"model": dict(MODEL, links=[{"index": 0, "device": "eth1", "kind": "bond", "digest": "x"}]), "backend": "networkd"},
     "host n1: the render model does not fit the networkd templates"),
])
def test_refused_input_runs_no_module(args, message):
    result, calls = run(args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert calls == []
