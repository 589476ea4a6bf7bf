# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fabric address planning: node id + link definition -> the node's addresses.

A node's addresses depend on its own ``fabric_node_id`` and the link definition
only, so adding or removing a node never renumbers another. Every check raises
FabricError naming the host, link and value at fault; nothing is ever shifted
silently to a "next free" address.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from collections.abc import Mapping

try:
    import netaddr
except ImportError:
    netaddr = None

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.bond_hash import hash_era
from ansible_collections.clusterfabric.multilink.plugins.module_utils.checks import DECIMAL_RE, LINK_NAME_RE, is_int
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

NETADDR_MISSING = (
    "the Python library netaddr is not installed for the Python that runs Ansible on the "
    "controller; install it with 'pip install netaddr' in that environment (or "
    "'apt-get install python3-netaddr' / 'dnf install python3-netaddr' for a system Ansible)")

BOND_HASH_KEYS = ("policy", "slaves", "kernel", "era")
DEFAULT_OFFSET = 10
DEFAULT_KERNEL = "6.1"
MAX_HASH_SLAVES = 128

_REFUSED_POLICIES = {
    "layer3+4": "it hashes the TCP/UDP ports and the kernel picks a new ephemeral source port "
                "for every connection, so no choice of addresses decides the member",
    "encap3+4": "it hashes the ports (and for local TCP a random per-socket flow hash), so no "
                "choice of addresses decides the member",
    "layer2": "it hashes only the MAC addresses, so every address of a node leaves through the "
              "same member",
    "encap2+3": "it hashes inner headers of tunnelled traffic; only layer2+3 is modelled for "
                "planning",
    "vlan+srcmac": "it hashes only the VLAN id and source MAC, so every address of a node leaves "
                   "through the same member",
}


def require_netaddr():
    if netaddr is None:
        raise FabricError(NETADDR_MISSING)


def node_id_of(host, value):
    """Validate one fabric_node_id; digit strings (from INI inventories) are accepted."""
    if value is None:
        raise FabricError(
            "host %s has no fabric_node_id; set it as a host variable (an integer >= 1, unique "
            "in the cluster and never reused)" % (host,))
    if isinstance(value, str) and DECIMAL_RE.fullmatch(value.strip()):
        value = int(value.strip())
    if not is_int(value) or value < 1:
        raise FabricError(
            "host %s: fabric_node_id must be an integer >= 1, got %r" % (host, value))
    return value


def validate_nodes(nodes):
    """Return [(node_id, host)] sorted by id; reject bad or duplicate ids."""
    if not isinstance(nodes, Mapping):
        raise FabricError(
            "nodes must be a mapping of host name -> fabric_node_id, got %s %r"
            % (type(nodes).__name__, nodes))
    seen = {}
    for host, value in nodes.items():
        if not isinstance(host, str) or not host:
            raise FabricError("host name %r is not a non-empty string" % (host,))
        node_id = node_id_of(host, value)
        if node_id in seen:
            first, second = sorted((seen[node_id], host))
            raise FabricError(
                "hosts %s and %s both have fabric_node_id %d; node ids must be unique in a cluster"
                % (first, second, node_id))
        seen[node_id] = host
    return sorted(seen.items())


class Link(object):
    """One validated fabric link and the arithmetic that places node addresses on it."""

    __slots__ = ("name", "subnet", "version", "first", "size", "offset", "per_node",
                 "exclude_single", "exclude_ranges", "policy", "slaves", "kernel",
                 "stride", "window", "start", "last_usable", "_shifted")

    def __init__(self, index, spec):
        where = "fabric_links[%d]" % index
        if not isinstance(spec, Mapping):
            raise FabricError("%s must be a mapping with name and subnet, got %r" % (where, spec))
        name = spec.get("name")
        if not isinstance(name, str) or not LINK_NAME_RE.fullmatch(name):
            raise FabricError(
                "%s: link name %r must match ^[a-z][a-z0-9_]{0,14}$ (lower case letter, then up to "
                "14 lower case letters, digits or underscores)" % (where, name))
        self.name = name
        where = "link %s" % name
        self._parse_subnet(where, spec.get("subnet"))
        self.offset = self._int_option(where, spec, "offset", DEFAULT_OFFSET, 0)
        self._parse_bond_hash(where, spec)
        self._parse_exclude(where, spec.get("exclude", []))
        self._layout()

    def _parse_subnet(self, where, subnet):
        if not isinstance(subnet, str) or "/" not in subnet or subnet != subnet.strip():
            raise FabricError(
                "%s: subnet %r must be an IPv4 or IPv6 network in CIDR form such as 10.10.0.0/24"
                % (where, subnet))
        try:
            network = netaddr.IPNetwork(subnet)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise FabricError("%s: subnet %r is not a valid IPv4 or IPv6 CIDR network" % (where, subnet))
        if network.ip != network.network:
            raise FabricError(
                "%s: subnet %s has host bits set; did you mean %s/%d?"
                % (where, subnet, network.network, network.prefixlen))
        self.subnet = network
        self.version = network.version
        self.first = int(network.first)
        self.size = int(network.size)
        # IPv4 subnets up to /30 reserve their last address for broadcast; /31 and /32
        # (RFC 3021) and IPv6 have none. Number 0 is the network / subnet-router anycast address.
        if self.version == 4 and network.prefixlen <= 30:
            self.last_usable = self.size - 2
        else:
            self.last_usable = self.size - 1

    @staticmethod
    def _int_option(where, spec, key, default, minimum):
        value = spec.get(key, default)
        if value is None:
            value = default
        if not is_int(value) or value < minimum:
            raise FabricError("%s: %s must be an integer >= %d, got %r" % (where, key, minimum, value))
        return value

    def _parse_bond_hash(self, where, spec):
        bond_hash = spec.get("bond_hash")
        self.policy = self.slaves = self.kernel = None
        self._shifted = False
        if bond_hash is None:
            self.per_node = self._int_option(where, spec, "addresses_per_node", 1, 1)
            return
        if not isinstance(bond_hash, Mapping):
            raise FabricError(
                "%s: bond_hash must be a mapping with policy, slaves and kernel, got %r"
                % (where, bond_hash))
        unknown = sorted(set(bond_hash) - set(BOND_HASH_KEYS))
        if unknown:
            raise FabricError(
                "%s: bond_hash has unknown key(s) %s (known: %s)"
                % (where, ", ".join(map(str, unknown)), ", ".join(BOND_HASH_KEYS)))
        policy = bond_hash.get("policy")
        if policy in _REFUSED_POLICIES:
            raise FabricError(
                "%s: bond_hash policy %s cannot be planned for: %s; use layer2+3"
                % (where, policy, _REFUSED_POLICIES[policy]))
        if policy != "layer2+3":
            raise FabricError("%s: bond_hash policy %r is unknown; use layer2+3" % (where, policy))
        slaves = bond_hash.get("slaves")
        if not is_int(slaves) or slaves < 2:
            raise FabricError("%s: bond_hash slaves must be an integer >= 2, got %r" % (where, slaves))
        if slaves & (slaves - 1) or slaves > MAX_HASH_SLAVES:
            raise FabricError(
                "%s: bond_hash slaves %d is not a power of two from 2 to %d; with other member "
                "counts the chosen member depends on the MAC addresses and the peer's address in "
                "a way no fixed address choice can satisfy for every peer"
                % (where, slaves, MAX_HASH_SLAVES))
        kernel = bond_hash.get("kernel", DEFAULT_KERNEL)
        try:
            version = hash_era(kernel, bond_hash.get("era"))
        except FabricError as exc:
            raise FabricError("%s: bond_hash %s" % (where, exc))
        per_node = spec.get("addresses_per_node", slaves)
        if per_node != slaves:
            raise FabricError(
                "%s: addresses_per_node %r must equal bond_hash slaves %d (one address per member)"
                % (where, per_node, slaves))
        self.policy, self.slaves, self.kernel, self.per_node = policy, slaves, kernel, slaves
        # Kernels 4.15-5.17 shift the layer2+3 hash right by one bit, so the member is
        # chosen by address bits 1.. instead of 0..: use every second address.
        self._shifted = version < (5, 18)

    def _parse_exclude(self, where, exclude):
        if exclude is None:
            exclude = []
        if isinstance(exclude, (str, bytes)) or not isinstance(exclude, (list, tuple)):
            raise FabricError("%s: exclude must be a list of addresses or CIDR ranges, got %r"
                              % (where, exclude))
        self.exclude_single = set()
        self.exclude_ranges = []
        for item in exclude:
            try:
                if not isinstance(item, str):
                    raise TypeError(item)
                network = netaddr.IPNetwork(item.strip())
            except (netaddr.AddrFormatError, ValueError, TypeError):
                raise FabricError("%s: exclude entry %r is not an IP address or CIDR range"
                                  % (where, item))
            if network.version != self.version or network not in self.subnet:
                raise FabricError("%s: exclude entry %s is not inside subnet %s"
                                  % (where, item, self.subnet))
            if network.size == 1:
                self.exclude_single.add(int(network.first))
            else:
                self.exclude_ranges.append((int(network.first), int(network.last), item.strip()))

    def _layout(self):
        if self.policy is None:
            self.stride, self.window, self.start = 1, self.per_node, self.offset + 1
        else:
            # An aligned window of slaves (x2 when shifted) addresses never straddles a byte
            # boundary, so its addresses differ only in the low bits that pick the member.
            self.stride = 2 if self._shifted else 1
            self.window = self.slaves * self.stride
            self.start = -(-(self.offset + 1) // self.window) * self.window

    def numbers(self, node_id):
        """Address numbers (0 = network address) of lanes 0.. of node node_id."""
        base = self.start + (node_id - 1) * self.window
        return [base + lane * self.stride for lane in range(self.per_node)]

    def max_node_id(self):
        """Highest node id whose addresses all fit below the last usable address."""
        last_lane = (self.per_node - 1) * self.stride
        return max(0, (self.last_usable - self.start - last_lane) // self.window + 1)

    def format(self, number):
        # netaddr writes ::1:1 as ::0.1.0.1 (IPv4-compatible form); ipaddress follows RFC 5952.
        return str(ipaddress.ip_address(self.first + number) if self.version == 4
                   else ipaddress.IPv6Address(self.first + number))

    def describe(self):
        text = "%s (%s, offset %d, %d per node" % (self.name, self.subnet, self.offset, self.per_node)
        if self.policy:
            text += ", bond_hash %s over %d members" % (self.policy, self.slaves)
        return text + ")"

    def address(self, host, node_id, number):
        """Return the address string for number, or raise naming host, link and address."""
        if number > self.last_usable:
            if number < self.size:
                problem = "the broadcast address"
            else:
                problem = "outside the subnet"
            limit = self.max_node_id()
            room = "node ids 1-%d" % limit if limit else "no node at all"
            raise FabricError(
                "host %s (fabric_node_id %d) on link %s: its address %s would be %s %s; the "
                "link has room for %s (capacity exceeded: use a larger subnet, a smaller offset "
                "or fewer addresses_per_node)"
                % (host, node_id, self.name, self._render_out_of_range(number), problem,
                   self.subnet, room))
        value = self.first + number
        if value in self.exclude_single:
            problem = "excluded (exclude entry %s)" % self.format(number)
        else:
            problem = next(("excluded (exclude entry %s)" % text
                            for low, high, text in self.exclude_ranges if low <= value <= high),
                           "the network address of %s" % self.subnet if number == 0 else None)
        if problem:
            raise FabricError(
                "host %s (fabric_node_id %d) on link %s: its address %s is %s; addresses are "
                "never shifted to another one, so change the offset, the exclude list or the "
                "node id" % (host, node_id, self.name, self.format(number), problem))
        return self.format(number)

    def _render_out_of_range(self, number):
        value = self.first + number
        top = (1 << 32) if self.version == 4 else (1 << 128)
        if value < top:
            return self.format(number)
        return "number %d of the subnet" % number


def validate_links(links):
    """Return [Link]; reject bad, duplicate or overlapping link definitions."""
    require_netaddr()
    if isinstance(links, (str, bytes, Mapping)) or not isinstance(links, (list, tuple)):
        raise FabricError("fabric_links must be a list of link mappings, got %r" % (links,))
    if not links:
        raise FabricError("fabric_links is empty; define at least one link with name and subnet")
    parsed = []
    by_name = {}
    for index, spec in enumerate(links):
        link = Link(index, spec)
        if link.name in by_name:
            raise FabricError("fabric_links[%d]: link name %s is used twice (also fabric_links[%d])"
                              % (index, link.name, by_name[link.name]))
        for other in parsed:
            if other.version == link.version and other.subnet.first <= link.subnet.last \
                    and link.subnet.first <= other.subnet.last:
                raise FabricError("links %s and %s have overlapping subnets %s and %s"
                                  % (other.name, link.name, other.subnet, link.subnet))
        by_name[link.name] = index
        parsed.append(link)
    return parsed


def plan_addresses(nodes, links):
    """Return {host: {link_name: [address, ...]}} in node-id order, lanes in order."""
    ordered = validate_nodes(nodes)
    parsed = validate_links(links)
    plan = {}
    for node_id, host in ordered:
        plan[host] = dict(
            (link.name, [link.address(host, node_id, number) for number in link.numbers(node_id)])
            for link in parsed)
    return plan
