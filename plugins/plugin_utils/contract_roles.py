# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' part of the inventory contract: one normalised block per host and role.

``params`` are a role's variables as its meta/argument_specs.yml validated them (types,
choices, defaults filled in by the fabric_contract action); here come the checks a spec cannot
express and everything the role's module needs, computed once per host and run:

- ``links_role``: the render model of the host's links (link_model.py) and the role's settings;
- ``nat``: state, backend, the watchdog settings and the NAT rules (nat_rules.py) when present;
- ``mptcp``: state, the wrapped services, the endpoints and limits (mptcp_plan.py) when present;
- ``aerospike``: the whole aerospike.conf as data, checked value by value, and the file settings.

The link watchdog (roles/nat/files/linkwatch.py) has one owner per strategy (WATCHDOG_OWNER):
the nat role under balanced and single (NAT mode), the mptcp role under mptcp (MPTCP mode),
nobody under native. Both blocks carry ``watchdog_owner``; the role that does not own it leaves
it alone, so two roles never install and remove it in turn.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_conf
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import mptcp_plan, nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import aerospike_network, link_model

ROLES = ("links", "nat", "mptcp", "aerospike")
BLOCKS = {"links": "links_role", "nat": "nat", "mptcp": "mptcp", "aerospike": "aerospike"}
# Which role runs the link watchdog under each fabric_strategy (see the module docstring).
WATCHDOG_OWNER = {"balanced": "nat", "single": "nat", "mptcp": "mptcp", "native": None}
# A systemd service the mptcp role wraps (a drop-in per service), and the LD_PRELOAD library path
# it may be given: nothing systemd would read as a specifier, a quote or a second assignment.
SERVICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.@-]{0,240}\.service")
LIBRARY_RE = re.compile(r"/[A-Za-z0-9._+/-]{1,1000}")
# Where each context of aerospike.conf comes from, for messages.
AEROSPIKE_SOURCES = {
    "service": "aerospike_service",
    "logging": "aerospike_logging",
    "network": "aerospike_network (and the aerospike_* network variables)",
    "namespace": "aerospike_namespaces",
    "mod-lua": "aerospike_mod_lua",
    "security": "aerospike_security",
    "xdr": "aerospike_xdr",
}
# The daemon's own limits (roles/nat/files/linkwatch.py SETTINGS; a unit test keeps them equal),
# checked here so that a bad value names the host and the variable before any host changes.
WATCHDOG_LIMITS = {  # name: (variable, low, high)
    "interval_ms": ("fabric_nat_watchdog_interval_ms", 10, 60000),
    "timeout_ms": ("fabric_nat_watchdog_timeout_ms", 0, 60000),
    "down_after": ("fabric_nat_watchdog_down_after", 1, 1000),
    "up_after": ("fabric_nat_watchdog_up_after", 1, 1000),
}
NAT_VARIABLES = (("weights", "fabric_nat_weights"), ("primary_link", "fabric_nat_primary_link"),
                 ("mode", "fabric_nat_mode"))


def build(role, host, entry, cluster, fabric_links, params):
    """The ``role`` block of ``host`` (see the module docstring)."""
    return {"links": _links, "nat": _nat, "mptcp": _mptcp, "aerospike": _aerospike}[role](
        host, entry, cluster, fabric_links, params)


def link_blocks(entry, host=None, requested=ROLES):
    """What one role's block takes from another's, once every block of the host is built: the
    mptcp role's opt-in restart of the Aerospike service waits as the aerospike role's does.

    Under mptcp, what cannot work is refused here: the aerospike role without the mptcp role in
    fabric_roles (when the run is asked for both: ``requested``, what site.yml or the task asks
    for), and, with both, an Aerospike service the
    mptcp role does not wrap (its sockets stay plain TCP), and a fabric that does not listen on
    every fabric address of the node (aerospike_network.fabric.address: the peers' joins to an
    address the server does not bind are answered with a reset, so no extra subflow)."""
    mptcp, aerospike = entry.get("mptcp"), entry.get("aerospike")
    if entry["strategy"] == "mptcp" and "mptcp" in requested and "aerospike" in entry["roles"] \
            and "mptcp" not in entry["roles"]:
        raise FabricError("host %s: fabric_strategy mptcp with the aerospike role but without the mptcp role in "
                          "fabric_roles %s: nothing would make Aerospike open Multipath TCP sockets, and its "
                          "connections would stay on one link each; add mptcp to fabric_roles" % (host, entry["roles"]))
    if not mptcp or not aerospike:
        return
    service = aerospike["service_name"]
    unit = service if service.endswith(".service") else service + ".service"
    if mptcp["state"] == "present":
        if unit not in mptcp["services"]:
            raise FabricError("host %s: fabric_strategy mptcp with the aerospike role: aerospike_service_name %s is "
                              "not in fabric_mptcp_services %s, so Aerospike would keep opening plain TCP sockets; "
                              "add %s to fabric_mptcp_services" % (host, unit, mptcp["services"], unit))
        fabric = (aerospike["config"].get("network") or {}).get("fabric") or {}
        bound = fabric.get("address")
        bound = [bound] if isinstance(bound, str) else list(bound or [])
        anchor = mptcp["model"].get("anchor")
        if anchor:
            mptcp["anchor_service"] = unit
            if bound != [anchor["address"]]:
                raise FabricError("host %s: fabric_mptcp_anchor_subnet: the Aerospike fabric must bind and publish the "
                                  "anchor %s alone, but aerospike_network.fabric.address is %s; leave fabric.address "
                                  "to the collection" % (host, anchor["address"], bound))
        missing = [e["address"] for e in mptcp["model"]["endpoints"] if e["address"] not in bound]
        if not anchor and bound and "any" not in bound and "0.0.0.0" not in bound and "::" not in bound and missing:
            raise FabricError("host %s: fabric_strategy mptcp: the Aerospike fabric does not listen on %s "
                              "(aerospike_network.fabric.address is %s): a peer's MPTCP join to an address the "
                              "server does not bind is reset, so that link carries no subflow; leave "
                              "fabric.address to the collection (every fabric address)" % (host, ", ".join(missing), bound))
    if not mptcp["restart"] or aerospike["restart_wait"] == "none":
        return
    if unit in mptcp["services"]:
        mptcp["restart_wait"] = {"service": unit, "port": aerospike["service_port"], "wait": aerospike["restart_wait"],
                                 "cluster_size": aerospike["cluster_size"], "timeout": aerospike["restart_wait_timeout"]}


def _links(host, entry, cluster, fabric_links, params):
    root = params["fabric_links_root"].rstrip("/")
    if params["fabric_links_apply"] and root:
        raise FabricError("host %s: fabric_links_apply is true but fabric_links_root is %s; files rendered into a "
                          "staging tree cannot be activated" % (host, params["fabric_links_root"]))
    specs = [dict(link, device=own["device"]) for link, own in zip(fabric_links, entry["links"])]
    model = link_model.build_model(host, specs, cluster["plan"], dict(
        (key, params["fabric_links_" + key])
        for key in ("miimon", "table_base", "rule_priority", "route_metric", "file_prefix")))
    return {"backend": params["fabric_links_backend"], "netplan_renderer": params["fabric_links_netplan_renderer"],
            "root": root, "apply": params["fabric_links_apply"], "manifest": params["fabric_links_manifest"],
            "nm_port_keys": params["fabric_links_nm_port_keys"], "model": model}


def _watchdog(host, params, prefix="fabric_nat_watchdog_"):
    """The watchdog's settings from the role's ``prefix``* variables (nat: fabric_nat_watchdog_, mptcp:
    fabric_mptcp_watchdog_), checked against the daemon's own limits."""
    settings = {"probe": params[prefix + "probe"], "hold_down_s": float(params[prefix + "hold_down_s"])}
    for name, (variable, low, high) in WATCHDOG_LIMITS.items():
        variable = prefix + variable[len("fabric_nat_watchdog_"):]
        value = params[variable]
        if not low <= value <= high:
            raise FabricError("host %s: %s is %r; use an integer from %d to %d" % (host, variable, value, low, high))
        settings[name] = value
    if not 0 <= settings["hold_down_s"] <= 3600:
        raise FabricError("host %s: %shold_down_s is %r; use 0 to 3600 seconds"
                          % (host, prefix, params[prefix + "hold_down_s"]))
    return settings


def _nat(host, entry, cluster, fabric_links, params):
    strategy = entry["strategy"]
    # mptcp: NAT rotation and MPTCP exclude each other (a NAT-rotated connection gets no extra subflow)
    state = "absent" if strategy in ("native", "mptcp") else "present"
    watchdog = bool(params["fabric_nat_watchdog_enabled"]) and state == "present"
    if watchdog and params["fabric_nat_backend"] != "nftables":
        raise FabricError(
            "host %s: the link watchdog (fabric_nat_watchdog_enabled: true) needs fabric_nat_backend nftables, "
            "got %s; it rewrites the nft peer chains at run time. Use nftables, or set "
            "fabric_nat_watchdog_enabled: false to keep iptables without failover (docs/watchdog.md)"
            % (host, params["fabric_nat_backend"]))
    block = {"state": state, "backend": params["fabric_nat_backend"], "persist": params["fabric_nat_persist"],
             "install_packages": params["fabric_nat_install_packages"], "mode": params["fabric_nat_mode"],
             "spread": "primary" if strategy == "single" else "all",
             "primary_link": params["fabric_nat_primary_link"] or entry["links"][0]["name"],
             "weights": dict(params["fabric_nat_weights"] or {}),
             "watchdog": _watchdog(host, params) if watchdog else None,
             "watchdog_owner": WATCHDOG_OWNER[strategy], "model": None}
    if state == "absent":
        return block
    _devices(host, entry, "nat")
    try:
        block["model"] = nat_rules.build(
            cluster["plan"], host, [{"name": link["name"], "device": link["device"]} for link in entry["links"]],
            ports=entry["ports"], primary_link=block["primary_link"], mode=block["mode"],
            weights=block["weights"], spread=block["spread"], watchdog=watchdog)
    except FabricError as exc:
        text = str(exc)
        for name, variable in NAT_VARIABLES:
            if text.startswith(name):
                text = variable + text[len(name):]
        raise FabricError("host %s: %s" % (host, text))
    block["weights"] = dict((link["name"], link["weight"]) for link in block["model"]["links"])
    return block


def _devices(host, entry, role):
    for index, link in enumerate(entry["links"]):
        if not link["device"]:
            raise FabricError("host %s: fabric_links[%d] (link %s) has no device; the %s role %s: set device, or "
                              "fabric_nat_devices.%s for this host" % (
                                  host, index, link["name"], role,
                                  "steers connections per interface" if role == "nat" else "binds each endpoint to its interface",
                                  link["name"]))


def _mptcp(host, entry, cluster, fabric_links, params):
    strategy = entry["strategy"]
    state = "present" if strategy == "mptcp" else "absent"
    services = list(params["fabric_mptcp_services"])
    for service in services:
        if not isinstance(service, str) or not SERVICE_RE.fullmatch(service):
            raise FabricError("host %s: fabric_mptcp_services entry %r is not a systemd service name (NAME.service, "
                              "letters, digits and :_.@-)" % (host, service))
    if len(set(services)) != len(services):
        raise FabricError("host %s: fabric_mptcp_services lists a service twice: %r" % (host, services))
    library = params["fabric_mptcp_library"]
    if library and not LIBRARY_RE.fullmatch(library):
        raise FabricError("host %s: fabric_mptcp_library is %r; give an absolute path of letters, digits and ._+/- "
                          "(or \"\" for the mptcpize package's library of the host's OS family)" % (host, library))
    block = {"state": state, "services": services, "library": library,
             "install_packages": params["fabric_mptcp_install_packages"], "restart": params["fabric_mptcp_restart"],
             "restart_wait": None, "root": params["fabric_mptcp_root"].rstrip("/"),
             # under mptcp the nat role (absent) runs first on this host and removes its NAT rules
             "nat_first": "nat" in entry["roles"],
             "watchdog_owner": WATCHDOG_OWNER[strategy], "watchdog": None, "model": None,
             # the service whose start loads the anchor placement: the aerospike role's unit (link_blocks),
             # else the module's default, the first service
             "anchor_service": None}
    if state == "absent":
        return block
    _devices(host, entry, "mptcp")
    try:
        block["model"] = mptcp_plan.build(cluster["plan"], host, [{"name": link["name"], "device": link["device"]}
                                                                  for link in entry["links"]], entry["ports"],
                                          anchors=cluster.get("anchors"), anchor_subnet=cluster.get("anchor_subnet"))
    except FabricError as exc:
        raise FabricError("host %s: fabric_strategy mptcp: %s" % (host, exc))
    if params["fabric_mptcp_watchdog_enabled"]:
        block["watchdog"] = _watchdog(host, params, "fabric_mptcp_watchdog_")
    return block


def _aerospike(host, entry, cluster, fabric_links, params):
    if params["aerospike_manage"] == "full":
        namespaces = params["aerospike_namespaces"]
        if not namespaces or any(not isinstance(ns, dict) or "name" not in ns for ns in namespaces):
            raise FabricError("host %s: aerospike_namespaces must list at least one namespace, each a mapping "
                              "with a name (the server does not start without one), got %r" % (host, namespaces))
    try:
        network = aerospike_network.build_network(
            host, cluster["plan"], fabric_links, version=params["aerospike_version"],
            edition=params["aerospike_edition"], strategy=entry["strategy"], fabric_ports=entry["ports"],
            service_port=params["aerospike_service_port"], heartbeat_port=params["aerospike_heartbeat_port"],
            info_port=params["aerospike_info_port"], heartbeat_interval=params["aerospike_heartbeat_interval"],
            heartbeat_timeout=params["aerospike_heartbeat_timeout"],
            heartbeat_connect_timeout_ms=params["aerospike_heartbeat_connect_timeout_ms"],
            max_seeds=params["aerospike_heartbeat_max_seeds"],
            service_addresses=params["aerospike_service_addresses"],
            service_access_addresses=params["aerospike_service_access_addresses"],
            service_alternate_access_addresses=params["aerospike_service_alternate_access_addresses"],
            anchor=(cluster.get("anchors") or {}).get(host) if entry["strategy"] == "mptcp" else None,
            extra=params["aerospike_network"])
    except FabricError as exc:
        raise FabricError("host %s: %s" % (host, exc))
    name = params["aerospike_cluster_name"]
    config = {
        "service": dict({"cluster-name": entry["cluster"] if name is None else name}, **(params["aerospike_service"] or {})),
        "logging": params["aerospike_logging"],
        "network": network,
        "namespace": params["aerospike_namespaces"],
        "mod-lua": params["aerospike_mod_lua"],
        "security": params["aerospike_security"],
        "xdr": params["aerospike_xdr"],
    }
    checked = config if params["aerospike_manage"] == "full" else {"network": network}
    problems = aerospike_conf.check(checked, max_seeds=params["aerospike_heartbeat_max_seeds"])
    if problems:
        raise FabricError(aerospike_conf.describe(problems, host, AEROSPIKE_SOURCES))
    return {"path": params["aerospike_config_path"], "manage": params["aerospike_manage"],
            "owner": params["aerospike_config_owner"], "group": params["aerospike_config_group"],
            "mode": params["aerospike_config_mode"], "max_seeds": params["aerospike_heartbeat_max_seeds"],
            "restart": params["aerospike_restart"], "restart_wait": params["aerospike_restart_wait"],
            "restart_wait_timeout": params["aerospike_restart_wait_timeout"],
            "service_name": params["aerospike_service_name"], "service_port": params["aerospike_service_port"],
            "cluster_size": len(cluster["hosts"]), "sources": dict(AEROSPIKE_SOURCES), "config": config}
