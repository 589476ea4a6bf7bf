# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files each backend gets for a render model, and how the backend is detected.

Paths are absolute on the target (without fabric_links_root); the role prefixes them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import BACKENDS, profile_uuid

DIRECTORIES = {
    "networkd": ("/etc/systemd/network", "0755"),
    "netplan": ("/etc/netplan", "0755"),
    "ifupdown": ("/etc/network/interfaces.d", "0755"),
    "networkmanager": ("/etc/NetworkManager/system-connections", "0700"),
}
NETPLAN_RENDERERS = ("networkd", "NetworkManager")
NM_PORT_KEYS = ("master", "controller")


def _file(path, template, link, mode, **extra):
    entry = {"path": path, "template": template, "link": link["index"], "device": link["device"],
             "mode": mode, "member": None}
    entry.update(extra)
    return entry


def _networkd(model, directory):
    prefix = model["file_prefix"]
    files = []
    for link in model["links"]:
        base = "%s/%s-%s" % (directory, prefix, link["device"])
        if link["kind"] == "bond":
            files.append(_file(base + ".netdev", "networkd.netdev.j2", link, "0644"))
            for member in link["bond"]["members"]:
                files.append(_file("%s/%s-%s.network" % (directory, prefix, member),
                                   "networkd-member.network.j2", link, "0644", member=member))
        files.append(_file(base + ".network", "networkd.network.j2", link, "0644"))
    return files


def _networkmanager(model, directory):
    prefix = model["file_prefix"]
    files = []
    for link in model["links"]:
        profile = "%s-%s" % (prefix, link["device"])
        files.append(_file("%s/%s.nmconnection" % (directory, profile), "nm-connection.nmconnection.j2", link,
                           "0600", profile=profile, uuid=profile_uuid(model["host"], profile)))
        if link["kind"] == "bond":
            for member in link["bond"]["members"]:
                port = "%s-port-%s" % (profile, member)
                files.append(_file("%s/%s.nmconnection" % (directory, port), "nm-port.nmconnection.j2", link,
                                   "0600", member=member, profile=port, uuid=profile_uuid(model["host"], port),
                                   controller=profile))
    return files


def backend_files(model, backend):
    """[{path, template, link, device, mode, member, ...}] for backend, in a stable order."""
    if backend not in BACKENDS:
        raise FabricError("host %s: fabric_links_backend %r must be auto or one of %s"
                          % (model["host"], backend, ", ".join(BACKENDS)))
    directory = DIRECTORIES[backend][0]
    if backend == "networkd":
        return _networkd(model, directory)
    if backend == "networkmanager":
        return _networkmanager(model, directory)
    if not model["links"]:
        return []
    # netplan and ifupdown: one file holds every link (netplan merges files; ifupdown needs
    # each interface declared once).
    name = "%s-links.yaml" % model["file_prefix"] if backend == "netplan" else "%s-links" % model["file_prefix"]
    template = "netplan.yaml.j2" if backend == "netplan" else "ifupdown.j2"
    mode = "0600" if backend == "netplan" else "0644"
    return [{"path": "%s/%s" % (directory, name), "template": template, "link": None,
             "device": None, "mode": mode, "member": None}]


def detect_backend(netplan_present, services):
    """Pick the backend the host already uses.

    netplan wins when its generator is installed (it owns the configuration and renders to
    networkd or NetworkManager itself); then a running NetworkManager, then a running or
    enabled systemd-networkd, then ifupdown's networking service. ``services`` is
    ansible_facts.services (name -> {state, status}).
    """
    services = services or {}

    def active(name):
        unit = services.get(name) or services.get(name + ".service") or {}
        return unit.get("state") == "running" or unit.get("status") == "enabled"

    if netplan_present:
        return "netplan"
    if active("NetworkManager"):
        return "networkmanager"
    if active("systemd-networkd"):
        return "networkd"
    if active("networking") or "networking.service" in services or "networking" in services:
        return "ifupdown"
    raise FabricError("fabric_links_backend auto: found no netplan, NetworkManager, systemd-networkd or "
                      "ifupdown (networking.service) on this host; set fabric_links_backend explicitly")


def netplan_renderer(requested, services):
    """auto: NetworkManager if it runs, else networkd."""
    if requested in NETPLAN_RENDERERS:
        return requested
    if requested != "auto":
        raise FabricError("fabric_links_netplan_renderer %r must be auto, networkd or NetworkManager" % (requested,))
    unit = (services or {}).get("NetworkManager.service") or (services or {}).get("NetworkManager") or {}
    return "NetworkManager" if unit.get("state") == "running" else "networkd"
