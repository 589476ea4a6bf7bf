#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: fabric_nat
short_description: Split a node's fabric connections across all links with per-peer DNAT and SNAT
version_added: 0.1.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Every new TCP connection this node opens to a peer's fabric address and one of O(ports) is
    steered to one of the peer's links, in exact rotation per peer (or at random) and by
    O(weights); the connection then leaves with this node's own address on that link as source
    (SNAT on the link's device), so the peer answers over the same link, also under strict
    C(rp_filter).
  - Only the first packet of a connection meets the rules (conntrack), so established
    connections are never re-steered, also not when the rules change.
  - "With O(backend=nftables) the rules live in their own tables C(ip clusterfabric_multilink)
    (and C(ip6 clusterfabric_multilink) when there are IPv6 links): a verdict map keyed on
    destination address and port sends each connection to its peer's own one-rule chain, so
    the cost per connection does not grow with the cluster. The change is validated with
    C(nft -c) and applied as one C(nft -f) transaction that replaces only those tables."
  - "With O(backend=iptables) the rules live in chains C(CFML-*) of the nat table, jumped once
    from C(OUTPUT) and C(POSTROUTING); a cascade of C(statistic) rules per peer gives the exact
    weights. The change is checked with C(iptables-restore --test) and applied with
    C(iptables-restore --noflush), which flushes only the module's chains."
  - Tables, chains and rules of anyone else (Docker, firewalld, hand-written ones) are never
    flushed or altered. O(state=absent) removes exactly the module's objects.
  - The rules are computed and rendered on the controller by the module's action plugin, from
    O(plan), O(node), O(links) and the options around them, or taken as computed earlier from
    O(model) (what the P(clusterfabric.multilink.nat#role) role passes). The host gets one module
    run that reads its state in one call, compares, validates and applies, and with O(watchdog)
    also installs and runs the link watchdog in the same run.
  - Needs root on the target and the C(nft) command (Debian package C(nftables)) or the
    C(iptables-save)/C(iptables-restore) commands (package C(iptables)); O(persist) and
    O(watchdog) need systemd.
options:
  plan:
    description:
      - "The cluster's address plan as returned by the P(clusterfabric.multilink.fabric_addresses#filter)
        filter, C({host: {link: [address, ...]}})."
      - Every host other than O(node) is a peer; every peer needs an address on each of O(links).
      - With O(state=present), either O(plan), O(node) and O(links), or O(model).
    type: dict
  node:
    description: This host's name in O(plan).
    type: str
  links:
    description:
      - "The fabric links to split connections over, each a mapping with C(name) (a link of
        O(plan)) and C(device) (this host's interface on that link, such as C(eth1) or
        C(bond0); 1 to 15 characters from C(A-Z a-z 0-9 _ . + -), starting with a letter or digit,
        not ending in C(+): the interface-name rule of the inventory contract). Other keys, such as
        those of C(fabric_links), are ignored."
      - Links of O(plan) that are not listed are left alone.
    type: list
    elements: dict
  ports:
    description: TCP destination ports to steer, each once; everything else is never touched.
    type: list
    elements: int
    default: [3001]
  primary_link:
    description:
      - The link whose addresses software dials when it knows one address per peer; with
        O(spread=primary) only connections to it are steered. Defaults to the first of O(links).
    type: str
  mode:
    description:
      - V(nth) sends connection i to a peer (per port) to lane i modulo the total weight, which
        is exact however connections to different peers interleave.
      - V(random) picks a lane at random by weight.
    type: str
    choices: [nth, random]
    default: nth
  weights:
    description:
      - Mapping of link name to a positive integer (1 to 1000); links not named weigh 1.
        Weight w gives each of the peer's addresses on that link w lanes.
    type: dict
  spread:
    description:
      - V(all) steers connections to any of a peer's fabric addresses (this also evens out
        software that picks peer addresses at random).
      - V(primary) steers only connections to the peer's addresses on O(primary_link), for
        software that dials one address; connections to other addresses keep their link.
    type: str
    choices: [all, primary]
    default: all
  model:
    description:
      - The rules as computed earlier, instead of O(plan), O(node), O(links), O(ports),
        O(primary_link), O(mode), O(weights) and O(spread) (none of which may be given with it).
      - The inventory contract computes them once per host and run
        (C(fabric_fleet.hosts[inventory_hostname].nat.model) with the result of
        M(clusterfabric.multilink.fabric_contract) registered as C(fabric_fleet)); RV(rules) of an earlier
        run is the same data.
        They were checked when they were computed and are not checked again.
    type: dict
  backend:
    description:
      - Where the rules live. Objects of the other backend left by an earlier run are removed.
    type: str
    choices: [nftables, iptables]
    default: nftables
  state:
    description:
      - V(absent) removes every object of the module (both backends), its boot files and the link
        watchdog.
    type: str
    choices: [present, absent]
    default: present
  apply:
    description:
      - V(false) only computes and returns RV(rules), RV(ruleset) and RV(watchdog); the module does
        not run, nothing on the host is read or changed (no root needed).
    type: bool
    default: true
  watchdog:
    description:
      - "Run the link watchdog C(clusterfabric-linkwatch.service) (docs/watchdog.md), which takes
        the lanes of a dead link out of each peer's rotation and puts them back when the link
        returns. The tables then also get a set C(dead) of peer addresses and ports whose new
        connections get a TCP reset at once (chain C(fastfail), filter hook output), and a first
        rule in the nat output chain that lets the watchdog's probes (packet mark C(0x63666d6c))
        pass unsteered. The peer chains' rules and the elements of C(dead) are the watchdog's
        while a link is down; they are left out of the comparison, so a run then reports no
        change and does not undo the failover."
      - "In the same module run: the program C(/usr/local/lib/clusterfabric-multilink/linkwatch.py)
        (the collection's C(roles/nat/files/linkwatch.py), sent by the action plugin), its
        configuration C(/etc/clusterfabric-multilink/linkwatch.json) (RV(watchdog)) and the unit,
        enabled and started; restarted when one of the three changed."
      - V(false) stops and removes a watchdog an earlier run installed (stopping it puts every lane
        back), before the rules change.
      - Needs O(backend=nftables). Defaults to V(false), with O(model) to what the model was
        computed with (a different value is refused).
    type: bool
  watchdog_settings:
    description:
      - The watchdog's probe settings, added to its configuration; keys C(probe) (V(tcp) or
        V(icmp)), C(interval_ms), C(timeout_ms), C(down_after), C(up_after), C(hold_down_s), as
        the P(clusterfabric.multilink.nat#role) role's C(fabric_nat_watchdog_*) variables
        describe them. Keys not given take the watchdog's defaults (tcp, 100, 0, 3, 5, 5.0).
      - The whole configuration is checked on the controller by the watchdog's own check before
        the module runs.
    type: dict
  leave_watchdog:
    description:
      - Leave the link watchdog as it is, whatever O(state), because another role owns it (the
        P(clusterfabric.multilink.mptcp#role) role under C(fabric_strategy=mptcp)). O(watchdog=true) is then refused.
    type: bool
    default: false
  persist:
    description:
      - Load the rules at boot. nftables writes C(/etc/clusterfabric-multilink/nat.nft), iptables
        C(/etc/clusterfabric-multilink/nat.rules) (and C(nat6.rules)); the systemd unit
        C(clusterfabric-multilink-nat.service) (oneshot) loads them, after C(nftables.service)
        and C(netfilter-persistent.service) and again whenever those restart.
      - V(false) removes such files and the unit if an earlier run installed them.
    type: bool
    default: true
  rendered:
    description:
      - Set by the action plugin, not by a task (a task that sets it fails); what the module applies
        on the host, rendered on the controller, C(rules) (the nft script and its families, or the
        iptables chains and boot files) and C(watchdog) (the program's digest and file, the
        configuration and the unit).
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
    details: The new ruleset is still validated (C(nft -c), C(iptables-restore --test)).
  diff_mode:
    support: full
    details:
      - Before and after of the module's own tables or chains, boot files, unit, and the
        watchdog's configuration, unit and service state; the watchdog program by its digest.
  platform:
    platforms: linux
notes:
  - Removing the rules (O(state=absent)) while steered connections are open can break those
    connections when no other NAT rules remain on the host, because their address translation
    ends with the last NAT chain; changing the rules never does.
seealso:
  - module: clusterfabric.multilink.fabric_contract
  - name: Fabric NAT design and measurements
    description: How the rules work, how to read them on a node, measured speed-up.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/nat.md
  - name: Link watchdog
    description: Failover, failback and fast-fail of the NAT split, and how they were measured.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/watchdog.md
"""

EXAMPLES = r"""
- name: Split fabric connections of this node over both links
  clusterfabric.multilink.fabric_nat:
    plan: "{{ fabric_plan }}"
    node: "{{ inventory_hostname }}"
    links:
      - {name: fab0, device: eth0}
      - {name: fab1, device: eth1}
    ports: [3001]

- name: Twice as many connections over the 25G link, iptables backend, no boot unit
  clusterfabric.multilink.fabric_nat:
    plan: "{{ fabric_plan }}"
    node: "{{ inventory_hostname }}"
    links: "{{ fabric_links }}"
    weights: {fab0: 2, fab1: 1}
    backend: iptables
    persist: false

- name: The rules with the link watchdog, probing every 200 ms; its configuration is in nat.watchdog
  clusterfabric.multilink.fabric_nat:
    plan: "{{ fabric_plan }}"
    node: "{{ inventory_hostname }}"
    links: "{{ fabric_links }}"
    watchdog: true
    watchdog_settings:
      interval_ms: 200
  register: nat

- name: Check the inventory contract once
  clusterfabric.multilink.fabric_contract:
    roles: [nat]
  run_once: true
  register: fabric_fleet

- name: The rules the inventory contract computed for this host (what the nat role does)
  clusterfabric.multilink.fabric_nat:
    model: "{{ fabric_fleet.hosts[inventory_hostname].nat.model }}"
    watchdog: "{{ fabric_fleet.hosts[inventory_hostname].nat.watchdog is not none }}"
    watchdog_settings: "{{ fabric_fleet.hosts[inventory_hostname].nat.watchdog or {} }}"

- name: Only show the rules this node would get
  clusterfabric.multilink.fabric_nat:
    plan: "{{ fabric_plan }}"
    node: "{{ inventory_hostname }}"
    links: "{{ fabric_links }}"
    apply: false
  register: nat

- name: Remove the rules, the boot file, the unit and the link watchdog
  clusterfabric.multilink.fabric_nat:
    state: absent
"""

RETURN = r"""
rules:
  description:
    - The computed rules (empty with O(state=absent)). C(peers) has one entry per peer, address
      family and port; C(snat) one per link that carries steered connections.
  returned: always
  type: dict
  contains:
    node:
      description: This node.
      type: str
    mode:
      description: O(mode).
      type: str
    spread:
      description: O(spread).
      type: str
    ports:
      description: The steered ports.
      type: list
      elements: int
    primary_link:
      description: The primary link.
      type: str
    families:
      description: Address families that have steering rules (C(ipv4), C(ipv6)).
      type: list
      elements: str
    links:
      description: The links with C(name), C(device), C(family), C(source), C(own_addresses), C(weight).
      type: list
      elements: dict
    peers:
      description:
        - Per peer, family and port, C(peer), C(family), C(port), C(chain) (nft) and
          C(iptables_chain), C(match) (the destination addresses that are steered),
          C(targets) (C(link), C(address), C(weight)), C(total_weight) and C(lanes)
          (C(lane), C(link), C(address)); new connection i goes to lane i modulo C(total_weight).
      type: list
      elements: dict
    snat:
      description: Per link, C(link), C(device), C(family), C(source) (the address steered connections leave with), C(own_addresses), C(ports).
      type: list
      elements: dict
  sample:
    node: db1
    mode: nth
    spread: all
    ports: [3001]
    primary_link: fab0
    families: [ipv4]
    peers:
      - peer: db2
        family: ipv4
        port: 3001
        chain: peer_db2_3001
        iptables_chain: CFML-db2-3001
        match: [198.18.0.12, 198.18.1.12]
        total_weight: 2
        targets:
          - {link: fab0, address: 198.18.0.12, weight: 1}
          - {link: fab1, address: 198.18.1.12, weight: 1}
        lanes:
          - {lane: 0, link: fab0, address: 198.18.0.12}
          - {lane: 1, link: fab1, address: 198.18.1.12}
    snat:
      - {link: fab0, device: eth0, family: ipv4, source: 198.18.0.11, own_addresses: [198.18.0.11], ports: [3001]}
      - {link: fab1, device: eth1, family: ipv4, source: 198.18.1.11, own_addresses: [198.18.1.11], ports: [3001]}
ruleset:
  description:
    - The exact text for the backend, the content of the boot file. nftables, an C(nft -f) script
      that replaces both of the module's tables at once; iptables, the C(iptables-restore
      --noflush) input for IPv4 (IPv6 is in RV(ruleset6)). Empty with O(state=absent).
  returned: always
  type: str
watchdog:
  description:
    - With O(watchdog=true) and O(state=present), the configuration of the link watchdog
      (C(linkwatch.py --config FILE) reads it as JSON), else empty. It holds what the watchdog
      needs without planning anything itself, and O(watchdog_settings).
  returned: always
  type: dict
  contains:
    version:
      description: Format version (2).
      type: int
    node:
      description: This node.
      type: str
    table:
      description: The nft table name (C(clusterfabric_multilink)).
      type: str
    dead_set:
      description: The nft set of dead peer addresses and ports (C(dead)).
      type: str
    mode:
      description: O(mode), for the statement the watchdog writes into a peer chain.
      type: str
    mark:
      description: Packet mark of the probes (they pass the nat output chain unsteered and are never reset).
      type: int
    ports:
      description: The steered ports (the dead set holds each peer address on a dead link with each of them).
      type: list
      elements: int
    primary_link:
      description: The lane a peer keeps when all of its links of a family are down.
      type: str
    links:
      description: Links with steered connections, each with C(name), C(device), C(family) and C(source) (the probes' source address).
      type: list
      elements: dict
    peers:
      description: Peer to link to the peer's addresses on it (the first is probed).
      type: dict
    chains:
      description: Per peer chain, C(name), C(peer), C(family), C(port) and C(lanes) (C(link), C(address)) in rotation order.
      type: list
      elements: dict
  sample:
    version: 2
    node: db1
    table: clusterfabric_multilink
    dead_set: dead
    mode: nth
    mark: 1667657068
    ports: [3001]
    primary_link: fab0
    links:
      - {name: fab0, device: eth0, family: ipv4, source: 198.18.0.11}
      - {name: fab1, device: eth1, family: ipv4, source: 198.18.1.11}
    peers:
      db2: {fab0: [198.18.0.12], fab1: [198.18.1.12]}
    chains:
      - name: peer_db2_3001
        peer: db2
        family: ipv4
        port: 3001
        lanes:
          - {link: fab0, address: 198.18.0.12}
          - {link: fab1, address: 198.18.1.12}
ruleset6:
  description: With O(backend=iptables), the C(ip6tables-restore --noflush) input (empty without IPv6 links).
  returned: always
  type: str
diff:
  description:
    - Before and after of each of the module's objects that changes (live tables or chains, boot files, unit, the
      watchdog's program digest, configuration, unit and service state).
  returned: always
  type: list
  elements: dict
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply

SEARCH_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]


class LocalHost(object):
    """The host the module runs on, as nat_apply sees it."""

    def __init__(self, module):
        self.module = module

    def which(self, name):
        return self.module.get_bin_path(name, required=False, opt_dirs=SEARCH_DIRS)

    def run(self, argv, data=None):
        return self.module.run_command(argv, data=data, binary_data=True,
                                       environ_update={"LC_ALL": "C"})

    @staticmethod
    def read(path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError, ValueError):
            return None

    @staticmethod
    def _directory(path):
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        return directory

    def write(self, path, text, mode):
        handle, temp = tempfile.mkstemp(dir=self._directory(path), prefix=".fabric_nat.")
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        self.module.atomic_move(temp, path)
        os.chmod(path, mode)

    def install(self, src, path, mode):
        """Move a file the action plugin transferred to the host into place."""
        self._directory(path)
        self.module.atomic_move(src, path)
        os.chmod(path, mode)

    def sha256(self, path):
        return self.module.sha256(path) if os.path.isfile(path) else None

    @staticmethod
    def remove(path):
        if os.path.lexists(path):
            os.unlink(path)

    @staticmethod
    def exists(path):
        return os.path.exists(path)


def main():
    module = AnsibleModule(argument_spec=nat_apply.OPTIONS, supports_check_mode=True)
    params = module.params
    rendered = params["rendered"]
    if not isinstance(rendered, dict) or "rules" not in rendered:
        module.fail_json(msg="fabric_nat: the rules are computed on the controller by the module's action plugin; "
                             "run the task as clusterfabric.multilink.fabric_nat")
    if (rendered["rules"] is None) != (params["state"] == "absent"):
        module.fail_json(msg="fabric_nat: rendered rules do not match state %s" % params["state"])
    try:
        outcome = nat_apply.converge(LocalHost(module), rendered["rules"], backend=params["backend"],
                                     persist=params["persist"], check_mode=module.check_mode,
                                     watchdog=rendered.get("watchdog"))
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    for warning in outcome["warnings"]:
        module.warn(warning)
    module.exit_json(changed=outcome["changed"], diff=outcome["diff"])


if __name__ == "__main__":
    main()
