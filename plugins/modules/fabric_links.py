#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: fabric_links
short_description: Write a host's fabric link files for one network backend in one step
version_added: 0.2.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Writes the interface, bond and routing configuration of every link of O(model) for
    systemd-networkd, netplan, ifupdown or NetworkManager (the files and modes are listed in
    docs/links.md), removes the files an earlier run wrote that this one no longer needs, and
    records both in O(manifest). This is what the P(clusterfabric.multilink.links#role) role runs.
  - Every file is rendered on the controller by the module's action plugin, from the templates
    of the links role; the host gets one module run that compares, writes what differs
    (atomically, one rename per file), removes and records. With O(backend=auto), or
    O(backend=netplan) and O(netplan_renderer=auto), one more run first asks the host what it uses.
  - Only files listed in the manifest are ever removed, and only plain files directly inside
    one of the four backend directories, whatever the manifest says. Files of other tools in
    the same directories are never touched.
  - The module never activates anything; RV(changed_devices) names the devices whose
    configuration changed, for the links role's activation handler or your own.
options:
  model:
    description:
      - The render model of the host's links, as the inventory contract builds it
        (C(fabric_fleet.hosts[inventory_hostname].links_role.model) after
        M(clusterfabric.multilink.fabric_contract)); it is already checked and is not checked again.
      - Keys used are C(host), C(file_prefix) and C(links), each link with C(name), C(index),
        C(device), C(kind), C(family), C(subnet), C(sources), C(addresses), C(mtu), C(bond),
        C(gateway), C(routes), C(table), C(rule_priority), C(metric) and C(digest).
      - Required. The action plugin renders it and does not send it to the host.
    type: dict
  backend:
    description:
      - Which configuration to write.
      - C(auto) picks what the host uses. netplan when C(/usr/sbin/netplan) exists (it renders to
        networkd or NetworkManager itself); else networkmanager when C(NetworkManager.service)
        is running or enabled; else networkd when C(systemd-networkd.service) is; else ifupdown
        when a C(networking) service exists; else the task fails asking for an explicit backend.
        Detection looks at the live host also when O(root) is a staging tree.
    type: str
    choices: [auto, networkd, netplan, ifupdown, networkmanager]
    default: auto
  netplan_renderer:
    description: The netplan C(renderer); C(auto) is C(NetworkManager) when its service runs, else C(networkd).
    type: str
    choices: [auto, networkd, NetworkManager]
    default: auto
  nm_port_keys:
    description:
      - How NetworkManager bond port profiles name their bond. C(master) writes C(master=) and
        C(slave-type=bond) (every NetworkManager); C(controller) writes C(controller=) and
        C(port-type=bond) (NetworkManager 1.46 or later).
    type: str
    choices: [master, controller]
    default: master
  root:
    description: Prefix of every path read and written, to render into a staging tree for review.
    type: str
    default: /
  manifest:
    description: Where (below O(root)) the files and per-device digests of this run are recorded.
    type: str
    default: /var/lib/clusterfabric-multilink/links-manifest.json
  files:
    description:
      - Set by the action plugin, not by a task; the files it rendered from O(model), each with
        C(path) (directly in the backend's directory), C(content) and C(mode).
    type: list
    elements: dict
  digests:
    description:
      - Set by the action plugin, not by a task; one C(device=backend:renderer:port-keys:digest)
        entry per link, recorded in the manifest to tell which devices changed.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Nothing is written; a missing backend directory on a new host is reported as a change.
  diff_mode:
    support: full
    details: One diff per file written or removed, and for the manifest.
  platform:
    platforms: posix
notes:
  - Root is needed to write below C(/etc); with a staging O(root) any user that owns it will do.
seealso:
  - module: clusterfabric.multilink.fabric_contract
  - name: The links role, backends and activation
    description: Files per backend, bond option spellings, routed links, how each backend was checked.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/links.md
"""

EXAMPLES = r"""
- name: Check the inventory contract once
  clusterfabric.multilink.fabric_contract:
    roles: [links]
  run_once: true

- name: Write this host's systemd-networkd files
  clusterfabric.multilink.fabric_links:
    model: "{{ fabric_fleet.hosts[inventory_hostname].links_role.model }}"
    backend: networkd
  register: links

- name: Reconfigure the links that changed
  ansible.builtin.command: networkctl reconfigure {{ links.changed_devices | join(' ') }}
  when: links.changed_devices | length > 0
  changed_when: true

- name: Render NetworkManager profiles into a staging tree for review
  clusterfabric.multilink.fabric_links:
    model: "{{ fabric_fleet.hosts[inventory_hostname].links_role.model }}"
    backend: networkmanager
    root: /tmp/review/{{ inventory_hostname }}
"""

RETURN = r"""
backend:
  description: The backend written (after detection with O(backend=auto)).
  returned: when the files were applied
  type: str
  sample: networkd
netplan_renderer:
  description: The netplan renderer in the digests (and the netplan file); C(auto) only when nothing had to detect it.
  returned: when the files were applied
  type: str
  sample: networkd
changed_devices:
  description:
    - Devices whose configuration changed since the last run (or that are no longer configured),
      in O(model) order; activate these and nothing else.
  returned: when the files were applied
  type: list
  elements: str
  sample: [eth1, bond2]
written:
  description: Paths (without O(root)) whose content or mode was written, or would be in check mode.
  returned: when the files were applied
  type: list
  elements: str
  sample: [/etc/systemd/network/10-fabric-eth1.network]
removed:
  description: Paths (without O(root)) of files an earlier run wrote that were removed, or would be in check mode.
  returned: when the files were applied
  type: list
  elements: str
  sample: [/etc/systemd/network/10-fabric-eth9.network]
detected:
  description: What the host reported for O(backend=auto) (only when the module is run without O(files)).
  returned: when the module ran for detection only
  type: dict
  contains:
    netplan:
      description: Whether C(/usr/sbin/netplan) exists.
      type: bool
    services:
      description: The units that exist among C(NetworkManager.service), C(systemd-networkd.service), C(networking.service), with C(state) and C(status).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_apply import OPTIONS, LinkApplyError, converge, detect


def main():
    spec = dict(OPTIONS)
    spec.update(files={"type": "list", "elements": "dict"}, digests={"type": "list", "elements": "str"})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if params["files"] is None:
        if params["model"] is not None:
            module.fail_json(msg="fabric_links: model is rendered on the controller by the module's action plugin; "
                                 "run the task as clusterfabric.multilink.fabric_links")
        if params["backend"] != "auto":
            module.fail_json(msg="fabric_links: files is required with backend %s" % params["backend"])
        module.exit_json(changed=False, detected=detect())
    if params["backend"] == "auto":
        module.fail_json(msg="fabric_links: files need an explicit backend, not auto")
    result = {}
    try:
        result = converge(params["root"], params["backend"], params["files"], params["digests"] or [],
                          manifest=params["manifest"], check_mode=module.check_mode, want_diff=module._diff)
    except (LinkApplyError, OSError) as exc:
        module.fail_json(msg="fabric_links: %s" % exc)
    if not module._diff:
        result.pop("diff")
    module.exit_json(backend=params["backend"], netplan_renderer=params["netplan_renderer"], **result)


if __name__ == "__main__":
    main()
