# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link watchdog on a host: its program, configuration and unit, and its service.

Part of the one change of the module of the role that owns the watchdog under the host's
fabric_strategy (the inventory contract decides): fabric_nat (nat_apply.converge) in NAT mode,
fabric_mptcp (mptcp_apply.converge) in MPTCP mode; the other role's module leaves it alone.
Both call it with their own Change and Tools (duck-typed: change.add(header, before, after,
actions); tools.host, find, need, run). removal() goes first (stopping the daemon puts every
lane back before the rules change), install() last (the daemon works on the tables or endpoints
just put in place). The program arrives from the action plugin as a file in the host's temporary
directory (roles/nat/files/linkwatch.py of the collection) and is compared by its sha256 digest,
so check mode needs only the digest. A change of the program, configuration or unit restarts a
running daemon, which starts again from its status file (paths that are down stay down).
``services=False`` (a module writing into a staging root) handles the files only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

WATCHDOG_DIR = "/usr/local/lib/clusterfabric-multilink"
WATCHDOG_PROGRAM = WATCHDOG_DIR + "/linkwatch.py"
WATCHDOG_CONFIG = "/etc/clusterfabric-multilink/linkwatch.json"
WATCHDOG_UNIT = "clusterfabric-linkwatch.service"
WATCHDOG_UNIT_PATH = "/etc/systemd/system/" + WATCHDOG_UNIT


def unit_state(tools, unit):
    """(enabled, active) of a systemd unit; (False, False) when systemd cannot tell."""
    systemctl = tools.find("systemctl")
    if not systemctl:
        return False, False
    rc, out, dummy = tools.host.run([systemctl, "show", "--property=UnitFileState,ActiveState", unit])
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line) if rc == 0 else {}
    return fields.get("UnitFileState") == "enabled", fields.get("ActiveState") in ("active", "activating", "reloading")


def _service_text(enabled, active, note=""):
    return "enabled: %s\nactive: %s%s\n" % ("yes" if enabled else "no", "yes" if active else "no", note)


def _program_text(digest):
    return "(linkwatch.py, sha256 %s)\n" % digest if digest else ""


def removal(change, tools, services=True):
    """Stop the watchdog (it puts every lane back on the way out), then remove its files."""
    host = tools.host
    unit_file = host.read(WATCHDOG_UNIT_PATH)
    systemctl = tools.find("systemctl") if services else None
    if unit_file is not None:
        enabled, active = unit_state(tools, WATCHDOG_UNIT)
        if enabled or active:
            def stop():
                if active:
                    tools.run([systemctl, "stop", WATCHDOG_UNIT], what="systemctl stop %s" % WATCHDOG_UNIT)
                if enabled:
                    tools.run([systemctl, "disable", WATCHDOG_UNIT], what="systemctl disable %s" % WATCHDOG_UNIT)
            change.add(WATCHDOG_UNIT, _service_text(enabled, active), _service_text(False, False), [stop])
    digest = host.sha256(WATCHDOG_PROGRAM)
    if digest:
        change.add(WATCHDOG_PROGRAM, _program_text(digest), "", [lambda: host.remove(WATCHDOG_PROGRAM)])
    for path in (WATCHDOG_CONFIG, WATCHDOG_UNIT_PATH):
        current = host.read(path)
        if current is not None:
            change.add(path, current, "", [lambda path=path: host.remove(path)])
    if unit_file is not None and systemctl and host.exists("/run/systemd/system"):
        change.add(WATCHDOG_UNIT_PATH, "", "", [lambda: tools.run([systemctl, "daemon-reload"],
                                                                  what="systemctl daemon-reload")])


def install(change, tools, wanted, check_mode, module="clusterfabric.multilink.fabric_nat", services=True):
    """Program, configuration and unit as ``wanted`` says; enabled, running, restarted on a change."""
    host = tools.host
    systemctl = tools.need("systemctl", "watchdog (a systemd service runs the link watchdog)") if services else None
    program = wanted["program"]
    changed = []
    digest = host.sha256(WATCHDOG_PROGRAM)
    if digest != program["sha256"]:
        if not program.get("src") and not check_mode:
            raise FabricError("watchdog: the program differs from the installed one but was not sent; "
                              "run the task as %s (its action plugin sends it)" % module)
        change.add(WATCHDOG_PROGRAM, _program_text(digest), _program_text(program["sha256"]),
                   [lambda: host.install(program["src"], WATCHDOG_PROGRAM, 0o644)])
        changed.append("program")
    current_unit = host.read(WATCHDOG_UNIT_PATH)
    for path, current, text, what in ((WATCHDOG_CONFIG, host.read(WATCHDOG_CONFIG), wanted["config"], "configuration"),
                                      (WATCHDOG_UNIT_PATH, current_unit, wanted["unit"], "unit")):
        if current != text:
            change.add(path, current or "", text, [lambda path=path, text=text: host.write(path, text, 0o644)])
            changed.append(what)
    if "unit" in changed and systemctl and host.exists("/run/systemd/system"):
        change.add(WATCHDOG_UNIT_PATH, "", "", [lambda: tools.run([systemctl, "daemon-reload"],
                                                                  what="systemctl daemon-reload")])
    if not services:
        return
    # Without our unit file the service is not enabled and hardly running: no need to ask systemd
    # (a restart then starts it, and would also restart a daemon left running without its unit).
    enabled, active = unit_state(tools, WATCHDOG_UNIT) if current_unit is not None else (False, False)
    start = "start" if current_unit is not None else "restart"
    actions = []
    if not enabled:
        actions.append(lambda: tools.run([systemctl, "enable", WATCHDOG_UNIT], what="systemctl enable %s" % WATCHDOG_UNIT))
    if not active:
        actions.append(lambda: tools.run([systemctl, start, WATCHDOG_UNIT], what="systemctl %s %s" % (start, WATCHDOG_UNIT)))
        after = _service_text(True, True)
    elif changed:
        # The daemon starts again from its status file, so paths that are down stay down.
        actions.append(lambda: tools.run([systemctl, "restart", WATCHDOG_UNIT], what="systemctl restart %s" % WATCHDOG_UNIT))
        after = _service_text(True, True, " (restarted: its %s changed)" % " and ".join(changed))
    else:
        after = _service_text(True, True)
    change.add(WATCHDOG_UNIT, _service_text(enabled, active), after, actions)
