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

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.mptcp_apply import MODEL_OPTIONS, OPTIONS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.compute_action import ComputeThenApply
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import linkwatch_program, mptcp_plan

MODULE = "clusterfabric.multilink.fabric_mptcp"


def watchdog_config(model, settings):
    """The watchdog's configuration (MPTCP mode) for ``model``, checked as the daemon checks it."""
    return linkwatch_program.checked(mptcp_plan.watchdog_config(model, settings))


class ActionModule(ComputeThenApply):
    NAME = "fabric_mptcp"
    OPTIONS = OPTIONS
    MODEL_OPTIONS = MODEL_OPTIONS
    RESULT = {"changed": False, "model": {}, "watchdog": {}, "diff": [], "restart": [], "library": None}
    _VALID_ARGS = frozenset(OPTIONS)

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
            anchor = model.get("anchor")
            if anchor:
                services = args["services"]
                rendered["anchor"] = {"address": anchor["address"], "subnet": anchor["subnet"], "device": anchor["device"],
                                      "nft": mptcp_plan.render_anchor_nft(model),
                                      "service": args["anchor_service"] or (services[0] if services else None)}
        return self._execute_module(module_name=MODULE, task_vars=task_vars, module_args={
            "state": args["state"], "services": args["services"], "library": args["library"],
            "install_packages": args["install_packages"], "nat_first": args["nat_first"], "root": args["root"],
            "rendered": rendered})
