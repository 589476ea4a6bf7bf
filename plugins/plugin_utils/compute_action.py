# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the fabric_nat and fabric_mptcp actions: compute on the controller, apply in
one module run.

A subclass names its module (NAME), its options (OPTIONS), the options a precomputed ``model``
replaces (MODEL_OPTIONS), the keys its result always has (RESULT), and implements
``_compute(args, result)`` (what to apply; FabricError refuses the task) and
``_module(task_vars, args, *computed)`` (the one module run). ``apply: false`` stops after the
computation; ``rendered`` is the action's own argument to the module, never a task's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


class ComputeThenApply(ActionBase):
    TRANSFERS_FILES = False  # the watchdog program only, and not in check mode: see payload()
    NAME = None
    OPTIONS = {}
    MODEL_OPTIONS = ()
    RESULT = {}

    def run(self, tmp=None, task_vars=None):
        result = super(ComputeThenApply, self).run(tmp, task_vars)
        del tmp
        try:
            result.update(self._run(task_vars or {}))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _run(self, task_vars):
        if "rendered" in self._task.args:
            return {"failed": True, "msg": "%s: rendered is set by the action plugin, not by a task" % self.NAME}
        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=self.OPTIONS, mutually_exclusive=[("model", name) for name in self.MODEL_OPTIONS],
                required_together=[("plan", "node", "links")], required_if=[("state", "present", ("model", "plan"), True)])
        except AnsibleActionFail as exc:
            return {"failed": True, "msg": "%s: %s" % (self.NAME, exc)}
        result = copy.deepcopy(self.RESULT)
        try:
            computed = self._compute(args, result)
        except FabricError as exc:
            return dict(result, failed=True, msg=str(exc))
        if not args["apply"]:
            return result
        result.update(self._module(task_vars, args, *computed))
        return result

    def _compute(self, args, result):
        raise NotImplementedError

    def _module(self, task_vars, args, *computed):
        raise NotImplementedError
