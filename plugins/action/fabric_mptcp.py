# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of the fabric_mptcp module: compute on the controller, apply in one module run.

The task gives either the public options (plan, node, links, ports), from which the node's
MPTCP model is built here (plugin_utils/mptcp_plan.py), or a precomputed ``model`` (the
contract's mptcp.model, what the mptcp role passes). The link watchdog's configuration (MPTCP
mode) is computed here and checked with the watchdog's own check, as the fabric_nat action
does for NAT mode (both through plugin_utils/linkwatch_program.py), and the module runs once on the host with
only what it applies: the endpoints, the limits and, with the watchdog, its configuration,
unit and program (transferred as the copy action does, not in check mode). ``apply: false``
runs no module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.mptcp_apply import MODEL_OPTIONS, OPTIONS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import linkwatch_program, mptcp_plan

MODULE = "clusterfabric.multilink.fabric_mptcp"


def watchdog_config(model, settings):
    """The watchdog's configuration (MPTCP mode) for ``model``, checked as the daemon checks it."""
    return linkwatch_program.checked(mptcp_plan.watchdog_config(model, settings))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # the watchdog program only, and not in check mode: see _module()
    _VALID_ARGS = frozenset(OPTIONS)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            result.update(self._run(task_vars or {}))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _run(self, task_vars):
        if "rendered" in self._task.args:
            return {"failed": True, "msg": "fabric_mptcp: rendered is set by the action plugin, not by a task"}
        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=OPTIONS, mutually_exclusive=[("model", name) for name in MODEL_OPTIONS],
                required_together=[("plan", "node", "links")], required_if=[("state", "present", ("model", "plan"), True)])
        except AnsibleActionFail as exc:
            return {"failed": True, "msg": "fabric_mptcp: %s" % exc}
        result = {"changed": False, "model": {}, "watchdog": {}, "diff": [], "restart": [], "library": None}
        try:
            model, config = self._compute(args, result)
        except FabricError as exc:
            return dict(result, failed=True, msg=str(exc))
        if not args["apply"]:
            return result
        result.update(self._module(task_vars, args, model, config))
        return result

    @staticmethod
    def _compute(args, result):
        """(model, watchdog configuration or None); fills ``result``'s model and watchdog."""
        if args["watchdog"] and args["leave_watchdog"]:
            raise FabricError("watchdog and leave_watchdog are both true: run the link watchdog here, or leave it to "
                              "the role that owns it (the nat role under balanced and single)")
        if args["state"] == "absent":
            return None, None
        model = args["model"]
        if model is not None:
            mptcp_plan.check_model(model)
        else:
            model = mptcp_plan.build(args["plan"], args["node"], args["links"], args["ports"])
        result["model"] = model
        config = watchdog_config(model, args["watchdog_settings"]) if args["watchdog"] else None
        result["watchdog"] = config or {}
        return model, config

    def _module(self, task_vars, args, model, config):
        """Run the module once with what it applies (the program transferred first when it may be needed)."""
        watchdog = linkwatch_program.payload(self, config, args["leave_watchdog"])
        rendered = {"host": task_vars.get("inventory_hostname"), "watchdog": watchdog}
        if model is not None:
            rendered.update(endpoints=[{"id": e["id"], "address": e["address"], "device": e["device"]}
                                       for e in model["endpoints"]], limits=dict(model["limits"]))
        return self._execute_module(module_name=MODULE, task_vars=task_vars, module_args={
            "state": args["state"], "services": args["services"], "library": args["library"],
            "install_packages": args["install_packages"], "nat_first": args["nat_first"], "root": args["root"],
            "rendered": rendered})
