# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link watchdog program as the controller's action plugins see it (fabric_nat in NAT mode,
fabric_mptcp in MPTCP mode): its digest and unit, its own configuration check, and the part of
a module's payload that installs, keeps or removes it.

The program lives in the nat role's files (roles/nat/files/linkwatch.py, one file shipped
verbatim to the node); it is imported here by path only to run its load_config() on a
configuration before any module writes it, so the controller and the daemon never disagree on
what a valid configuration is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import importlib.util
import json
import os

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "roles", "nat", "files")
PROGRAM = os.path.join(FILES, "linkwatch.py")
UNIT = os.path.join(FILES, "clusterfabric-linkwatch.service")
_DAEMON = {}


def daemon():
    """The watchdog as the controller knows it: the program's digest, its unit, its config check."""
    if not _DAEMON:
        with open(PROGRAM, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        with open(UNIT) as handle:
            unit = handle.read()
        spec = importlib.util.spec_from_file_location("clusterfabric_linkwatch", PROGRAM)
        program = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(program)
        _DAEMON.update(sha256=digest, unit=unit, load_config=program.load_config, error=program.ConfigError)
    return _DAEMON


def checked(config):
    """``config`` after the daemon's own check (FabricError naming what it refuses)."""
    checker = daemon()
    try:
        checker["load_config"](json.loads(json.dumps(config)))
    except checker["error"] as exc:
        raise FabricError("watchdog configuration: %s" % exc)
    return config


def payload(action, config, leave):
    """The ``watchdog`` entry of a module's ``rendered`` argument: None to leave the watchdog as
    it is (another role owns it), absent without ``config``, else its configuration, unit and
    program; the program is transferred to the host's temporary directory by ``action`` (an
    ActionBase) as the copy action does, except in check mode where its digest is enough."""
    if leave:
        return None
    if config is None:
        return {"state": "absent"}
    checker = daemon()
    watchdog = {"state": "present", "config": json.dumps(config, indent=1, sort_keys=True) + "\n",
                "unit": checker["unit"], "program": {"sha256": checker["sha256"]}}
    if not action._task.check_mode:
        shell = action._connection._shell
        if shell.tmpdir is None:
            action._make_tmp_path()
        remote = shell.join_path(shell.tmpdir, "linkwatch.py")
        action._transfer_file(PROGRAM, remote)
        action._fixup_perms2((shell.tmpdir, remote))
        watchdog["program"]["src"] = remote
    return watchdog


try:
    # Loaded once in the controller's main process (the strategy imports the action plugins
    # before it forks a worker per host), so the workers inherit it; daemon() reports a failure
    # when used.
    daemon()
except (OSError, ImportError, SyntaxError, AttributeError):
    _DAEMON.clear()
