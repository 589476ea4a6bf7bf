# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugins/plugin_utils/bond_hash.py.

The implementation is checked against ``ref_xmit_hash`` below, an independent
reference written from the facts in docs/notes (Linux bond_main.c,
__bond_xmit_hash / bond_eth_hash / bond_ip_hash), for a little-endian host:

* IPv4 address bytes (network order) are loaded as a host-order (LE) u32;
  IPv6 addresses are folded to the XOR of their four 32-bit words, each loaded
  the same way (ipv6_addr_hash).
* The 4 TCP/UDP port bytes (sport then dport, network order) are loaded the
  same way.
* layer2:   hash = smac[5] ^ dmac[5] ^ E                       (no fold, no shift)
* layer2+3: hash = smac[5] ^ dmac[5] ^ E; hash ^= saddr ^ daddr;
            hash ^= hash >> 16; hash ^= hash >> 8;  >> 1 only on 4.15 .. 5.17
* layer3+4: hash = ports; hash ^= saddr ^ daddr; the two folds; >> 1 always
* E (ethertype term): >= 5.15 be16_to_cpu(h_proto) = 0x0800 / 0x86DD;
  4.15 .. 5.14 the raw __be16 read as LE = 0x0008 / 0xDD86.
* slave = hash % slaves; kernels older than 4.15 are rejected.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import ipaddress
import operator
import struct

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.bond_hash import (
    slave_index,
    xmit_hash,
)
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


# --------------------------------------------------------------------------
# Independent reference implementation
# --------------------------------------------------------------------------

MASK32 = 0xFFFFFFFF
SMAC = "52:54:00:12:34:01"   # smac[5] = 0x01
DMAC = "52:54:00:12:34:0a"   # dmac[5] = 0x0a


def ref_kernel(kernel):
    """'X.Y' or 'X.Y.Z' -> tuple of ints (numeric, not lexical/float ordering)."""
    return tuple(int(p) for p in kernel.split("."))


def ref_le32(four_bytes):
    assert len(four_bytes) == 4
    return int.from_bytes(four_bytes, "little")


def ref_addr_word(addr):
    """The u32 the driver XORs in for one address (LE host)."""
    packed = ipaddress.ip_address(addr).packed
    if len(packed) == 4:
        return ref_le32(packed)
    return (ref_le32(packed[0:4]) ^ ref_le32(packed[4:8])
            ^ ref_le32(packed[8:12]) ^ ref_le32(packed[12:16]))


def ref_mac_last(mac):
    return int(mac.replace("-", ":").split(":")[5], 16)


def ref_ethertype(version, kernel):
    be16 = 0x86DD if version == 6 else 0x0800
    if kernel >= (5, 15):
        return be16                                   # be16_to_cpu(h_proto)
    return struct.unpack("<H", struct.pack(">H", be16))[0]  # raw __be16 on LE


def ref_xmit_hash(src, dst, policy="layer2+3", src_mac=None, dst_mac=None,
                  src_port=0, dst_port=0, kernel="6.1"):
    k = ref_kernel(kernel)
    assert k >= (4, 15)
    version = ipaddress.ip_address(src).version
    assert version == ipaddress.ip_address(dst).version
    if policy in ("layer2", "layer2+3"):
        h = ref_mac_last(src_mac) ^ ref_mac_last(dst_mac) ^ ref_ethertype(version, k)
        if policy == "layer2":
            return h
    elif policy == "layer3+4":
        h = ref_le32(struct.pack("!HH", src_port, dst_port))
    else:
        raise AssertionError(policy)
    h ^= ref_addr_word(src) ^ ref_addr_word(dst)
    h ^= h >> 16
    h ^= h >> 8
    h &= MASK32
    if policy == "layer3+4" or k < (5, 18):
        h >>= 1
    return h


def ref_slave(src, dst, slaves, **kw):
    return ref_xmit_hash(src, dst, **kw) % slaves


def xor_octets(*addrs):
    return functools.reduce(operator.xor,
                            (b for a in addrs for b in ipaddress.ip_address(a).packed), 0)


# --------------------------------------------------------------------------
# Worked examples from the notes (LE host, kernel >= 5.18, smac5=0x01 dmac5=0x0a)
# --------------------------------------------------------------------------

WORKED = [
    # policy, src, dst, sport, dport, hash, slave of 2, slave of 4
    ("layer2+3", "10.10.0.11", "10.10.0.21", 0, 0, 0x1e1e161d, 1, 1),
    ("layer2+3", "10.10.0.12", "10.10.0.21", 0, 0, 0x1919111a, 0, 2),
    ("layer2+3", "10.10.0.13", "10.10.0.21", 0, 0, 0x1818101b, 1, 3),
    ("layer2+3", "10.10.0.14", "10.10.0.21", 0, 0, 0x1b1b1318, 0, 0),
    ("layer3+4", "10.10.0.11", "10.10.0.21", 40000, 5201, 0x27ad8dc3, 1, 3),
    ("layer3+4", "10.10.0.11", "10.10.0.21", 40002, 5201, 0x27ad8cc2, 0, 2),
    ("layer2", "10.10.0.11", "10.10.0.21", 0, 0, 0x0000080b, 1, 3),
]

WORKED_KERNELS = ["5.18", "6.1", "6.8.0", "7.0"]


@pytest.mark.parametrize("policy,src,dst,sport,dport,expected,s2,s4", WORKED)
def test_reference_matches_worked_table(policy, src, dst, sport, dport, expected, s2, s4):
    """Guard for the reference itself: it must reproduce the notes' table."""
    h = ref_xmit_hash(src, dst, policy, SMAC, DMAC, sport, dport, kernel="6.1")
    assert h == expected
    assert (h % 2, h % 4) == (s2, s4)


@pytest.mark.parametrize("kernel", WORKED_KERNELS)
@pytest.mark.parametrize("policy,src,dst,sport,dport,expected,s2,s4", WORKED)
def test_worked_example_hash(policy, src, dst, sport, dport, expected, s2, s4, kernel):
    got = xmit_hash(src, dst, policy=policy, src_mac=SMAC, dst_mac=DMAC,
                    src_port=sport, dst_port=dport, proto="tcp", kernel=kernel)
    assert got == expected, "expected %#010x got %#010x" % (expected, got)


@pytest.mark.parametrize("policy,src,dst,sport,dport,expected,s2,s4", WORKED)
@pytest.mark.parametrize("slaves", [2, 4])
def test_worked_example_slave(policy, src, dst, sport, dport, expected, s2, s4, slaves):
    want = s2 if slaves == 2 else s4
    got = slave_index(src, dst, slaves, policy=policy, src_mac=SMAC, dst_mac=DMAC,
                      src_port=sport, dst_port=dport, proto="tcp", kernel="6.1")
    assert got == want


def test_worked_example_defaults():
    # Defaults: policy layer2+3, kernel 6.1, proto tcp, ports 0.
    assert xmit_hash("10.10.0.11", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC) == 0x1e1e161d
    assert slave_index("10.10.0.12", "10.10.0.21", 4, src_mac=SMAC, dst_mac=DMAC) == 2


def test_layer34_does_not_need_macs_and_ignores_them():
    a = xmit_hash("10.10.0.11", "10.10.0.21", policy="layer3+4",
                  src_port=40000, dst_port=5201)
    b = xmit_hash("10.10.0.11", "10.10.0.21", policy="layer3+4", src_mac=SMAC,
                  dst_mac="00:00:00:00:00:ff", src_port=40000, dst_port=5201)
    assert a == b == 0x27ad8dc3


def test_udp_same_as_tcp():
    kw = dict(policy="layer3+4", src_port=40000, dst_port=5201)
    assert (xmit_hash("10.10.0.11", "10.10.0.21", proto="udp", **kw)
            == xmit_hash("10.10.0.11", "10.10.0.21", proto="tcp", **kw) == 0x27ad8dc3)


@pytest.mark.parametrize("smac,dmac", [
    ("52-54-00-12-34-01", "52-54-00-12-34-0a"),
    ("52:54:00:12:34:01", "52:54:00:12:34:0A"),
    ("52-54-00-12-34-01", "52:54:00:12:34:0a"),
    ("AA:BB:CC:DD:EE:01", "aa-bb-cc-dd-ee-0A"),
])
def test_mac_formats_accepted(smac, dmac):
    assert xmit_hash("10.10.0.11", "10.10.0.21", src_mac=smac, dst_mac=dmac) == 0x1e1e161d


# --------------------------------------------------------------------------
# IPv6 examples, worked by hand (smac5=0x01, dmac5=0x0a, ports 40000 -> 5201)
# --------------------------------------------------------------------------
#
# Ports: 40000 = 0x9c40, 5201 = 0x1451 -> bytes 9c 40 14 51 -> LE u32 0x5114409c.
#
# (A) fe80::1 -> fe80::2 (same /64 prefix: everything but the last word cancels)
#   fe80::1 bytes fe 80 00 00 | 00.. | 00.. | 00 00 00 01
#     words (LE) 0x000080fe, 0, 0, 0x01000000  -> fold 0x010080fe
#   fe80::2 -> fold 0x020080fe;   saddr ^ daddr = 0x03000000
#   layer2+3, >= 5.18: 0x0b ^ 0x86dd = 0x86d6; ^ 0x03000000 = 0x030086d6
#     ^ >>16 (0x0300)     = 0x030085d6
#     ^ >>8  (0x00030085) = 0x03038553      -> slave/2 = 1, slave/4 = 3
#   5.15..5.17: 0x03038553 >> 1 = 0x0181c2a9 -> slave/2 = 1, slave/4 = 1
#   4.15..5.14: E = 0xdd86: 0x0b ^ 0xdd86 = 0xdd8d; ^ 0x03000000 = 0x0300dd8d
#     ^ 0x0300 = 0x0300de8d; ^ 0x000300de = 0x0303de53; >> 1 = 0x0181ef29
#   layer2: >= 5.15 0x86d6 (slave/4 = 2); 4.15..5.14 0xdd8d (slave/4 = 1)
#   layer3+4 (all kernels): 0x5114409c ^ 0x03000000 = 0x5214409c
#     ^ 0x5214 = 0x52141288; ^ 0x00521412 = 0x5246069a; >> 1 = 0x2923034d
#
# (B) 2001:db8::1 -> 2001:db8:1::2
#   2001:db8::1 bytes 20 01 0d b8 | 00 00 00 00 | 0.. | 00 00 00 01
#     fold 0xb80d0120 ^ 0x01000000 = 0xb90d0120
#   2001:db8:1::2 bytes 20 01 0d b8 | 00 01 00 00 | 0.. | 00 00 00 02
#     fold 0xb80d0120 ^ 0x00000100 ^ 0x02000000 = 0xba0d0020
#   saddr ^ daddr = 0x03000100
#   layer2+3 >= 5.18: 0x86d6 ^ 0x03000100 = 0x030087d6; ^ 0x0300 = 0x030084d6;
#     ^ 0x00030084 = 0x03038452               -> slave/2 = 0, slave/4 = 2
#   5.15..5.17: >> 1 = 0x0181c229; 4.15..5.14: 0x0181efa9
#   layer3+4: 0x5114409c ^ 0x03000100 = 0x5214419c; ^ 0x5214 = 0x52141388;
#     ^ 0x00521413 = 0x5246079b; >> 1 = 0x292303cd
#
# (C) fe80::5054:ff:fe12:3401 -> fe80::5054:ff:fe12:340a (EUI-64 style)
#   src bytes fe 80 00 00 | 00 00 00 00 | 50 54 00 ff | fe 12 34 01
#     words 0x000080fe, 0, 0xff005450, 0x013412fe -> fold 0xfe34c650
#   dst last word 0x0a3412fe -> fold 0xf534c650;  saddr ^ daddr = 0x0b000000
#   layer2+3 >= 5.18: 0x86d6 ^ 0x0b000000 = 0x0b0086d6; ^ 0x0b00 = 0x0b008dd6;
#     ^ 0x000b008d = 0x0b0b8d5b               -> slave/2 = 1, slave/4 = 3
#   5.15..5.17: 0x0585c6ad; 4.15..5.14: 0x0b00dd8d -> 0x0b00d68d -> 0x0b0bd65b
#     >> 1 = 0x0585eb2d
#   layer3+4: 0x5114409c ^ 0x0b000000 = 0x5a14409c; ^ 0x5a14 = 0x5a141a88;
#     ^ 0x005a141a = 0x5a4e0e92; >> 1 = 0x2d270749

V6A = ("fe80::1", "fe80::2")
V6B = ("2001:db8::1", "2001:db8:1::2")
V6C = ("fe80::5054:ff:fe12:3401", "fe80::5054:ff:fe12:340a")

IPV6_EXAMPLES = [
    # pair, policy, kernel, hash
    (V6A, "layer2+3", "6.1", 0x03038553),
    (V6A, "layer2+3", "5.18", 0x03038553),
    (V6A, "layer2+3", "5.16", 0x0181c2a9),
    (V6A, "layer2+3", "5.15", 0x0181c2a9),
    (V6A, "layer2+3", "5.14", 0x0181ef29),
    (V6A, "layer2+3", "4.15", 0x0181ef29),
    (V6A, "layer2", "6.1", 0x86d6),
    (V6A, "layer2", "5.15", 0x86d6),
    (V6A, "layer2", "5.14", 0xdd8d),
    (V6A, "layer3+4", "6.1", 0x2923034d),
    (V6A, "layer3+4", "5.16", 0x2923034d),
    (V6A, "layer3+4", "4.19", 0x2923034d),
    (V6B, "layer2+3", "6.1", 0x03038452),
    (V6B, "layer2+3", "5.17", 0x0181c229),
    (V6B, "layer2+3", "5.10", 0x0181efa9),
    (V6B, "layer3+4", "6.1", 0x292303cd),
    (V6C, "layer2+3", "6.1", 0x0b0b8d5b),
    (V6C, "layer2+3", "5.16", 0x0585c6ad),
    (V6C, "layer2+3", "5.14", 0x0585eb2d),
    (V6C, "layer3+4", "6.1", 0x2d270749),
]


@pytest.mark.parametrize("pair,policy,kernel,expected", IPV6_EXAMPLES)
def test_ipv6_examples(pair, policy, kernel, expected):
    src, dst = pair
    kw = dict(policy=policy, src_mac=SMAC, dst_mac=DMAC, src_port=40000,
              dst_port=5201, kernel=kernel)
    assert ref_xmit_hash(src, dst, policy, SMAC, DMAC, 40000, 5201, kernel) == expected
    got = xmit_hash(src, dst, **kw)
    assert got == expected, "expected %#010x got %#010x" % (expected, got)
    for n in (1, 2, 3, 4, 5, 8):
        assert slave_index(src, dst, n, **kw) == expected % n


@pytest.mark.parametrize("pair,s2,s4", [(V6A, 1, 3), (V6B, 0, 2), (V6C, 1, 3)])
def test_ipv6_slaves_layer23(pair, s2, s4):
    src, dst = pair
    assert slave_index(src, dst, 2, src_mac=SMAC, dst_mac=DMAC) == s2
    assert slave_index(src, dst, 4, src_mac=SMAC, dst_mac=DMAC) == s4


def test_ipv6_address_spellings_equivalent():
    a = xmit_hash("2001:db8::1", "2001:db8:1::2", src_mac=SMAC, dst_mac=DMAC)
    b = xmit_hash("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8:1:0::2",
                  src_mac=SMAC, dst_mac=DMAC)
    assert a == b == 0x03038452


# --------------------------------------------------------------------------
# Kernel eras
# --------------------------------------------------------------------------

def _h(kernel, policy="layer2+3", src="10.10.0.11", dst="10.10.0.21", **kw):
    return xmit_hash(src, dst, policy=policy, src_mac=SMAC, dst_mac=DMAC,
                     kernel=kernel, **kw)


def test_layer23_shift_between_61_and_516():
    # Same ethertype term (0x0800) on both; 5.16 applies the final >> 1.
    assert _h("6.1") == 0x1e1e161d
    assert _h("5.16") == 0x1e1e161d >> 1 == 0x0f0f0b0e
    # ... which changes the slave for 2 links (shortcut does not hold < 5.18)
    assert slave_index("10.10.0.11", "10.10.0.21", 2, src_mac=SMAC, dst_mac=DMAC,
                       kernel="6.1") == 1
    assert slave_index("10.10.0.11", "10.10.0.21", 2, src_mac=SMAC, dst_mac=DMAC,
                       kernel="5.16") == 0


@pytest.mark.parametrize("kernel,expected", [
    # 10.10.0.11 -> 10.10.0.21: saddr ^ daddr = 0x0b000a0a ^ 0x15000a0a = 0x1e000000
    ("6.1", 0x1e1e161d),
    ("5.18", 0x1e1e161d),
    ("5.18.0", 0x1e1e161d),
    ("5.17", 0x0f0f0b0e),
    ("5.17.15", 0x0f0f0b0e),
    ("5.15", 0x0f0f0b0e),
    # E = 0x0008: 0x0b ^ 0x0008 = 0x03; ^ 0x1e000000 = 0x1e000003;
    # ^ 0x1e00 = 0x1e001e03; ^ 0x001e001e = 0x1e1e1e1d; >> 1 = 0x0f0f0f0e
    ("5.14", 0x0f0f0f0e),
    ("5.14.21", 0x0f0f0f0e),
    ("5.10", 0x0f0f0f0e),
    ("5.4", 0x0f0f0f0e),
    ("4.19", 0x0f0f0f0e),
    ("4.15", 0x0f0f0f0e),
    ("4.15.0", 0x0f0f0f0e),
])
def test_layer23_kernel_eras_ipv4(kernel, expected):
    assert ref_xmit_hash("10.10.0.11", "10.10.0.21", "layer2+3", SMAC, DMAC,
                         kernel=kernel) == expected
    assert _h(kernel) == expected


@pytest.mark.parametrize("kernel,expected", [
    ("6.1", 0x080b), ("5.18", 0x080b), ("5.17", 0x080b), ("5.15", 0x080b),
    ("5.15.0", 0x080b),
    # before 5.15: 0x01 ^ 0x0a ^ 0x0008 = 0x0003
    ("5.14", 0x0003), ("5.14.99", 0x0003), ("5.10", 0x0003), ("4.15", 0x0003),
])
def test_layer2_ethertype_term_ipv4(kernel, expected):
    assert _h(kernel, policy="layer2") == expected


@pytest.mark.parametrize("kernel,expected", [
    ("6.1", 0x86d6), ("5.16", 0x86d6), ("5.15", 0x86d6),
    # 0x01 ^ 0x0a ^ 0xdd86 = 0xdd8d
    ("5.14", 0xdd8d), ("4.15", 0xdd8d),
])
def test_layer2_ethertype_term_ipv6(kernel, expected):
    assert _h(kernel, policy="layer2", src="2001:db8::1", dst="2001:db8::2") == expected


@pytest.mark.parametrize("kernel", ["4.15", "5.4", "5.10", "5.14", "5.15", "5.17",
                                    "5.18", "6.1", "6.12.3"])
def test_layer34_same_on_all_kernels(kernel):
    assert _h(kernel, policy="layer3+4", src_port=40000, dst_port=5201) == 0x27ad8dc3


@pytest.mark.parametrize("kernel,expected", [
    # uname -r / ansible_kernel style strings: X.Y prefix decides the era.
    # (Beyond the guaranteed "X.Y[.Z]" API; the implementation's own error
    # message advertises "5.15.0-91-generic" as an accepted form.)
    ("6.1.0-18-amd64", 0x1e1e161d),
    ("5.15.0-91-generic", 0x0f0f0b0e),
    ("5.14.0-362.el9.x86_64", 0x0f0f0f0e),
    ("4.18.0-513.el8.x86_64", 0x0f0f0f0e),
])
def test_uname_style_kernel_strings(kernel, expected):
    assert _h(kernel) == expected


def test_kernel_versions_compare_numerically_not_as_floats():
    # "5.9" < "5.10" < "5.14" < "5.15": numeric compare. As floats/strings
    # 5.9 > 5.15 would put 5.9 on the new ethertype.
    assert _h("5.9", policy="layer2") == 0x0003
    assert _h("5.10", policy="layer2") == 0x0003
    assert _h("5.2", policy="layer2") == 0x0003
    # "5.100" is far newer than 5.18 (not 5.1)
    assert _h("5.100") == 0x1e1e161d
    # "6.0" >= 5.18
    assert _h("6.0") == 0x1e1e161d


# --------------------------------------------------------------------------
# Power-of-two shortcut
# --------------------------------------------------------------------------
#
# The two folds make the low byte of the hash the XOR of the four bytes of the
# pre-fold value.  The pre-fold value contains the ethertype term as a 16-bit
# quantity, so BOTH of its bytes land in the low byte:  E_fold = 0x08 ^ 0x00 =
# 0x08 for IPv4 and 0x86 ^ 0xdd = 0x5b for IPv6 (the notes' 0x5B is right; the
# low byte alone, 0xdd, is wrong -- as is 0x00 for IPv4).  Byte-swapping the term
# (kernels < 5.15) does not change its byte XOR, but those kernels also apply
# >> 1, so the shortcut is tested on >= 5.18 only.

E_FOLD = {4: 0x08 ^ 0x00, 6: 0x86 ^ 0xDD}
assert E_FOLD == {4: 0x08, 6: 0x5B}

POW2 = [2, 4, 8, 16, 32, 64, 128]

octet = st.integers(0, 255)


@st.composite
def macs(draw):
    raw = draw(st.lists(octet, min_size=6, max_size=6))
    sep = draw(st.sampled_from([":", "-"]))
    text = sep.join("%02x" % b for b in raw)
    if draw(st.booleans()):
        text = text.upper()
    return text


ipv4s = st.integers(0, 2 ** 32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
ipv6s = st.integers(0, 2 ** 128 - 1).map(lambda i: str(ipaddress.IPv6Address(i)))


@st.composite
def addr_pairs(draw):
    if draw(st.booleans()):
        return draw(ipv4s), draw(ipv4s)
    return draw(ipv6s), draw(ipv6s)


@settings(max_examples=400, deadline=None)
@given(pair=addr_pairs(), smac=macs(), dmac=macs(), n=st.sampled_from(POW2),
       kernel=st.sampled_from(["5.18", "6.1", "6.8.0", "7.2"]))
def test_power_of_two_shortcut(pair, smac, dmac, n, kernel):
    src, dst = pair
    version = ipaddress.ip_address(src).version
    shortcut = (ref_mac_last(smac) ^ ref_mac_last(dmac) ^ E_FOLD[version]
                ^ xor_octets(src, dst)) % n
    assert ref_slave(src, dst, n, policy="layer2+3", src_mac=smac, dst_mac=dmac,
                     kernel=kernel) == shortcut
    assert slave_index(src, dst, n, policy="layer2+3", src_mac=smac, dst_mac=dmac,
                       kernel=kernel) == shortcut


@pytest.mark.parametrize("pair", [V6A, V6B, V6C])
def test_ipv6_shortcut_uses_0x5b_not_0xdd(pair):
    src, dst = pair
    good = (0x01 ^ 0x0a ^ 0x5B ^ xor_octets(src, dst)) % 4
    bad = (0x01 ^ 0x0a ^ 0xDD ^ xor_octets(src, dst)) % 4
    assert good != bad  # 0x5b ^ 0xdd = 0x86 flips bit 1
    assert slave_index(src, dst, 4, src_mac=SMAC, dst_mac=DMAC) == good


# --------------------------------------------------------------------------
# Property tests against the reference
# --------------------------------------------------------------------------

KERNEL_SAMPLES = ["4.15", "4.15.0", "4.19", "5.4", "5.10", "5.14", "5.14.21",
                  "5.15", "5.15.0", "5.16", "5.17", "5.17.15", "5.18", "5.18.0",
                  "5.19", "6.1", "6.1.0", "6.8", "6.12"]


@st.composite
def kernels(draw):
    if draw(st.booleans()):
        return draw(st.sampled_from(KERNEL_SAMPLES))
    major = draw(st.integers(4, 7))
    minor = draw(st.integers(0, 40))
    assume((major, minor) >= (4, 15))
    if draw(st.booleans()):
        return "%d.%d.%d" % (major, minor, draw(st.integers(0, 300)))
    return "%d.%d" % (major, minor)


ports = st.integers(0, 65535)
policies = st.sampled_from(["layer2", "layer2+3", "layer3+4"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(pair=addr_pairs(), smac=macs(), dmac=macs(), sport=ports, dport=ports,
       policy=policies, kernel=kernels(), slaves=st.integers(1, 16),
       proto=st.sampled_from(["tcp", "udp"]))
def test_matches_reference(pair, smac, dmac, sport, dport, policy, kernel, slaves, proto):
    src, dst = pair
    kw = dict(policy=policy, src_mac=smac, dst_mac=dmac, src_port=sport,
              dst_port=dport, proto=proto, kernel=kernel)
    expected = ref_xmit_hash(src, dst, policy, smac, dmac, sport, dport, kernel)
    got = xmit_hash(src, dst, **kw)
    assert got == expected, "expected %#010x got %#010x" % (expected, got)
    assert 0 <= got <= MASK32
    assert slave_index(src, dst, slaves, **kw) == expected % slaves


@settings(max_examples=300, deadline=None)
@given(pair=addr_pairs(), sport=ports, dport=ports, kernel=kernels(),
       slaves=st.integers(1, 16))
def test_layer34_without_macs_matches_reference(pair, sport, dport, kernel, slaves):
    src, dst = pair
    expected = ref_xmit_hash(src, dst, "layer3+4", src_port=sport, dst_port=dport,
                             kernel=kernel)
    assert xmit_hash(src, dst, policy="layer3+4", src_port=sport, dst_port=dport,
                     kernel=kernel) == expected
    assert slave_index(src, dst, slaves, policy="layer3+4", src_port=sport,
                       dst_port=dport, kernel=kernel) == expected % slaves


@settings(max_examples=200, deadline=None)
@given(pair=addr_pairs(), smac=macs(), dmac=macs(), sport=ports, dport=ports,
       kernel=kernels())
def test_layer23_ignores_ports_and_layer2_ignores_addresses(pair, smac, dmac, sport,
                                                            dport, kernel):
    src, dst = pair
    base = dict(src_mac=smac, dst_mac=dmac, kernel=kernel)
    assert (xmit_hash(src, dst, policy="layer2+3", src_port=sport, dst_port=dport, **base)
            == xmit_hash(src, dst, policy="layer2+3", **base))
    other = ("10.0.0.1", "10.0.0.2") if ":" not in src else ("::1", "::2")
    assert (xmit_hash(src, dst, policy="layer2", src_port=sport, dst_port=dport, **base)
            == xmit_hash(other[0], other[1], policy="layer2", **base))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def _raises(fn, *args, **kw):
    with pytest.raises(FabricError) as exc:
        fn(*args, **kw)
    assert isinstance(exc.value, ValueError)
    return str(exc.value)


def test_fabric_error_is_value_error():
    assert issubclass(FabricError, ValueError)


@pytest.mark.parametrize("policy", ["layer3+5", "LAYER9", "encap3+4", "bogus", ""])
def test_unknown_policy(policy):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", policy=policy,
                  src_mac=SMAC, dst_mac=DMAC)
    if policy:
        assert policy in msg
    _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, policy=policy,
            src_mac=SMAC, dst_mac=DMAC)


@pytest.mark.parametrize("policy", ["layer2", "layer2+3"])
@pytest.mark.parametrize("smac,dmac", [(None, None), (SMAC, None), (None, DMAC)])
def test_mac_required(policy, smac, dmac):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", policy=policy,
                  src_mac=smac, dst_mac=dmac)
    assert "mac" in msg.lower()
    msg = _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, policy=policy,
                  src_mac=smac, dst_mac=dmac)
    assert "mac" in msg.lower()


@pytest.mark.parametrize("src,dst", [
    ("10.10.0.11", "2001:db8::1"),
    ("2001:db8::1", "10.10.0.21"),
    ("fe80::1", "192.0.2.1"),
])
@pytest.mark.parametrize("policy", ["layer2", "layer2+3", "layer3+4"])
def test_mixed_families(src, dst, policy):
    msg = _raises(xmit_hash, src, dst, policy=policy, src_mac=SMAC, dst_mac=DMAC)
    assert src in msg or dst in msg
    _raises(slave_index, src, dst, 2, policy=policy, src_mac=SMAC, dst_mac=DMAC)


@pytest.mark.parametrize("bad", ["10.10.0.256", "10.10.0", "10.10.0.1.1",
                                 "fe80::g", "2001:db8:::1", "host.example", "x"])
@pytest.mark.parametrize("which", ["src", "dst"])
def test_bad_ip(bad, which):
    src, dst = ("10.10.0.11", "10.10.0.21")
    if ":" in bad:
        src, dst = ("2001:db8::1", "2001:db8::2")
    if which == "src":
        src = bad
    else:
        dst = bad
    msg = _raises(xmit_hash, src, dst, policy="layer3+4")
    assert bad in msg
    msg = _raises(slave_index, src, dst, 2, src_mac=SMAC, dst_mac=DMAC)
    assert bad in msg


@pytest.mark.parametrize("bad", ["52:54:00:12:34", "52:54:00:12:34:01:02",
                                 "52:54:00:12:34:zz", "525400123401",
                                 "52:54:00:12:34:1", "not-a-mac"])
@pytest.mark.parametrize("which", ["src_mac", "dst_mac"])
@pytest.mark.parametrize("policy", ["layer2", "layer2+3"])
def test_bad_mac(bad, which, policy):
    kw = dict(src_mac=SMAC, dst_mac=DMAC, policy=policy)
    kw[which] = bad
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", **kw)
    assert bad in msg
    _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, **kw)


@pytest.mark.parametrize("bad", [-1, 65536, 70000, 2 ** 32])
@pytest.mark.parametrize("which", ["src_port", "dst_port"])
def test_bad_port(bad, which):
    kw = dict(policy="layer3+4", src_port=40000, dst_port=5201)
    kw[which] = bad
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", **kw)
    assert str(bad) in msg
    _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, **kw)


@pytest.mark.parametrize("port", [0, 1, 65535])
def test_port_bounds_accepted(port):
    got = xmit_hash("10.10.0.11", "10.10.0.21", policy="layer3+4",
                    src_port=port, dst_port=port)
    assert got == ref_xmit_hash("10.10.0.11", "10.10.0.21", "layer3+4",
                                src_port=port, dst_port=port)


@pytest.mark.parametrize("kernel", ["4.14", "4.14.200", "4.9", "3.10", "3.10.0",
                                    "2.6.32", "4.1"])
def test_kernel_too_old(kernel):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC,
                  kernel=kernel)
    assert kernel in msg
    msg = _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, src_mac=SMAC,
                  dst_mac=DMAC, kernel=kernel)
    assert kernel in msg


@pytest.mark.parametrize("kernel", [5.1, 6.1, 5.15, 6, 4.15, None, b"6.1", (6, 1)])
def test_kernel_must_be_string(kernel):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC,
                  kernel=kernel)
    assert str(kernel) in msg
    _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, src_mac=SMAC, dst_mac=DMAC,
            kernel=kernel)


@pytest.mark.parametrize("kernel", ["linux", "5.x", "six.one", "5", "6..1", "6.1x", ""])
def test_kernel_malformed(kernel):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC,
                  kernel=kernel)
    assert kernel in msg


@pytest.mark.parametrize("slaves", [0, -1, -16])
def test_slaves_must_be_positive(slaves):
    msg = _raises(slave_index, "10.10.0.11", "10.10.0.21", slaves, src_mac=SMAC,
                  dst_mac=DMAC)
    assert str(slaves) in msg


def test_one_slave_always_zero():
    assert slave_index("10.10.0.11", "10.10.0.21", 1, src_mac=SMAC, dst_mac=DMAC) == 0


@pytest.mark.parametrize("proto", ["sctp", "icmp", "tcp6", "xyz"])
def test_bad_proto(proto):
    msg = _raises(xmit_hash, "10.10.0.11", "10.10.0.21", policy="layer3+4",
                  src_port=1, dst_port=2, proto=proto)
    assert proto in msg
    _raises(slave_index, "10.10.0.11", "10.10.0.21", 2, policy="layer3+4",
            src_port=1, dst_port=2, proto=proto)


@pytest.mark.parametrize("era, kernel", [("5.18+", "6.1"), ("5.15-5.17", "5.16"), ("4.15-5.14", "5.10")])
def test_each_era_hashes_like_the_kernels_it_names(era, kernel):
    for policy in ("layer2", "layer2+3", "layer3+4"):
        args = dict(policy=policy, src_mac="52:54:00:00:00:01", dst_mac="52:54:00:00:00:0a", src_port=40000, dst_port=3001)
        assert xmit_hash("10.10.0.11", "10.10.0.21", kernel="5.14.0-362.el9", era=era, **args) == \
            xmit_hash("10.10.0.11", "10.10.0.21", kernel=kernel, **args)


def test_an_unknown_era_is_refused():
    with pytest.raises(FabricError, match="era '5.18' is not one of"):
        xmit_hash("10.10.0.11", "10.10.0.21", src_mac="52:54:00:00:00:01", dst_mac="52:54:00:00:00:0a", era="5.18")
