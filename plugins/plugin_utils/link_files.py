# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files each backend gets for a render model, their rendered text, and the backend detection.

Controller-only: the fabric_links action plugin renders here and sends the fabric_links module
(module_utils/link_apply.py) the finished files. Paths are absolute on the target, without the
module's root.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_apply import (
    BACKENDS, DIRECTORIES, NETPLAN_RENDERERS, NM_PORT_KEYS)
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import profile_uuid

try:
    import jinja2
except ImportError:  # pragma: no cover - ansible-core always brings jinja2
    jinja2 = None

# The links role's templates: the collection's own files, whoever calls the module.
TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "roles", "links", "templates")
_ENVIRONMENTS = {}


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


def choose_backend(backend, renderer, netplan_present=False, services=None):
    """(backend, netplan renderer) for what the task asked and, for auto, what the host has.

    ``renderer`` stays as asked (also ``auto``) when the backend is not netplan and nothing was
    detected, as the links role always recorded it in the manifest digests.
    """
    detecting = needs_detection(backend, renderer)
    if backend == "auto":
        backend = detect_backend(bool(netplan_present), services)
    elif backend not in BACKENDS:
        raise FabricError("fabric_links_backend %r must be auto or one of %s" % (backend, ", ".join(BACKENDS)))
    if detecting:
        renderer = netplan_renderer(renderer, services)
    elif renderer not in NETPLAN_RENDERERS + ("auto",):
        raise FabricError("fabric_links_netplan_renderer %r must be auto, networkd or NetworkManager" % (renderer,))
    return backend, renderer


def needs_detection(backend, renderer):
    return backend == "auto" or (backend == "netplan" and renderer == "auto")


def _environment(directory):
    """One Jinja environment per template directory and controller process (templates compile once).

    The settings of ansible.builtin.template as the role used it (trim_blocks, lstrip_blocks,
    trailing newline kept); the templates use Jinja built-ins only.
    """
    if jinja2 is None:  # pragma: no cover
        raise FabricError("the links templates need the Python library jinja2 on the controller")
    if directory not in _ENVIRONMENTS:
        _ENVIRONMENTS[directory] = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory), trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    return _ENVIRONMENTS[directory]


def render_files(model, backend, renderer, nm_port_keys, templates=TEMPLATES):
    """[{path, content, mode}] of ``backend`` for the render model, in backend_files order.

    Each template sees what the role's template task gave it: ``item`` (the file entry),
    ``link`` (its link, or {} for the one-file backends), ``__links_model``,
    ``__links_renderer`` and ``fabric_links_nm_port_keys``.
    """
    if nm_port_keys not in NM_PORT_KEYS:
        raise FabricError("fabric_links_nm_port_keys %r must be master or controller" % (nm_port_keys,))
    environment = _environment(templates)
    common = {"__links_model": model, "__links_renderer": renderer, "fabric_links_nm_port_keys": nm_port_keys}
    out = []
    try:
        for entry in backend_files(model, backend):
            link = model["links"][entry["link"]] if entry["link"] is not None else {}
            text = environment.get_template(entry["template"]).render(dict(common, item=entry, link=link))
            out.append({"path": entry["path"], "content": text, "mode": entry["mode"]})
    except (KeyError, IndexError, TypeError, jinja2.TemplateError) as exc:
        raise FabricError("the render model does not fit the %s templates (%s: %s); pass the model the inventory "
                          "contract builds" % (backend, type(exc).__name__, exc))
    return out


def digests(model, backend, renderer, nm_port_keys):
    """The manifest's "device=backend:renderer:port-keys:digest" entries, in link order."""
    return ["%s=%s:%s:%s:%s" % (link["device"], backend, renderer, nm_port_keys, link["digest"])
            for link in model["links"]]
