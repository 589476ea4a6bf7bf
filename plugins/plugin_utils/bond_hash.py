# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux bonding transmit hash (balance-xor and 802.3ad), as the driver computes it.

Addresses and ports enter the driver as raw network-order bytes loaded into a
host-order u32, so on little-endian hosts (x86_64, arm64) they are read
"backwards"; the documentation's formula omits that, the driver source does not.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import socket
import struct

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

POLICIES = ("layer2", "layer2+3", "layer3+4")
PORT_POLICIES = ("layer3+4",)
MAC_POLICIES = ("layer2", "layer2+3")
OLDEST_KERNEL = (4, 15)

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_KERNEL_RE = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)*(?:[-+~].*)?$")
_ETHERTYPE = {4: 0x0800, 6: 0x86DD}


# The hash eras by the first kernel of each: what a kernel does, whatever its version string
# says (distribution kernels such as RHEL 9's 5.14.0-*.el9 carry later changes).
ERAS = {
    "5.18+": (5, 18),      # ethertype in host order; only layer3+4 shifts right by one
    "5.15-5.17": (5, 15),  # ethertype in host order; every layer-3 policy shifts
    "4.15-5.14": (4, 15),  # ethertype byte-swapped; every layer-3 policy shifts
}


def hash_era(kernel=None, era=None):
    """(major, minor) whose hash the driver computes: ``era`` (one of ERAS) when given, else the
    era the kernel version string suggests."""
    if era is not None:
        if era not in ERAS:
            raise FabricError("era %r is not one of %s" % (era, ", ".join(ERAS)))
        return ERAS[era]
    return parse_kernel(kernel)


def parse_kernel(kernel):
    """Return (major, minor) from a string such as "6.1" or "5.15.0-91-generic"."""
    if not isinstance(kernel, str):
        # YAML reads 5.10 as the float 5.1: accepting numbers would silently pick the wrong era.
        raise FabricError(
            "kernel must be a string such as \"5.10\", got %r (%s); quote it in YAML"
            % (kernel, type(kernel).__name__))
    match = _KERNEL_RE.match(kernel.strip())
    if not match:
        raise FabricError("kernel %r is not a version such as \"6.1\" or \"5.15.0-91-generic\"" % (kernel,))
    version = (int(match.group(1)), int(match.group(2)))
    if version < OLDEST_KERNEL:
        raise FabricError(
            "kernel %s is older than 4.15; its bonding hash is not modelled (supported: 4.15 and newer)"
            % (kernel,))
    return version


def parse_ip(value, what="address"):
    """Return (family, packed bytes) for an IPv4 or IPv6 address string."""
    if not isinstance(value, str):
        raise FabricError("%s %r is not an IP address string" % (what, value))
    text = value.strip()
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            return version, socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
    raise FabricError("%s %r is not a valid IPv4 or IPv6 address" % (what, value))


def parse_mac(value, what="mac"):
    """Return the MAC's 6 bytes; accepts ':' or '-' separators, any case."""
    if not isinstance(value, str) or not _MAC_RE.match(value.strip()):
        raise FabricError("%s %r is not a MAC address such as 52:54:00:12:34:56" % (what, value))
    return bytes(int(part, 16) for part in re.split(r"[:-]", value.strip()))


def _port(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise FabricError("%s %r is not a port number 0-65535" % (what, value))
    return value


def _load_le32(packed):
    """Fold the address bytes into one u32 the way the driver loads them."""
    words = struct.unpack("<%dI" % (len(packed) // 4), packed)
    result = 0
    for word in words:
        result ^= word
    return result


def _fold(value):
    value ^= value >> 16
    value ^= value >> 8
    return value & 0xFFFFFFFF


def xmit_hash(src, dst, policy="layer2+3", src_mac=None, dst_mac=None,
              src_port=0, dst_port=0, proto="tcp", kernel="6.1", era=None):
    """Return the 32-bit transmit hash of one packet src -> dst (``era`` overrides ``kernel``)."""
    if policy not in POLICIES:
        raise FabricError(
            "bond hash policy %r is not one of %s" % (policy, ", ".join(POLICIES)))
    if proto not in ("tcp", "udp"):
        raise FabricError("proto %r is not tcp or udp" % (proto,))
    version = hash_era(kernel, era)
    src_family, src_packed = parse_ip(src, "source address")
    dst_family, dst_packed = parse_ip(dst, "destination address")
    if src_family != dst_family:
        raise FabricError(
            "source address %s is IPv%d but destination address %s is IPv%d"
            % (src, src_family, dst, dst_family))
    sport = _port(src_port, "src_port")
    dport = _port(dst_port, "dst_port")

    macs = [parse_mac(mac, name) for mac, name in ((src_mac, "src_mac"), (dst_mac, "dst_mac"))
            if mac is not None]
    if policy in MAC_POLICIES:
        if len(macs) != 2:
            raise FabricError(
                "policy %s hashes the MAC addresses: give both src_mac and dst_mac (got %r and %r)"
                % (policy, src_mac, dst_mac))
        ethertype = _ETHERTYPE[src_family]
        if version < (5, 15):
            # Before 5.15 the driver read the big-endian ethertype without byte swapping.
            ethertype = struct.unpack("<H", struct.pack(">H", ethertype))[0]
        value = macs[0][5] ^ macs[1][5] ^ ethertype
        if policy == "layer2":
            return value
    else:
        value = struct.unpack("<I", struct.pack(">HH", sport, dport))[0]

    value ^= _load_le32(src_packed) ^ _load_le32(dst_packed)
    value = _fold(value)
    # 4.15-5.17 shifted every L3 policy; 5.18 kept the shift for layer3+4 only.
    if policy == "layer3+4" or version < (5, 18):
        value >>= 1
    return value


def slave_index(src, dst, slaves, policy="layer2+3", src_mac=None, dst_mac=None,
                src_port=0, dst_port=0, proto="tcp", kernel="6.1", era=None):
    """Return the 0-based index of the enslaved port that transmits src -> dst."""
    if isinstance(slaves, bool) or not isinstance(slaves, int) or slaves < 1:
        raise FabricError("slaves %r is not an integer >= 1" % (slaves,))
    return xmit_hash(src, dst, policy=policy, src_mac=src_mac, dst_mac=dst_mac,
                     src_port=src_port, dst_port=dst_port, proto=proto,
                     kernel=kernel, era=era) % slaves
