# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of the fabric_contract module: the inventory contract, checked once for the fleet.

Runs on the controller only. It reads every fabric host's variables, validates each role's
variables against that role's meta/argument_specs.yml (so defaults are the spec's), hands the
result to plugin_utils/contract.py and returns the normalised fleet (register it as fabric_fleet).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import contract

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
_SPECS = {}


def role_spec(role):
    """The options of ``role``'s main entry point, as its meta/argument_specs.yml declares them."""
    if role not in _SPECS:
        with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")) as handle:
            _SPECS[role] = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    return _SPECS[role]


def validate_role(host, role, variables):
    """The role's parameters for ``host``: its variables as the spec types them, defaults filled in."""
    spec = role_spec(role)
    given = dict((name, variables[name]) for name in spec if name in variables)
    result = ArgumentSpecValidator(spec).validate(given)
    if result.error_messages:
        raise FabricError("host %s: %s" % (host, "; ".join(result.error_messages)))
    return result.validated_parameters


class HostView(object):
    """One host's variables, each templated when read, with that host's variables and ``hostvars``.

    Ansible's hostvars[host] templates a host's variables without ``hostvars`` (so a group
    variable such as a seed list built from ``hostvars[...]`` fails there with "'hostvars' is
    undefined") although the same variable works in a task of that host; this view templates
    as a task would."""

    def __init__(self, templar, hostvars, host):
        self._raw = hostvars.raw_get(host)
        self._templar = templar.copy_with_new_env(available_variables=dict(self._raw, hostvars=hostvars))

    def __contains__(self, name):
        return name in self._raw

    def __getitem__(self, name):
        return self._templar.template(self._raw[name])


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("roles", "hosts"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        roles = args.get("roles", list(contract.ROLES))
        if isinstance(roles, str) or not isinstance(roles, list) or any(role not in contract.ROLES for role in roles):
            return dict(result, failed=True, msg="roles: %r must be a list of %s" % (roles, ", ".join(contract.ROLES)))
        only = args.get("hosts")
        groups = dict((name, list(members)) for name, members in task_vars["groups"].items())
        hostvars = task_vars["hostvars"]
        wanted = ("fabric_nat_devices",) + contract.CONTRACT
        variables = {}
        views = {}
        for host in groups.get("all", []):
            values = views[host] = HostView(self._templar, hostvars, host)
            if "fabric_cluster_group" not in values:
                continue
            variables[host] = dict((name, values[name]) for name in wanted if name in values)
        try:
            clusters = set(variables[h].get("fabric_cluster_group") for h in (only or variables) if h in variables)
            params = {}
            for host, values in sorted(variables.items()):
                if values.get("fabric_cluster_group") not in clusters:
                    continue
                host_roles = contract._roles(host, values.get("fabric_roles"), roles)  # pylint: disable=protected-access
                params[host] = dict((role, validate_role(host, role, views[host])) for role in host_roles)
            fleet = contract.normalise(groups, variables, params, roles=roles, only=only)
        except FabricError as exc:
            return dict(result, failed=True, msg=str(exc))
        summary = dict((name, "%d hosts, %d links, strategy %s" % (len(data["hosts"]), len(data["links"]), data["strategy"]))
                       for name, data in fleet["clusters"].items())
        # A result to register, not a fact: Ansible deep-copies every host's facts on every task,
        # which would copy the whole fleet once per host and task.
        return dict(result, changed=False, summary=summary, clusters=fleet["clusters"], hosts=fleet["hosts"])
