# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the ``bond_slave`` filter (plugins/filter/bond_slave.py).

Expected values come from the worked examples in the bonding notes and from
hand computation (see tests/unit/plugins/module_utils/test_bond_hash.py for
the derivations and the independent reference implementation).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter.bond_slave import FilterModule
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.bond_hash import slave_index
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

SMAC = "52:54:00:12:34:01"
DMAC = "52:54:00:12:34:0a"


@pytest.fixture
def bond_slave():
    filters = FilterModule().filters()
    assert "bond_slave" in filters
    assert callable(filters["bond_slave"])
    return filters["bond_slave"]


@pytest.mark.parametrize("src,slaves,expected", [
    ("10.10.0.11", 2, 1), ("10.10.0.11", 4, 1),
    ("10.10.0.12", 2, 0), ("10.10.0.12", 4, 2),
    ("10.10.0.13", 2, 1), ("10.10.0.13", 4, 3),
    ("10.10.0.14", 2, 0), ("10.10.0.14", 4, 0),
])
def test_worked_examples_layer23(bond_slave, src, slaves, expected):
    assert bond_slave(src, "10.10.0.21", slaves=slaves, src_mac=SMAC, dst_mac=DMAC) == expected


@pytest.mark.parametrize("sport,slaves,expected", [
    (40000, 2, 1), (40000, 4, 3), (40002, 2, 0), (40002, 4, 2),
])
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_worked_examples_layer34(bond_slave, sport, slaves, expected, proto):
    assert bond_slave("10.10.0.11", "10.10.0.21", slaves=slaves, policy="layer3+4",
                      src_port=sport, dst_port=5201, proto=proto) == expected


@pytest.mark.parametrize("slaves,expected", [(2, 1), (4, 3)])
def test_worked_example_layer2(bond_slave, slaves, expected):
    assert bond_slave("10.10.0.11", "10.10.0.21", slaves=slaves, policy="layer2",
                      src_mac=SMAC, dst_mac=DMAC) == expected


def test_default_slaves_is_two(bond_slave):
    assert bond_slave("10.10.0.12", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC) == 0
    assert bond_slave("10.10.0.13", "10.10.0.21", src_mac=SMAC, dst_mac=DMAC) == 1


def test_positional_args(bond_slave):
    # src | bond_slave(dst, slaves, policy, src_mac, dst_mac, ...)
    assert bond_slave("10.10.0.12", "10.10.0.21", 4, "layer2+3", SMAC, DMAC) == 2


def test_kernel_eras(bond_slave):
    kw = dict(slaves=2, src_mac=SMAC, dst_mac=DMAC)
    # 0x1e1e161d on >= 5.18, >> 1 = 0x0f0f0b0e on 5.15..5.17
    assert bond_slave("10.10.0.11", "10.10.0.21", kernel="6.1", **kw) == 1
    assert bond_slave("10.10.0.11", "10.10.0.21", kernel="5.16", **kw) == 0
    # layer2 ethertype term: 0x080b (>= 5.15) vs 0x0003 (< 5.15), mod 16
    kw = dict(slaves=16, policy="layer2", src_mac=SMAC, dst_mac=DMAC)
    assert bond_slave("10.10.0.11", "10.10.0.21", kernel="5.15", **kw) == 0xb
    assert bond_slave("10.10.0.11", "10.10.0.21", kernel="5.14", **kw) == 0x3


@pytest.mark.parametrize("src,dst,s4", [
    ("fe80::1", "fe80::2", 3),                                   # 0x03038553
    ("2001:db8::1", "2001:db8:1::2", 2),                         # 0x03038452
    ("fe80::5054:ff:fe12:3401", "fe80::5054:ff:fe12:340a", 3),   # 0x0b0b8d5b
])
def test_ipv6(bond_slave, src, dst, s4):
    assert bond_slave(src, dst, slaves=4, src_mac=SMAC, dst_mac=DMAC) == s4


@pytest.mark.parametrize("kw", [
    dict(slaves=3, src_mac=SMAC, dst_mac=DMAC),
    dict(slaves=5, policy="layer3+4", src_port=1234, dst_port=80, proto="udp"),
    dict(slaves=7, policy="layer2", src_mac="AA-BB-CC-DD-EE-FF", dst_mac=DMAC,
         kernel="5.10"),
    dict(slaves=6, kernel="4.15.0", src_mac=SMAC, dst_mac=DMAC),
])
def test_same_as_slave_index(bond_slave, kw):
    assert bond_slave("10.1.2.3", "10.4.5.6", **kw) == slave_index("10.1.2.3", "10.4.5.6", **kw)


def test_tagged_str_subclass_accepted(bond_slave):
    # ansible-core 2.19 passes templated strings as str subclasses (tagged values)
    class TaggedStr(str):
        pass

    assert bond_slave(TaggedStr("10.10.0.12"), TaggedStr("10.10.0.21"), slaves=4,
                      src_mac=TaggedStr(SMAC), dst_mac=TaggedStr(DMAC),
                      kernel=TaggedStr("6.1")) == 2


def _filter_error(bond_slave, *args, **kw):
    with pytest.raises(AnsibleFilterError) as exc:
        bond_slave(*args, **kw)
    assert not isinstance(exc.value, FabricError)
    return str(exc.value)


@pytest.mark.parametrize("args,kw,needle", [
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer9", src_mac=SMAC, dst_mac=DMAC), "layer9"),
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer2+3"), "mac"),
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer2", src_mac=SMAC), "mac"),
    (("10.10.0.999", "10.10.0.21"), dict(src_mac=SMAC, dst_mac=DMAC), "10.10.0.999"),
    (("10.10.0.11", "2001:db8::1"), dict(policy="layer3+4"), None),
    (("10.10.0.11", "10.10.0.21"), dict(src_mac="52:54:00:12:34", dst_mac=DMAC),
     "52:54:00:12:34"),
    (("10.10.0.11", "10.10.0.21"), dict(src_mac=SMAC, dst_mac="zz:54:00:12:34:01"),
     "zz:54:00:12:34:01"),
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer3+4", src_port=65536), "65536"),
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer3+4", dst_port=-1), "-1"),
    (("10.10.0.11", "10.10.0.21"), dict(src_mac=SMAC, dst_mac=DMAC, kernel="4.14"), "4.14"),
    (("10.10.0.11", "10.10.0.21"), dict(src_mac=SMAC, dst_mac=DMAC, kernel="3.10.0"),
     "3.10.0"),
    (("10.10.0.11", "10.10.0.21"), dict(src_mac=SMAC, dst_mac=DMAC, kernel=5.1), "5.1"),
    (("10.10.0.11", "10.10.0.21"), dict(slaves=0, src_mac=SMAC, dst_mac=DMAC), "0"),
    (("10.10.0.11", "10.10.0.21"), dict(slaves=-2, src_mac=SMAC, dst_mac=DMAC), "-2"),
    (("10.10.0.11", "10.10.0.21"), dict(policy="layer3+4", proto="sctp"), "sctp"),
])
def test_errors_become_filter_errors(bond_slave, args, kw, needle):
    msg = _filter_error(bond_slave, *args, **kw)
    if needle is None:
        assert args[0] in msg or args[1] in msg
    elif needle == "mac":
        assert "mac" in msg.lower()
    else:
        assert needle in msg
