# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_files import (
    backend_files, detect_backend, netplan_renderer)
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_model import build_model

LINKS = [
    {"name": "fab0", "subnet": "198.18.64.0/24", "device": "eth1"},
    {"name": "fab1", "subnet": "198.18.65.0/24", "device": "bond1",
     "bond": {"mode": "active-backup", "members": ["eth2", "eth3"]}},
]


def files(backend, prefix=None):
    model = build_model("n1", LINKS, plan_addresses({"n1": 1}, LINKS), {"file_prefix": prefix})
    return backend_files(model, backend)


def test_networkd_files():
    got = [(f["path"], f["template"], f["mode"], f["device"], f["member"]) for f in files("networkd")]
    assert got == [
        ("/etc/systemd/network/10-fabric-eth1.network", "networkd.network.j2", "0644", "eth1", None),
        ("/etc/systemd/network/10-fabric-bond1.netdev", "networkd.netdev.j2", "0644", "bond1", None),
        ("/etc/systemd/network/10-fabric-eth2.network", "networkd-member.network.j2", "0644", "bond1", "eth2"),
        ("/etc/systemd/network/10-fabric-eth3.network", "networkd-member.network.j2", "0644", "bond1", "eth3"),
        ("/etc/systemd/network/10-fabric-bond1.network", "networkd.network.j2", "0644", "bond1", None),
    ]


def test_networkmanager_profiles_are_0600_with_ports():
    got = files("networkmanager", "50-fab")
    assert [f["path"].rsplit("/", 1)[1] for f in got] == [
        "50-fab-eth1.nmconnection", "50-fab-bond1.nmconnection",
        "50-fab-bond1-port-eth2.nmconnection", "50-fab-bond1-port-eth3.nmconnection"]
    assert {f["mode"] for f in got} == {"0600"}
    assert len({f["uuid"] for f in got}) == 4


@pytest.mark.parametrize("backend, path, mode", [
    ("netplan", "/etc/netplan/10-fabric-links.yaml", "0600"),
    ("ifupdown", "/etc/network/interfaces.d/10-fabric-links", "0644"),
])
def test_single_file_backends(backend, path, mode):
    assert [(f["path"], f["mode"]) for f in files(backend)] == [(path, mode)]


def test_unknown_backend():
    with pytest.raises(FabricError, match=r"host n1: fabric_links_backend 'systemd' must be auto or one of"):
        files("systemd")


RUNNING = {"state": "running", "status": "enabled"}
STOPPED = {"state": "stopped", "status": "disabled"}


@pytest.mark.parametrize("netplan, services, expected", [
    (True, {"NetworkManager.service": RUNNING}, "netplan"),
    (False, {"NetworkManager.service": RUNNING, "systemd-networkd.service": RUNNING}, "networkmanager"),
    (False, {"NetworkManager.service": STOPPED, "systemd-networkd.service": RUNNING}, "networkd"),
    (False, {"systemd-networkd.service": {"state": "stopped", "status": "enabled"}}, "networkd"),
    (False, {"systemd-networkd.service": STOPPED, "networking.service": STOPPED}, "ifupdown"),
])
def test_detect_backend(netplan, services, expected):
    assert detect_backend(netplan, services) == expected


def test_detect_backend_fails_when_nothing_is_found():
    with pytest.raises(FabricError, match=r"set fabric_links_backend explicitly"):
        detect_backend(False, {"systemd-networkd.service": STOPPED})


def test_netplan_renderer():
    assert netplan_renderer("auto", {"NetworkManager.service": RUNNING}) == "NetworkManager"
    assert netplan_renderer("auto", {"NetworkManager.service": STOPPED}) == "networkd"
    assert netplan_renderer("networkd", {"NetworkManager.service": RUNNING}) == "networkd"
    with pytest.raises(FabricError, match=r"fabric_links_netplan_renderer 'nm'"):
        netplan_renderer("nm", {})
