# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: link_backend
short_description: Pick the network configuration backend a host already uses
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Used by the C(clusterfabric.multilink.links) role when C(fabric_links_backend) is C(auto).
  - Order of detection. C(netplan) when the netplan generator is installed (it owns the
    configuration and renders it to networkd or NetworkManager itself); else C(networkmanager)
    when C(NetworkManager.service) is running or enabled; else C(networkd) when
    C(systemd-networkd.service) is running or enabled; else C(ifupdown) when a
    C(networking.service) exists. Anything else is an error asking to set the backend.
  - The netplan renderer, when O(netplan_renderer=auto), is C(NetworkManager) when
    C(NetworkManager.service) is running and C(networkd) otherwise.
positional: netplan_present
options:
  _input:
    description: The host's C(ansible_facts.services) (from M(ansible.builtin.service_facts)).
    type: dict
    required: true
  netplan_present:
    description: Whether the netplan generator is installed on the host.
    type: bool
    required: true
  backend:
    description: The requested backend; anything but C(auto) is returned unchanged.
    type: string
    default: auto
    choices: [auto, networkd, netplan, ifupdown, networkmanager]
  netplan_renderer:
    description: The requested netplan renderer.
    type: string
    default: auto
    choices: [auto, networkd, NetworkManager]
"""

EXAMPLES = r"""
- name: Detect the backend
  ansible.builtin.set_fact:
    links_backend: "{{ ansible_facts.services | clusterfabric.multilink.link_backend(netplan_stat.stat.exists) }}"
  # -> {"backend": "networkmanager", "netplan_renderer": "NetworkManager"} on a desktop
"""

RETURN = r"""
_value:
  description: The backend and the netplan renderer.
  type: dict
  contains:
    backend:
      description: One of C(networkd), C(netplan), C(ifupdown), C(networkmanager).
      type: string
    netplan_renderer:
      description: C(networkd) or C(NetworkManager).
      type: string
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_files import detect_backend
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_files import netplan_renderer as pick_renderer
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import BACKENDS


def link_backend(services, netplan_present, backend="auto", netplan_renderer="auto"):
    try:
        if backend == "auto":
            backend = detect_backend(bool(netplan_present), services)
        elif backend not in BACKENDS:
            raise FabricError("fabric_links_backend %r must be auto or one of %s" % (backend, ", ".join(BACKENDS)))
        renderer = pick_renderer(netplan_renderer, services)
    except FabricError as exc:
        raise AnsibleFilterError("link_backend: %s" % exc)
    return {"backend": backend, "netplan_renderer": renderer}


class FilterModule(object):
    def filters(self):
        return {"link_backend": link_backend}
