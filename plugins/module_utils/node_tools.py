# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands a module runs on the node (nat_apply, mptcp_apply), looked up once.

need() names the package when a command is missing. In check mode that is a warning instead:
a play may install the package in an earlier task that check mode only pretends to run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


class Tools(object):
    """``packages`` {command: package}; ``check_mode_note`` ends the check-mode warning (what the
    module assumes when the command is missing)."""

    def __init__(self, host, check_mode=False, packages=None, check_mode_note="check mode: taken as nothing set"):
        self.host = host
        self.check_mode = check_mode
        self.warnings = []
        self.packages = packages or {}
        self.check_mode_note = check_mode_note
        self._paths = {}

    def find(self, name):
        if name not in self._paths:
            self._paths[name] = self.host.which(name)
        return self._paths[name]

    def missing(self, name, why):
        package = self.packages.get(name, name)
        return ("%s: the %s command is missing on this host; install the Debian package %s (apt-get install %s), "
                "or the same package of your distribution" % (why, name, package, package))

    def need(self, name, why):
        path = self.find(name)
        if not path:
            message = self.missing(name, why)
            if not self.check_mode:
                raise FabricError(message)
            self.warn("%s (%s)" % (message, self.check_mode_note))
        return path

    def path(self, name, why):
        """The command's path for a unit file; in check mode the usual one when it is missing."""
        return self.need(name, why) or "/usr/sbin/" + name

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def run(self, argv, data=None, what=None):
        rc, out, err = self.host.run(argv, data=data)
        if rc != 0:
            raise FabricError("%s failed (rc %d): %s" % (what or " ".join(argv), rc, (err or out or "").strip()))
        return out
