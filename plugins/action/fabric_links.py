# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of the fabric_links module: render on the controller, apply in one module run.

The task gives the render model (the contract's links_role.model); this plugin picks the
backend (asking the host once, only for auto), renders every file of that backend from the
links role's templates (plugin_utils/link_files.py) and runs the fabric_links module once with
the finished files and the manifest digests. The model itself never goes to the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_apply import OPTIONS
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import link_files

MODULE = "clusterfabric.multilink.fabric_links"
MODEL_KEYS = ("host", "links", "file_prefix")
LINK_KEYS = ("index", "device", "kind", "digest")


def check_model(model):
    """A short structural check: the model is the contract's, checked there, not here."""
    if not isinstance(model, Mapping) or any(key not in model for key in MODEL_KEYS) \
            or not isinstance(model["links"], list) \
            or any(not isinstance(link, Mapping) or any(key not in link for key in LINK_KEYS) for link in model["links"]):
        raise FabricError("model must be a render model as the inventory contract builds it "
                          "(fabric_fleet.hosts[inventory_hostname].links_role.model), with %s and links with %s"
                          % (", ".join(MODEL_KEYS), ", ".join(LINK_KEYS)))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(OPTIONS)
    _SPEC = dict(OPTIONS, model=dict(OPTIONS["model"], required=True))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            return dict(result, **self._run(task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _module(self, task_vars, args):
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def _run(self, task_vars):
        try:
            dummy, args = self.validate_argument_spec(argument_spec=self._SPEC)
        except AnsibleActionFail as exc:
            return {"failed": True, "msg": "fabric_links: %s" % exc}
        model = args["model"]
        try:
            check_model(model)
            backend, renderer = args["backend"], args["netplan_renderer"]
            if link_files.needs_detection(backend, renderer):
                found = self._module(task_vars, {"backend": "auto"})
                if found.get("failed") or "detected" not in found:
                    return found
                backend, renderer = link_files.choose_backend(
                    backend, renderer, found["detected"]["netplan"], found["detected"]["services"])
            else:
                backend, renderer = link_files.choose_backend(backend, renderer)
            files = link_files.render_files(model, backend, renderer, args["nm_port_keys"])
            digests = link_files.digests(model, backend, renderer, args["nm_port_keys"])
        except FabricError as exc:
            text = str(exc)
            if isinstance(model, Mapping) and model.get("host") and not text.startswith("host "):
                text = "host %s: %s" % (model["host"], text)
            return {"failed": True, "msg": "fabric_links: %s" % text}
        return self._module(task_vars, {
            "backend": backend, "netplan_renderer": renderer, "root": args["root"] or "/",
            "manifest": args["manifest"], "files": files, "digests": digests})
