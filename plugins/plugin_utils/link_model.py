# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the role keys of fabric_links and build one host's render model.

The links role renders the same model into four backends, so every check lives here,
runs before any file is written, and names the host and the variable at fault. The model
is plain data (lists, dicts, strings, ints) so Jinja templates only loop and print.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import ipaddress
import json
import re
import uuid

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import validate_links
from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DEVICE_RE, DEVICE_RULE, is_int
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

FILE_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

BOND_MODES = ("active-backup", "802.3ad", "balance-xor", "balance-rr", "balance-tlb",
              "balance-alb", "broadcast")
HASH_POLICIES = ("layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4", "vlan+srcmac")
LACP_RATES = ("slow", "fast")
# Modes in which the bonding driver reads the option (Documentation/networking/bonding.rst).
MODES_USING_HASH = ("802.3ad", "balance-xor", "balance-tlb")
MODES_USING_PRIMARY = ("active-backup", "balance-tlb", "balance-alb")
MODES_USING_LACP = ("802.3ad",)
BOND_KEYS = ("mode", "members", "miimon", "primary", "xmit_hash_policy", "lacp_rate")

MTU_RANGE = {4: (576, 9216), 6: (1280, 9216)}
RESERVED_TABLES = (0, 253, 254, 255)
MAX_TABLE = 4294967295

DEFAULT_OPTIONS = {
    "miimon": 100,
    "table_base": 1000,
    "rule_priority": 1000,
    "route_metric": 100,
    "file_prefix": "10-fabric",
}

# Fixed namespace so a profile's UUID depends only on host and profile name (idempotent runs).
_UUID_NAMESPACE = uuid.UUID("8f0c5a52-3d1e-4c1b-9a57-6c4b1f2e9d10")


class _Where(object):
    """Builds error messages that name the host and the variable."""

    def __init__(self, host, index, name=None):
        self.host = host
        self.variable = "fabric_links[%d]" % index
        if name:
            self.variable += " (link %s)" % name

    def fail(self, key, text):
        raise FabricError("host %s: %s.%s %s" % (self.host, self.variable, key, text))


def check_device(where, key, value):
    """The one interface-name rule of module_utils/checks.py (also for bond members)."""
    if not isinstance(value, str):
        where.fail(key, "must be an interface name (a string), got %r" % (value,))
    if not DEVICE_RE.fullmatch(value):
        where.fail(key, "%r is not a valid interface name: use %s" % (value, DEVICE_RULE))
    return value


def _check_int(where, key, value, low, high):
    if not is_int(value) or value < low or value > high:
        where.fail(key, "must be an integer from %d to %d, got %r" % (low, high, value))
    return value


def _check_bond(where, bond, miimon_default):
    if not isinstance(bond, Mapping):
        where.fail("bond", "must be a mapping with mode and members, got %r" % (bond,))
    unknown = sorted(str(key) for key in bond if key not in BOND_KEYS)
    if unknown:
        where.fail("bond", "has unknown key(s) %s (known: %s)" % (", ".join(unknown), ", ".join(BOND_KEYS)))
    mode = bond.get("mode")
    if mode not in BOND_MODES:
        where.fail("bond.mode", "%r is not a bond mode; use one of %s" % (mode, ", ".join(BOND_MODES)))
    members = bond.get("members")
    if isinstance(members, (str, bytes)) or not isinstance(members, (list, tuple)) or not members:
        where.fail("bond.members", "must be a non-empty list of interface names, got %r" % (members,))
    seen = set()
    for position, member in enumerate(members):
        check_device(where, "bond.members[%d]" % position, member)
        if member in seen:
            where.fail("bond.members", "lists %s twice" % member)
        seen.add(member)
    miimon = bond.get("miimon", miimon_default)
    _check_int(where, "bond.miimon", miimon, 0, 2147483647)
    result = {"mode": mode, "members": list(members), "miimon": miimon,
              "primary": None, "xmit_hash_policy": None, "lacp_rate": None}
    primary = bond.get("primary")
    if primary is not None:
        if mode not in MODES_USING_PRIMARY:
            where.fail("bond.primary", "is set but mode %s ignores it (only %s use a primary)"
                       % (mode, ", ".join(MODES_USING_PRIMARY)))
        if primary not in members:
            where.fail("bond.primary", "%r is not one of the bond members %s" % (primary, ", ".join(members)))
        result["primary"] = primary
    policy = bond.get("xmit_hash_policy")
    if policy is not None:
        if policy not in HASH_POLICIES:
            where.fail("bond.xmit_hash_policy", "%r is not a transmit hash policy; use one of %s"
                       % (policy, ", ".join(HASH_POLICIES)))
        if mode not in MODES_USING_HASH:
            where.fail("bond.xmit_hash_policy", "is set but mode %s ignores it (only %s hash)"
                       % (mode, ", ".join(MODES_USING_HASH)))
        result["xmit_hash_policy"] = policy
    rate = bond.get("lacp_rate")
    if rate is not None:
        if rate not in LACP_RATES:
            where.fail("bond.lacp_rate", "%r is not slow or fast" % (rate,))
        if mode not in MODES_USING_LACP:
            where.fail("bond.lacp_rate", "is set but mode %s does not run LACP (only 802.3ad does)" % mode)
        result["lacp_rate"] = rate
    return result


def _check_bond_hash(where, spec, bond):
    """The planner's bond_hash only pays off if the bond really hashes that way."""
    bond_hash = spec.get("bond_hash")
    if not bond_hash:
        return
    if bond is None:
        where.fail("bond_hash", "is set but the link has no bond")
    if bond["mode"] not in ("802.3ad", "balance-xor"):
        where.fail("bond_hash", "plans for a hashing bond but bond.mode is %s" % bond["mode"])
    if bond["xmit_hash_policy"] != bond_hash.get("policy"):
        where.fail("bond.xmit_hash_policy", "is %s but bond_hash plans for %s; set them equal (the "
                   "kernel default is layer2)" % (bond["xmit_hash_policy"], bond_hash.get("policy")))
    if len(bond["members"]) != bond_hash.get("slaves"):
        where.fail("bond.members", "has %d members but bond_hash.slaves is %r"
                   % (len(bond["members"]), bond_hash.get("slaves")))


def _check_routing(where, spec, link, own):
    gateway = spec.get("gateway")
    routes = spec.get("routes")
    if gateway is None:
        if routes:
            where.fail("routes", "needs a gateway on the same link")
        return None, []
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        where.fail("gateway", "%r is not an IP address" % (gateway,))
    subnet = ipaddress.ip_network(str(link.subnet))
    if gw.version != subnet.version or gw not in subnet or gw in (subnet.network_address, subnet.broadcast_address):
        where.fail("gateway", "%s is not a host address inside the link's subnet %s" % (gateway, subnet))
    if str(gw) in own:
        where.fail("gateway", "%s is this host's own address on the link" % gateway)
    if routes is None:
        routes = []
    if isinstance(routes, (str, bytes)) or not isinstance(routes, (list, tuple)):
        where.fail("routes", "must be a list of CIDR prefixes, got %r" % (routes,))
    parsed = []
    for position, route in enumerate(routes):
        try:
            net = ipaddress.ip_network(route)
        except (ValueError, TypeError):
            where.fail("routes[%d]" % position, "%r is not a CIDR prefix without host bits" % (route,))
        if net.version != subnet.version:
            where.fail("routes[%d]" % position, "%s is not an IPv%d prefix like the link" % (route, subnet.version))
        if net.prefixlen == 0:
            where.fail("routes[%d]" % position, "is a default route; the gateway alone already gives "
                       "the link's own table a default route, and the main table's default route "
                       "belongs to the management interface")
        if str(net) in parsed:
            where.fail("routes", "lists %s twice" % net)
        parsed.append(str(net))
    return str(gw), parsed


def _option(options, key):
    value = options.get(key)
    return DEFAULT_OPTIONS[key] if value is None else value


def _check_options(host, options):
    for key in ("miimon", "table_base", "rule_priority", "route_metric"):
        value = _option(options, key)
        if not is_int(value) or value < 0:
            raise FabricError("host %s: fabric_links_%s must be an integer >= 0, got %r" % (host, key, value))
    prefix = _option(options, "file_prefix")
    if not isinstance(prefix, str) or not FILE_PREFIX_RE.fullmatch(prefix):
        raise FabricError("host %s: fabric_links_file_prefix %r may hold only letters, digits, '_' and '-' "
                          "(at most 32, starting with a letter or digit)" % (host, prefix))


def build_model(host, links, plan, options=None):
    """Validate fabric_links for host and return its render model.

    ``plan`` is the fabric_addresses result for the cluster; ``options`` holds the role's
    miimon, table_base, rule_priority, route_metric and file_prefix (None means default).
    """
    options = dict(options or {})
    _check_options(host, options)
    parsed = validate_links(links)
    if not isinstance(plan, Mapping) or host not in plan:
        raise FabricError("host %s is not in the fabric plan; is it a member of the group named by "
                          "fabric_cluster_group, with a fabric_node_id?" % host)
    owner = {}  # interface name -> what claims it, for clash messages
    model_links = []
    for index, (spec, link) in enumerate(zip(links, parsed)):
        where = _Where(host, index, link.name)
        device = check_device(where, "device", spec.get("device"))
        if device in owner:
            where.fail("device", "%s is already used by %s" % (device, owner[device]))
        owner[device] = "%s.device" % where.variable
        mtu = spec.get("mtu")
        if mtu is not None:
            low, high = MTU_RANGE[link.version]
            _check_int(where, "mtu", mtu, low, high)
        bond = None
        if spec.get("bond") is not None:
            bond = _check_bond(where, spec["bond"], _option(options, "miimon"))
            for member in bond["members"]:
                if member in owner:
                    where.fail("bond.members", "%s is already used by %s" % (member, owner[member]))
                owner[member] = "%s.bond.members" % where.variable
        _check_bond_hash(where, spec, bond)
        sources = list(plan[host].get(link.name, []))
        if not sources:
            raise FabricError("host %s: the fabric plan has no address on link %s" % (host, link.name))
        gateway, routes = _check_routing(where, spec, link, sources)
        table = None
        if gateway is not None:
            table = spec.get("table", _option(options, "table_base") + index + 1)
            _check_int(where, "table", table, 1, MAX_TABLE)
            if table in RESERVED_TABLES:
                where.fail("table", "%d is a reserved routing table (default, main or local)" % table)
        entry = {
            "name": link.name,
            "index": index,
            "device": device,
            "kind": "bond" if bond else "plain",
            "family": link.version,
            "subnet": str(link.subnet),
            "prefixlen": link.subnet.prefixlen,
            "sources": sources,
            "addresses": ["%s/%d" % (address, link.subnet.prefixlen) for address in sources],
            "mtu": mtu,
            "bond": bond,
            "gateway": gateway,
            "routes": routes,
            "table": table,
            "rule_priority": _option(options, "rule_priority"),
            "metric": _option(options, "route_metric") + index,
        }
        entry["digest"] = hashlib.sha256(json.dumps(entry, sort_keys=True).encode("utf-8")).hexdigest()[:16]
        model_links.append(entry)
    tables = {}
    for entry in model_links:
        if entry["table"] is not None:
            if entry["table"] in tables:
                raise FabricError("host %s: fabric_links[%d] (link %s).table %d is also the table of link %s"
                                  % (host, entry["index"], entry["name"], entry["table"], tables[entry["table"]]))
            tables[entry["table"]] = entry["name"]
    return {"host": host, "links": model_links, "file_prefix": _option(options, "file_prefix")}


def profile_uuid(host, profile):
    """A NetworkManager connection UUID that stays the same for the same host and profile."""
    return str(uuid.uuid5(_UUID_NAMESPACE, "%s/%s" % (host, profile)))
