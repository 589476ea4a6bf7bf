# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' part of the inventory contract: one normalised block per host and role.

``params`` are a role's variables as its meta/argument_specs.yml validated them (types,
choices, defaults filled in by the fabric_contract action); here come the checks a spec cannot
express and everything the role's module needs, computed once per host and run:

- ``links_role``: the render model of the host's links (link_model.py) and the role's settings;
- ``nat``: state, backend, the watchdog settings and the NAT rules (nat_rules.py) when present;
- ``aerospike``: the whole aerospike.conf as data, checked value by value, and the file settings.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_conf
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import aerospike_network, link_model

ROLES = ("links", "nat", "aerospike")
BLOCKS = {"links": "links_role", "nat": "nat", "aerospike": "aerospike"}
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
    return {"links": _links, "nat": _nat, "aerospike": _aerospike}[role](host, entry, cluster, fabric_links, params)


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


def _watchdog(host, params):
    settings = {"probe": params["fabric_nat_watchdog_probe"],
                "hold_down_s": float(params["fabric_nat_watchdog_hold_down_s"])}
    for name, (variable, low, high) in WATCHDOG_LIMITS.items():
        value = params[variable]
        if not low <= value <= high:
            raise FabricError("host %s: %s is %r; use an integer from %d to %d" % (host, variable, value, low, high))
        settings[name] = value
    if not 0 <= settings["hold_down_s"] <= 3600:
        raise FabricError("host %s: fabric_nat_watchdog_hold_down_s is %r; use 0 to 3600 seconds"
                          % (host, params["fabric_nat_watchdog_hold_down_s"]))
    return settings


def _nat(host, entry, cluster, fabric_links, params):
    strategy = entry["strategy"]
    state = "absent" if strategy == "native" else "present"
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
             "watchdog": _watchdog(host, params) if watchdog else None, "model": None}
    if state == "absent":
        return block
    for index, link in enumerate(entry["links"]):
        if not link["device"]:
            raise FabricError("host %s: fabric_links[%d] (link %s) has no device; the nat role steers connections "
                              "per interface: set device, or fabric_nat_devices.%s for this host"
                              % (host, index, link["name"], link["name"]))
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
