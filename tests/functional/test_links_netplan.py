# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netplan golden file through the real generator (netplan.io, offline with --root-dir).

Fails (does not skip) when netplan is missing: `make deps` installs it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "links", "netplan")


def generate(tmp_path, host):
    netplan = shutil.which("netplan") or ("/usr/sbin/netplan" if os.path.exists("/usr/sbin/netplan") else None)
    if not netplan:
        pytest.fail("netplan is not installed; `make deps` installs netplan.io (hack/apt-packages.txt)")
    root = tmp_path / host
    shutil.copytree(os.path.join(GOLDEN, host, "etc"), str(root / "etc"))
    result = subprocess.run([netplan, "generate", "--root-dir", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout
    assert "Error" not in result.stdout, result.stdout
    out = root / "run" / "systemd" / "network"

    def read(name):
        return (out / name).read_text()

    return out, read


def test_netplan_generates_bond_options_and_addresses(tmp_path):
    out, read = generate(tmp_path, "n1")
    bond2 = read("10-netplan-bond2.netdev")
    for line in ("Kind=bond", "MTUBytes=9000", "Mode=802.3ad", "LACPTransmitRate=fast",
                 "TransmitHashPolicy=layer3+4", "MIIMonitorSec=100ms"):
        assert line + "\n" in bond2, bond2
    bond1 = read("10-netplan-bond1.netdev")
    assert "Mode=active-backup\n" in bond1
    assert "PrimarySlave=true\n" in read("10-netplan-eth2.network")
    assert "PrimarySlave" not in read("10-netplan-eth3.network")
    assert "Bond=bond2\n" in read("10-netplan-eth4.network")
    assert "Address=198.18.66.11/24\n" in read("10-netplan-bond2.network")
    bond4 = read("10-netplan-bond4.network")
    assert "Address=198.18.70.12/24\n" in bond4 and "Address=198.18.70.13/24\n" in bond4
    assert "Mode=balance-xor\n" in read("10-netplan-bond4.netdev")
    assert "MTUBytes=9000\n" in read("10-netplan-eth1.link")
    assert sorted(os.listdir(str(out))) == sorted(
        ["10-netplan-%s.%s" % (dev, kind) for dev in ("bond1", "bond2", "bond4") for kind in ("netdev", "network")]
        + ["10-netplan-eth%d.network" % n for n in range(1, 10)]
        + ["10-netplan-eth%d.link" % n for n in (1, 4, 5, 6)])


def test_netplan_generates_policy_routing(tmp_path):
    _out, read = generate(tmp_path, "n2")
    eth7 = read("10-netplan-eth7.network")
    assert "Address=198.18.67.12/24\n" in eth7
    assert "[RoutingPolicyRule]\nFrom=198.18.67.12/32\nTable=1004\nPriority=1000\n" in eth7
    assert "Destination=0.0.0.0/0\nGateway=198.18.67.1\nTable=1004\n" in eth7
    assert "Destination=198.18.68.0/24\nGateway=198.18.67.1\nMetric=103\n" in eth7
    eth6 = read("10-netplan-eth6.network")
    assert "Address=2001:db8:64::c/64\n" in eth6
    assert "From=2001:db8:64::c/128\nTable=1006\n" in eth6
    assert "IPv6AcceptRA=no\n" in eth6
