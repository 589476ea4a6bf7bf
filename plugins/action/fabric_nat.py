# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of the fabric_nat module: compute on the controller, apply in one module run.

The task gives either the public options (plan, node, links, ...), from which the rules are
built here (plugin_utils/nat_rules.py), or a precomputed ``model`` (the contract's nat.model,
what the nat role passes). Either way the script is rendered here once, the watchdog's
configuration is computed and checked with the watchdog's own check (the program's
load_config), and the fabric_nat module runs once on the host with only what it applies: the
rendered rules and, with the watchdog, its configuration, unit and program. The program file is
transferred to the host's temporary directory as the copy action does (not in check mode, where
its digest is enough); the model itself never goes to the host. ``apply: false`` runs no module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.nat_apply import OPTIONS, RULE_OPTIONS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.compute_action import ComputeThenApply
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import linkwatch_program, nat_rules

MODULE = "clusterfabric.multilink.fabric_nat"


def watchdog_config(model, settings):
    """The watchdog's configuration for ``model``, checked as the daemon checks it when it starts."""
    return linkwatch_program.checked(nat_rules.watchdog_config(model, settings))


class ActionModule(ComputeThenApply):
    NAME = "fabric_nat"
    OPTIONS = OPTIONS
    MODEL_OPTIONS = RULE_OPTIONS
    RESULT = {"changed": False, "rules": {}, "ruleset": "", "ruleset6": "", "watchdog": {}, "diff": []}
    _VALID_ARGS = frozenset(OPTIONS)

    @staticmethod
    def _compute(args, result):
        """(rules for the node, watchdog configuration or None); fills ``result``'s rules, ruleset(6), watchdog."""
        if args["watchdog"] and args["leave_watchdog"]:
            raise FabricError("watchdog and leave_watchdog are both true: run the link watchdog here, or leave it to "
                              "the role that owns it (the mptcp role under fabric_strategy mptcp)")
        if args["state"] == "absent":
            return None, None
        backend, model = args["backend"], args["model"]
        if model is not None:
            nat_rules.check_model(model)
            watchdog = bool(model["watchdog"] if args["watchdog"] is None else args["watchdog"])
            if watchdog != bool(model["watchdog"]):
                raise FabricError("watchdog is %s but the model was computed with watchdog %s; compute it with the "
                                  "watchdog setting it is applied with" % (watchdog, bool(model["watchdog"])))
        else:
            watchdog = bool(args["watchdog"])
        if watchdog and backend != "nftables":
            raise FabricError("watchdog=true needs backend=nftables: the link watchdog rewrites the nft peer "
                              "chains; use backend nftables, or watchdog=false with iptables")
        if model is None:
            model = nat_rules.build(args["plan"], args["node"], args["links"], ports=args["ports"],
                                    primary_link=args["primary_link"], mode=args["mode"], weights=args["weights"],
                                    spread=args["spread"], watchdog=watchdog)
        result["rules"] = model
        rules = nat_rules.node_rules(model, backend)
        if rules["nft"] is not None:
            result["ruleset"] = rules["nft"]["script"]
        else:
            result["ruleset"] = rules["iptables"].get("ipv4", {}).get("text", "")
            result["ruleset6"] = rules["iptables"].get("ipv6", {}).get("text", "")
        config = watchdog_config(model, args["watchdog_settings"]) if watchdog else None
        result["watchdog"] = config or {}
        return rules, config

    def _module(self, task_vars, args, rules, config):
        """Run the module once with what it applies (the program transferred first when it may be needed)."""
        watchdog = linkwatch_program.payload(self, config, args["leave_watchdog"])
        return self._execute_module(module_name=MODULE, task_vars=task_vars, module_args={
            "state": args["state"], "backend": args["backend"], "persist": args["persist"],
            "rendered": {"rules": rules, "watchdog": watchdog}})
