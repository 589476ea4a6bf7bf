# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fabric NAT on a host: read the current state, compare, validate, then apply.

What the fabric_nat module runs on the node (standard library only). The rules arrive rendered
by the module's action plugin (plugin_utils/nat_rules.py, on the controller); this file owns
the names of the objects it manages on the host, which nat_rules imports from here.

No Ansible import: every system access goes through a *host* object with

  which(name) -> path or None      run(argv, data=None) -> (rc, stdout, stderr)
  read(path) -> text or None       write(path, text, mode)      remove(path)
  exists(path) -> bool             sha256(path) -> hex or None  install(src, path, mode)

(the module passes one backed by AnsibleModule, the live tests one backed by podman exec, the
unit tests a fake; sha256 and install are needed for the link watchdog only). The whole change
is computed and validated (``nft -c``, ``iptables-restore --test``) before anything is touched,
so a ruleset the kernel refuses changes nothing; check mode stops there.

Objects owned here, and nothing else is ever flushed, deleted or rewritten:
- nftables tables ``ip clusterfabric_multilink`` / ``ip6 clusterfabric_multilink``, replaced in
  one ``nft -f`` transaction (create-then-delete preamble + the new tables);
- iptables chains ``CFML-*`` in the nat table and one jump each from OUTPUT and POSTROUTING,
  applied with ``iptables-restore --noflush`` (declaring a chain flushes only that chain);
- /etc/clusterfabric-multilink/nat.nft, nat.rules, nat6.rules (boot files), the unit
  clusterfabric-multilink-nat.service and /var/lib/clusterfabric-multilink/nat-state.json;
- the link watchdog's program, configuration and unit, enabled and running (nat_watchdog.py).

The live tables are read in one call, ``nft -j list ruleset`` (one netlink dump, retried by nft
itself when the ruleset generation changes under it). Two calls (``list tables``, then ``list
table`` per family) raced a concurrent ``nft -c`` of the same tables: a check transaction shows
its tables, empty, for an instant, so the second call failed with "No such file or directory".
A table with nothing in it is such a passing shadow (ours always hold chains) and is ignored.

nftables listings are not a stable text form (set elements come back in hash order), so
after applying a script its listing is normalised (handles dropped, element lists sorted) and
its digest recorded in the state file with the script's hash; the tables are in sync when the
script is the same and the live digest still matches. iptables rules are written exactly as
iptables-save prints them and compared directly.

With the link watchdog (rules "runtime") the peer chains' rules and the elements of the
``dead`` set belong to the watchdog at run time (it takes the lanes of a dead link out); the
digest leaves them out, so a run while a link is down neither reports a change nor puts the
dead lanes back. The watchdog notices when the module loads the tables anew (their handles
change) and re-applies its state.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.node_tools import Tools
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_watchdog

TABLE = "clusterfabric_multilink"
NFT_FAMILIES = (("ipv4", "ip"), ("ipv6", "ip6"))
IPT_PREFIX = "CFML-"
PEER_CHAIN_PREFIX = "peer_"
# The watchdog's set of dead (address, port): its elements are the watchdog's at run time.
DEAD_SET = "dead"
STATE_DIR = "/var/lib/clusterfabric-multilink"
STATE_FILE = STATE_DIR + "/nat-state.json"
PERSIST_DIR = "/etc/clusterfabric-multilink"
NFT_FILE = PERSIST_DIR + "/nat.nft"
IPT_FILES = {"ipv4": PERSIST_DIR + "/nat.rules", "ipv6": PERSIST_DIR + "/nat6.rules"}
PERSIST_FILES = (NFT_FILE, IPT_FILES["ipv4"], IPT_FILES["ipv6"])
UNIT = "clusterfabric-multilink-nat.service"
UNIT_PATH = "/etc/systemd/system/" + UNIT
DOCS_URL = "https://github.com/clusterfabric/multilink/blob/main/docs/nat.md"

# The fabric_nat module's options; the action plugin validates a task against the same spec.
OPTIONS = {
    "plan": {"type": "dict"},
    "node": {"type": "str"},
    "links": {"type": "list", "elements": "dict"},
    "ports": {"type": "list", "elements": "int", "default": [3001]},
    "primary_link": {"type": "str"},
    "mode": {"type": "str", "choices": ["nth", "random"], "default": "nth"},
    "weights": {"type": "dict"},
    "spread": {"type": "str", "choices": ["all", "primary"], "default": "all"},
    "model": {"type": "dict"},
    "backend": {"type": "str", "choices": ["nftables", "iptables"], "default": "nftables"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "apply": {"type": "bool", "default": True},
    "persist": {"type": "bool", "default": True},
    "watchdog": {"type": "bool"},
    "watchdog_settings": {"type": "dict"},
    "leave_watchdog": {"type": "bool", "default": False},
    "rendered": {"type": "dict"},
}
# Options that describe the rules; a precomputed model replaces all of them.
RULE_OPTIONS = ("plan", "node", "links", "ports", "primary_link", "mode", "weights", "spread")

PACKAGES = {
    "nft": "nftables",
    "iptables-save": "iptables", "iptables-restore": "iptables",
    "ip6tables-save": "iptables", "ip6tables-restore": "iptables",
    "iptables": "iptables", "ip6tables": "iptables",
    "systemctl": "systemd",
}
IPT_COMMAND = {"ipv4": "iptables", "ipv6": "ip6tables"}
IPT_TOOLS = {"ipv4": ("iptables-save", "iptables-restore"),
             "ipv6": ("ip6tables-save", "ip6tables-restore")}
BACKENDS = ("nftables", "iptables")
_PROBABILITY_RE = re.compile(r"--probability ([0-9.]+)")
_PLAIN_TABLE_RE = re.compile(r"table (ip|ip6) %s \{" % TABLE)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- nftables
def nft_preamble():
    """Create-then-delete each table: the delete never fails, and all of it is one transaction."""
    lines = []
    for dummy, nft_family in NFT_FAMILIES:
        lines += ["table %s %s" % (nft_family, TABLE), "delete table %s %s" % (nft_family, TABLE)]
    return lines


def nft_remove_script():
    return "\n".join(["# clusterfabric.multilink fabric_nat: remove the node's tables."] + nft_preamble()) + "\n"


def _runtime_part(item):
    """Objects the link watchdog rewrites at run time: peer chain rules, the dead set's elements."""
    rule = item.get("rule")
    return isinstance(rule, dict) and str(rule.get("chain", "")).startswith(PEER_CHAIN_PREFIX)


def _strip(value):
    if isinstance(value, dict):
        return dict((key, _strip(item) if key not in ("elem", "set") or not isinstance(item, list)
                     else sorted((_strip(x) for x in item), key=lambda x: json.dumps(x, sort_keys=True)))
                    for key, item in value.items() if key != "handle")
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def canonical(items, runtime=False):
    """Canonical form of the JSON items of a table: no handles, element lists sorted.

    ``runtime``: leave out what the link watchdog rewrites (see the module docstring)."""
    items = [item for item in items if "metainfo" not in item]
    if runtime:
        items = [item for item in items if not _runtime_part(item)]
        for item in items:
            if isinstance(item.get("set"), dict) and item["set"].get("name") == DEAD_SET:
                item["set"].pop("elem", None)
    return json.dumps(_strip(items), sort_keys=True)


def our_tables(document):
    """{nft family: [items]} of our tables in an ``nft -j list ruleset`` document, in listing order.

    A table listed without anything in it is left out: a concurrent ``nft -c`` of the same tables
    shows them so for an instant (ours always hold chains)."""
    families = [nft_family for dummy, nft_family in NFT_FAMILIES]
    tables = {}
    for item in document.get("nftables", []):
        if not isinstance(item, dict) or len(item) != 1 or "metainfo" in item:
            continue
        kind, body = next(iter(item.items()))
        if not isinstance(body, dict):
            continue
        name = body.get("name") if kind == "table" else body.get("table")
        if name == TABLE and body.get("family") in families:
            tables.setdefault(body["family"], []).append(item)
    return dict((family, items) for family, items in tables.items() if len(items) > 1)


def plain_tables(text):
    """{nft family: text} of our tables in an ``nft list ruleset`` listing (empty ones left out)."""
    tables = {}
    family = None
    for line in text.splitlines(True):
        if family is None:
            match = _PLAIN_TABLE_RE.fullmatch(line.rstrip("\n"))
            if match:
                family = match.group(1)
                tables[family] = [line]
        else:
            tables[family].append(line)
            if line.rstrip("\n") == "}":
                family = None
    return dict((name, "".join(lines)) for name, lines in tables.items()
                if any(line.strip() not in ("", "}") for line in lines[1:]))


def read_nft(tools, runtime=False):
    """{'families': [nft family, ...], 'digest': str} of our tables, read in one call.

    ``runtime``: see canonical(). nft without JSON support: the plain listing."""
    nft = tools.find("nft")
    rc, text, dummy = tools.host.run([nft, "-j", "list", "ruleset"])
    try:
        if rc != 0:
            raise ValueError(rc)
        tables = our_tables(json.loads(text))
        texts = [canonical(tables[family], runtime) for family in sorted(tables)]
    except ValueError:
        tables = plain_tables(tools.run([nft, "list", "ruleset"], what="nft list ruleset"))
        texts = [tables[family] for family in sorted(tables)]
    return {"families": sorted(tables), "digest": sha256("\n".join(texts))}


def live_listing(tools, families):
    """The plain listing of our tables (for a diff's *before*), again in one call."""
    tables = plain_tables(tools.run([tools.find("nft"), "list", "ruleset"], what="nft list ruleset"))
    return "".join(tables.get(family, "") for family in families)


def read_state(host):
    text = host.read(STATE_FILE)
    if not text:
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


# ---------------------------------------------------------------------------- iptables
def _normalise_rule(line):
    return _PROBABILITY_RE.sub(lambda m: "--probability %.6f" % float(m.group(1)), line)


def parse_iptables_save(text):
    """Our chains and the jumps to them from an ``iptables-save -t nat`` text."""
    chains = {}
    jumps = {"OUTPUT": 0, "POSTROUTING": 0}
    for line in text.splitlines():
        if line.startswith(":"):
            name = line[1:].split()[0]
            if name.startswith(IPT_PREFIX):
                chains.setdefault(name, [])
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain.startswith(IPT_PREFIX):
                chains.setdefault(chain, []).append(line.strip())
            elif chain in jumps and line.strip() == "-A %s -j %s%s" % (
                    chain, IPT_PREFIX, chain):
                jumps[chain] += 1
    return {"chains": chains, "jumps": jumps}


def iptables_text(state):
    """Comparable text of our objects: chains in name order, then the jumps."""
    lines = []
    for name in sorted(state["chains"]):
        lines.append(":%s" % name)
        lines += [_normalise_rule(line) for line in state["chains"][name]]
    for chain in ("OUTPUT", "POSTROUTING"):
        lines += ["-A %s -j %s%s" % (chain, IPT_PREFIX, chain)] * state["jumps"][chain]
    return "\n".join(lines) + "\n" if lines else ""


def read_iptables(tools, family):
    save = tools.find(IPT_TOOLS[family][0])
    if not save:
        return None
    rc, out, dummy = tools.host.run([save, "-t", "nat"])
    if rc != 0 and not out.strip():
        out = ""  # no nat table loaded at all (legacy iptables): nothing of ours
    elif rc != 0:
        raise FabricError("%s -t nat failed (rc %d)" % (save, rc))
    return parse_iptables_save(out)


def iptables_restore_input(live, wanted):
    """--noflush input turning ``live`` (parsed) into ``wanted`` ({chain: rules})."""
    lines = ["*nat"]
    lines += [":%s - [0:0]" % chain for chain in wanted]
    for body in wanted.values():
        lines += body
    for chain in ("OUTPUT", "POSTROUTING"):
        target = IPT_PREFIX + chain
        count = live["jumps"][chain]
        keep = 1 if wanted else 0
        lines += ["-D %s -j %s" % (chain, target)] * max(0, count - keep)
        if keep and not count:
            lines.append("-I %s 1 -j %s" % (chain, target))
    stale = sorted(set(live["chains"]) - set(wanted))
    lines += ["-F %s" % chain for chain in stale]
    lines += ["-X %s" % chain for chain in stale]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- systemd unit
def unit_text(backend, tools, families):
    lines = [
        "# clusterfabric.multilink fabric_nat: load this node's fabric NAT rules at boot.",
        "# Generated file; changes are overwritten.",
        "[Unit]",
        "Description=clusterfabric.multilink fabric NAT rules (%s)" % backend,
        "Documentation=%s" % DOCS_URL,
        "DefaultDependencies=no",
        "Wants=network-pre.target",
        "Before=network-pre.target shutdown.target",
        # A full-ruleset loader (nftables.service flushes the ruleset, netfilter-persistent
        # restores whole tables) must run first; when it is restarted, so are we.
        "After=local-fs.target nftables.service netfilter-persistent.service",
        "PartOf=nftables.service netfilter-persistent.service",
        "Conflicts=shutdown.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
    ]
    if backend == "nftables":
        lines.append("ExecStart=%s -f %s" % (tools.path("nft", "persist"), NFT_FILE))
    else:
        for family in families:
            binary = tools.path(IPT_COMMAND[family], "persist")
            # Remove a jump left from an earlier start, so there is always exactly one.
            for chain in ("OUTPUT", "POSTROUTING"):
                lines.append("ExecStartPre=-%s -w -t nat -D %s -j %s%s"
                             % (binary, chain, IPT_PREFIX, chain))
            restore = tools.path(IPT_TOOLS[family][1], "persist")
            lines.append("ExecStart=%s -w --noflush %s" % (restore, IPT_FILES[family]))
    lines += ["", "[Install]",
              "WantedBy=sysinit.target nftables.service netfilter-persistent.service", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the change
class Change(object):
    """Diffs, validations and actions collected first, run only when everything validated."""

    def __init__(self):
        self.diff = []
        self.validations = []
        self.actions = []

    def add(self, header, before, after, actions, validations=()):
        if before != after:
            self.diff.append({"before_header": header, "after_header": header,
                              "before": before, "after": after})
        self.validations += list(validations)
        self.actions += list(actions)

    @property
    def changed(self):
        return bool(self.actions)


def _nft_changes(change, tools, wanted):
    """Our nft tables to ``wanted`` ({script, families, runtime}; None: remove them)."""
    nft_path = tools.find("nft")
    if wanted is None and not nft_path:
        if tools.host.exists(STATE_FILE):
            change.add(STATE_FILE, "(fabric_nat state file)\n", "",
                       [lambda: tools.host.remove(STATE_FILE)])
        return
    if wanted is not None:
        nft_path = tools.need("nft", "backend nftables")
    runtime = bool(wanted and wanted.get("runtime"))
    if nft_path:
        live = read_nft(tools, runtime)
    else:  # check mode without nft
        live = {"families": [], "digest": sha256("")}
    state = read_state(tools.host)
    script = wanted["script"] if wanted else nft_remove_script()
    families = sorted(wanted["families"]) if wanted else []
    recorded = state.get("backend") == "nftables" and state.get("digest") == live["digest"]
    in_sync = live["families"] == families and (
        not families or (recorded and state.get("script_sha256") == sha256(script)))
    if in_sync:
        if not wanted and tools.host.exists(STATE_FILE):
            change.add(STATE_FILE, "(fabric_nat state file)\n", "",
                       [lambda: tools.host.remove(STATE_FILE)])
        return
    if not live["families"]:
        before = ""
    elif recorded and state.get("script"):
        before = state["script"]
    else:
        before = "# live tables (not as last applied by fabric_nat)\n" + live_listing(tools, live["families"])
    after = script if families else ""

    def apply_script():
        tools.run([nft_path, "-f", "/dev/stdin"], data=script, what="nft -f (apply)")
        if families:
            now = read_nft(tools, runtime)
            tools.host.write(STATE_FILE, json.dumps({
                "backend": "nftables", "script_sha256": sha256(script),
                "digest": now["digest"], "script": script}, indent=1, sort_keys=True) + "\n", 0o600)
        elif tools.host.exists(STATE_FILE):
            tools.host.remove(STATE_FILE)

    def validate():
        tools.run([nft_path, "-c", "-f", "/dev/stdin"], data=script,
                  what="nft -c (validation of the new ruleset; nothing was changed)")

    change.add("nftables tables %s (live)" % TABLE, before, after, [apply_script],
               [validate] if nft_path else [])


def _iptables_changes(change, tools, wanted_families):
    """Our iptables chains per family to ``wanted_families`` ({family: {chains, text}}; None: remove them)."""
    for family in ("ipv4", "ipv6"):
        wanted = (wanted_families or {}).get(family, {}).get("chains") or {}
        if wanted or (wanted_families is not None and family == "ipv4"):
            for name in IPT_TOOLS[family]:
                tools.need(name, "backend iptables")
        live = read_iptables(tools, family)
        if live is None and wanted:  # check mode without iptables-save
            live = parse_iptables_save("")
        if live is None:
            continue
        target = {"chains": wanted,
                  "jumps": dict((chain, 1 if wanted else 0) for chain in ("OUTPUT", "POSTROUTING"))}
        before, after = iptables_text(live), iptables_text(target)
        if before == after:
            continue
        data = iptables_restore_input(live, wanted)
        restore = tools.find(IPT_TOOLS[family][1])
        name = IPT_TOOLS[family][1]

        def apply_restore(restore=restore, data=data, name=name):
            tools.run([restore, "-w", "--noflush"], data=data, what="%s --noflush" % name)

        def validate(restore=restore, data=data, name=name):
            tools.run([restore, "-w", "--test", "--noflush"], data=data,
                      what="%s --test (validation of the new rules; nothing was changed)" % name)

        header = "%s nat chains %s* (live)" % ("iptables" if family == "ipv4" else "ip6tables", IPT_PREFIX)
        change.add(header, before, after, [apply_restore], [validate] if restore else [])


def _persist_changes(change, tools, files, backend, families):
    """Boot files + unit: ``files`` {path: text} wanted (None: remove everything)."""
    host = tools.host
    wanted = files or {}
    unit = unit_text(backend, tools, families) if files is not None else None
    booted = host.exists("/run/systemd/system")
    current_unit = host.read(UNIT_PATH)
    systemctl = tools.find("systemctl")
    if unit is not None:
        systemctl = tools.need("systemctl", "persist (a systemd unit loads the rules at boot)")
    enabled = False
    if systemctl and current_unit is not None:
        rc, out, dummy = host.run([systemctl, "is-enabled", UNIT])
        enabled = out.strip() == "enabled"

    # Removing: disable first, then files, then reload systemd.
    if unit is None and current_unit is not None:
        def disable():
            if systemctl:
                host.run([systemctl, "stop", UNIT])
                if enabled:
                    tools.run([systemctl, "disable", UNIT], what="systemctl disable %s" % UNIT)
        change.add("%s enabled" % UNIT, "enabled: %s\n" % ("yes" if enabled else "no"),
                   "enabled: no\n", [disable])
    for path in PERSIST_FILES:
        current, text = host.read(path), wanted.get(path)
        if current == text:
            continue
        action = (lambda path=path, text=text: host.write(path, text, 0o644)) if text is not None \
            else (lambda path=path: host.remove(path))
        change.add(path, current or "", text or "", [action])
    if current_unit != unit:
        action = (lambda: host.write(UNIT_PATH, unit, 0o644)) if unit is not None \
            else (lambda: host.remove(UNIT_PATH))
        actions = [action]
        if booted and systemctl:
            actions.append(lambda: tools.run([systemctl, "daemon-reload"],
                                             what="systemctl daemon-reload"))
        change.add(UNIT_PATH, current_unit or "", unit or "", actions)
    if unit is not None and not enabled:
        change.add("%s enabled" % UNIT, "enabled: no\n", "enabled: yes\n",
                   [lambda: tools.run([systemctl, "enable", UNIT], what="systemctl enable %s" % UNIT)])


# ---------------------------------------------------------------------------- the whole change
def converge(host, rules, backend="nftables", persist=True, check_mode=False, watchdog=None):
    """Bring the host to ``rules`` (nat_rules.node_rules(); None: remove every object of the module).

    ``watchdog``: None leaves the link watchdog alone; {"state": "absent"} stops and removes it
    (before the rules change); {"state": "present", "config": text, "unit": text, "program":
    {"sha256", "src" (the file on the host, not needed in check mode)}} installs, starts or
    restarts it (after the rules are in place).

    Returns {'changed', 'diff', 'warnings'}; raises FabricError before touching anything when a
    tool is missing or the new ruleset does not validate."""
    if backend not in BACKENDS:
        raise FabricError("backend %r must be one of %s" % (backend, ", ".join(BACKENDS)))
    tools = Tools(host, check_mode, PACKAGES, "check mode: assuming none of the module's rules exist there; "
                  "the new rules were not validated")
    change = Change()
    if watchdog is not None and watchdog.get("state") != "present":
        nat_watchdog.removal(change, tools)
    files = None
    if rules is None:
        _nft_changes(change, tools, None)
        _iptables_changes(change, tools, None)
    elif backend == "nftables":
        _nft_changes(change, tools, rules["nft"])
        _iptables_changes(change, tools, None)
        files = {NFT_FILE: rules["nft"]["script"]}
    else:
        _iptables_changes(change, tools, rules["iptables"])
        _nft_changes(change, tools, None)
        # Nothing to steer (one link per family): nothing to load at boot either.
        files = dict((IPT_FILES[family], entry["text"]) for family, entry in rules["iptables"].items()) or None
    _persist_changes(change, tools, files if persist else None, backend,
                     [family for family in ("ipv4", "ipv6") if IPT_FILES[family] in (files or {})])
    if watchdog is not None and watchdog.get("state") == "present":
        nat_watchdog.install(change, tools, watchdog, check_mode)
    for validate in change.validations:
        validate()
    if not check_mode and change.actions:
        for action in change.actions:
            action()
        # Directories the module created go when they are empty (other roles share them).
        for directory in (PERSIST_DIR, STATE_DIR, nat_watchdog.WATCHDOG_DIR):
            host.run(["rmdir", "--ignore-fail-on-non-empty", directory])  # fails when missing: fine
    return {"changed": change.changed, "diff": change.diff, "warnings": tools.warnings}
