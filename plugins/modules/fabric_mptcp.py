#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: fabric_mptcp
short_description: Multipath TCP for a node's fabric connections, a subflow per link
version_added: 0.1.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Makes the listed services (O(services)) open Multipath TCP sockets, so each of their fabric
    connections gets one subflow per link and keeps running when a link dies. On the node, in one
    module run, persistently and idempotently
  - "C(net.mptcp.enabled=1) (RHEL 9 ships 0) and C(net.mptcp.blackhole_timeout=0) where the kernel
    has it, in C(/etc/sysctl.d/90-clusterfabric-mptcp.conf); the live value is written only when it
    differs (a read-only C(/proc/sys), as in a container, is then an error naming the sysctl)."
  - "One C(signal) endpoint per fabric address of the node, bound to the link's interface (ids 101
    to 108, which the module owns; an endpoint of anyone else on one of these addresses is
    replaced), and C(ip mptcp limits set subflows 8 add_addr_accepted 8) (the kernel's maximum: a
    connection still gets one subflow per address its peer announces, and a subflow that died does
    not hold its place, so a re-announced address is joined again; at most 8 fabric addresses), applied at once and at boot by the oneshot unit
    C(clusterfabric-mptcp.service), ordered before the wrapped services."
  - "A systemd drop-in C(50-clusterfabric-mptcp.conf) per service of O(services) with
    C(Environment=LD_PRELOAD=) the library of C(mptcpize) (Debian package C(mptcpize), installed
    without recommends; RHEL package C(mptcpd)), which turns the service's TCP sockets into MPTCP
    sockets; with O(install_packages) the package is installed when the library is missing, and
    mptcpd's own service (C(mptcp.service)) is stopped and disabled."
  - "The module restarts no service: RV(restart) lists the services that run without MPTCP until
    they restart (the P(clusterfabric.multilink.mptcp#role) role restarts them when asked)."
  - "With O(watchdog), the link watchdog C(clusterfabric-linkwatch.service) in MPTCP mode: when a
    link (or the path to a peer over it) comes back and a connection has no subflow on it any more,
    it deletes and re-adds that link's endpoints, so connections whose subflow died get it back
    (the kernel does not re-create it)."
  - "Refuses to run, before changing anything, on a kernel without MPTCP (no C(/proc/sys/net/mptcp)),
    without the wrapper library when it may not install it, and where the nat role's NAT rules are
    still on the host (a connection whose address a NAT rule rewrote gets no extra subflow)."
  - The endpoints and the watchdog's configuration are computed on the controller by the module's
    action plugin, from O(plan), O(node), O(links) and O(ports), or taken from O(model) (what the
    role passes).
  - O(state=absent) removes everything it set, the live endpoints and limits too; the live sysctls
    stay as they are (a service still running with the library needs C(net.mptcp.enabled=1)).
options:
  plan:
    description:
      - "The cluster's address plan, C({host: {link: [address, ...]}}) (the
        P(clusterfabric.multilink.fabric_addresses#filter) filter's result)."
      - With O(state=present), either O(plan), O(node) and O(links), or O(model).
    type: dict
  node:
    description: This host's name in O(plan).
    type: str
  links:
    description:
      - This node's fabric links, each a mapping with C(name) (a link of O(plan)) and C(device)
        (its interface); every address of the node on them gets an endpoint bound to C(device).
    type: list
    elements: dict
  ports:
    description: The fabric ports; the watchdog's TCP probes dial the first.
    type: list
    elements: int
    default: [3001]
  model:
    description:
      - "The node's MPTCP model as computed earlier, instead of O(plan), O(node), O(links) and
        O(ports): the inventory contract's C(fabric_fleet.hosts[inventory_hostname].mptcp.model),
        or RV(model) of an earlier run."
    type: dict
  state:
    description: V(absent) removes the endpoints and limits, the sysctl file, the unit, the drop-ins and the watchdog.
    type: str
    choices: [present, absent]
    default: present
  services:
    description:
      - systemd services (C(NAME.service)) that get the drop-in and open MPTCP sockets. Drop-ins of
        the module on services no longer listed are removed.
    type: list
    elements: str
    default: [aerospike.service]
  library:
    description:
      - Path of mptcpize's LD_PRELOAD library. V("") looks where the package of the host's OS family
        puts it (C(/usr/lib/<triplet>/mptcpize/) on Debian and Ubuntu, C(/usr/lib64/mptcpize/) on RHEL).
    type: str
    default: ""
  install_packages:
    description:
      - Install the package with the library when it is missing (Debian C(mptcpize) without
        recommends, RHEL C(mptcpd)); V(false) then fails naming the package.
    type: bool
    default: true
  nat_first:
    description:
      - The nat role runs before this module on the host and removes its NAT rules (under
        C(fabric_strategy=mptcp)); in check mode NAT rules found are then a warning instead of an error.
    type: bool
    default: false
  watchdog:
    description:
      - Run the link watchdog in MPTCP mode (program, configuration, unit; restarted when one of
        them changed). V(false) stops and removes a watchdog an earlier run installed, unless
        O(leave_watchdog).
    type: bool
    default: false
  watchdog_settings:
    description:
      - The watchdog's probe settings; keys C(probe), C(interval_ms), C(timeout_ms), C(down_after),
        C(up_after), C(hold_down_s) as the role's C(fabric_mptcp_watchdog_*) variables describe them.
    type: dict
  leave_watchdog:
    description:
      - Leave the link watchdog as it is (the nat role owns it under C(fabric_strategy) V(balanced) and V(single)).
    type: bool
    default: false
  root:
    description:
      - Write the files under this directory instead of C(/), for tests and staging. Nothing live is
        read or changed (no C(ip), C(systemctl), packages, live sysctls; the sysctl file lists both
        sysctls).
    type: str
    default: ""
  anchor_service:
    description:
      - "With a model that places connections (C(fabric_mptcp_anchor_subnet), an C(anchor) in the
        model): the service whose drop-in loads the placement when it starts (the anchor address on
        C(lo), the route to the peers' anchors over the first link, the nft table
        C(clusterfabric_mptcp) from C(/etc/clusterfabric-multilink/mptcp-anchor.nft)): the
        database's. Default the first of O(services)."
      - "The placement takes effect when that service (re)starts: RV(restart) lists it. Later
        changes of the script (peers added) are loaded at once where the table is already in place.
        Without an anchor, or with O(state=absent), the script, the table, the address and the route
        are removed."
    type: str
  apply:
    description: V(false) only computes RV(model) and RV(watchdog) on the controller; no module runs.
    type: bool
    default: true
  rendered:
    description:
      - Set by the action plugin, not by a task (a task that sets it fails); what the module applies
        on the host, C(host), C(endpoints), C(limits), C(anchor) and C(watchdog).
    type: dict
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
  diff_mode:
    support: full
    details:
      - Before and after of the sysctl file and live values, the endpoints and limits, the unit, the drop-ins,
        the package, mptcpd's service and the watchdog's files and service.
  platform:
    platforms: linux
notes:
  - Peers that speak plain TCP still connect (MPTCP falls back per connection). With
    C(net.mptcp.enabled=0) every TCP C(socket()) of a wrapped service fails, which is why the
    module never turns it off.
seealso:
  - module: clusterfabric.multilink.fabric_contract
  - name: Multipath TCP strategy
    description: Setup, what the role does, RHEL notes, troubleshooting.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/mptcp.md
"""

EXAMPLES = r"""
- name: Check the inventory contract once
  clusterfabric.multilink.fabric_contract:
    roles: [mptcp]
  run_once: true
  register: fabric_fleet

- name: MPTCP as the inventory contract computed it for this host (what the mptcp role does)
  clusterfabric.multilink.fabric_mptcp:
    model: "{{ fabric_fleet.hosts[inventory_hostname].mptcp.model }}"
    watchdog: true

- name: From the address plan, wrapping two services, without the watchdog
  clusterfabric.multilink.fabric_mptcp:
    plan: "{{ fabric_plan }}"
    node: "{{ inventory_hostname }}"
    links:
      - {name: fab0, device: eth0}
      - {name: fab1, device: eth1}
    services: [aerospike.service, valkey.service]
  register: mptcp

- name: Remove all of it
  clusterfabric.multilink.fabric_mptcp:
    state: absent
"""

RETURN = r"""
model:
  description:
    - The node's MPTCP model (empty with O(state=absent)).
  returned: always
  type: dict
  contains:
    node:
      description: This node.
      type: str
    endpoints:
      description: C(id), C(link), C(address), C(device) of each signal endpoint.
      type: list
      elements: dict
    lanes:
      description: Fabric addresses of one family (the subflows a connection can have).
      type: int
    limits:
      description: C(subflows) and C(add_addr_accepted), both 8 (the kernel's maximum).
      type: dict
    links:
      description: C(name), C(device), C(family), C(source) of each link.
      type: list
      elements: dict
    peers:
      description: Peer to link to the peer's addresses on it.
      type: dict
    ports:
      description: The fabric ports.
      type: list
      elements: int
  sample:
    node: db1
    endpoints:
      - {id: 101, link: fab0, address: 198.18.0.11, device: eth0}
      - {id: 102, link: fab1, address: 198.18.1.11, device: eth1}
    lanes: 2
    limits: {subflows: 8, add_addr_accepted: 8}
    links:
      - {name: fab0, device: eth0, family: ipv4, source: 198.18.0.11}
      - {name: fab1, device: eth1, family: ipv4, source: 198.18.1.11}
    peers: {db2: {fab0: [198.18.0.12], fab1: [198.18.1.12]}}
    ports: [3001]
watchdog:
  description: With O(watchdog=true), the link watchdog's configuration (C(kind) C(mptcp)), else empty.
  returned: always
  type: dict
restart:
  description:
    - Services that run without Multipath TCP until they restart (their drop-in changed, or their running
      process has not loaded the library); with O(state=absent), those still running with it.
  returned: always
  type: list
  elements: str
library:
  description: The LD_PRELOAD library the drop-ins name (null with O(state=absent)).
  returned: always
  type: str
diff:
  description: Before and after of each object that changes.
  returned: always
  type: list
  elements: dict
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils import mptcp_apply

SEARCH_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]


class LocalHost(object):
    """The host the module runs on, as mptcp_apply sees it; files under ``root`` when one is given."""

    def __init__(self, module, root=""):
        self.module = module
        self.root = root.rstrip("/")

    def path(self, path):
        return self.root + path

    def which(self, name):
        return self.module.get_bin_path(name, required=False, opt_dirs=SEARCH_DIRS)

    def run(self, argv, data=None):
        return self.module.run_command(argv, data=data, binary_data=True, environ_update={"LC_ALL": "C"})

    def read(self, path):
        try:
            with open(self.path(path)) as handle:
                return handle.read()
        except (IOError, OSError, ValueError):
            return None

    def _directory(self, path):
        directory = os.path.dirname(self.path(path))
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        return directory

    def write(self, path, text, mode):
        if path.startswith("/proc/"):
            with open(self.path(path), "w") as handle:  # a sysctl: written in place
                handle.write(text)
            return
        handle, temp = tempfile.mkstemp(dir=self._directory(path), prefix=".fabric_mptcp.")
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        self.module.atomic_move(temp, self.path(path))
        os.chmod(self.path(path), mode)

    def install(self, src, path, mode):
        """Move a file the action plugin transferred to the host into place."""
        self._directory(path)
        self.module.atomic_move(src, self.path(path))
        os.chmod(self.path(path), mode)

    def sha256(self, path):
        return self.module.sha256(self.path(path)) if os.path.isfile(self.path(path)) else None

    def remove(self, path):
        if os.path.lexists(self.path(path)):
            os.unlink(self.path(path))
        directory = os.path.dirname(self.path(path))
        if directory.endswith(".service.d") and os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)  # a drop-in directory of ours that is empty now

    def exists(self, path):
        return os.path.exists(self.path(path))

    def listdir(self, path):
        try:
            return os.listdir(self.path(path))
        except OSError:
            return []

    def writable(self, path):
        return os.access(self.path(path), os.W_OK)


def main():
    module = AnsibleModule(argument_spec=mptcp_apply.OPTIONS, supports_check_mode=True)
    params = module.params
    rendered = params["rendered"]
    if not isinstance(rendered, dict):
        module.fail_json(msg="fabric_mptcp: the endpoints are computed on the controller by the module's action plugin; "
                             "run the task as clusterfabric.multilink.fabric_mptcp")
    if ("endpoints" in rendered) != (params["state"] == "present"):
        module.fail_json(msg="fabric_mptcp: rendered endpoints do not match state %s" % params["state"])
    try:
        outcome = mptcp_apply.converge(
            LocalHost(module, params["root"]), params["state"], rendered, params["services"], library=params["library"],
            install_packages=params["install_packages"], nat_first=params["nat_first"], check_mode=module.check_mode,
            live=not params["root"].rstrip("/"), watchdog=rendered.get("watchdog"), machine=os.uname()[4])
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    for warning in outcome["warnings"]:
        module.warn(warning)
    module.exit_json(changed=outcome["changed"], diff=outcome["diff"], restart=outcome["restart"],
                     library=outcome["library"])


if __name__ == "__main__":
    main()
