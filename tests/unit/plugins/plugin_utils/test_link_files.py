# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_apply import manifest_text
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.link_files import (
    backend_files, choose_backend, detect_backend, digests, needs_detection, netplan_renderer, render_files)
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


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "golden", "links")


def golden_model(host):
    with open(os.path.join(GOLDEN, "fleet.yml")) as handle:
        links = yaml.safe_load(handle)["fabric_links"]
    return build_model(host, links, plan_addresses({"n1": 1, "n2": 2}, links))


@pytest.mark.parametrize("backend", ["networkd", "netplan", "ifupdown", "networkmanager"])
@pytest.mark.parametrize("host", ["n1", "n2"])
def test_rendered_files_and_manifest_are_the_golden_files(backend, host):
    """The same tree tests/functional/test_links_role.py checks through ansible-playbook."""
    model = golden_model(host)
    files = render_files(model, backend, "networkd", "master")
    expected = {}
    top = os.path.join(GOLDEN, backend, host)
    for directory, dummy, names in os.walk(top):
        for name in names:
            with open(os.path.join(directory, name)) as handle:
                expected["/" + os.path.relpath(os.path.join(directory, name), top)] = handle.read()
    manifest = "/var/lib/clusterfabric-multilink/links-manifest.json"
    got = dict((entry["path"], entry["content"]) for entry in files)
    got[manifest] = manifest_text(backend, [entry["path"] for entry in files], digests(model, backend, "networkd", "master"))
    assert sorted(got) == sorted(expected)
    for path, text in expected.items():
        assert got[path] == text, path


def test_nm_port_keys_controller_and_netplan_renderer_reach_the_templates():
    model = golden_model("n1")
    port = [f for f in render_files(model, "networkmanager", "networkd", "controller") if f["path"].endswith("port-eth4.nmconnection")]
    assert "controller=bond2\nport-type=bond\n" in port[0]["content"] and "master=" not in port[0]["content"]
    netplan = render_files(model, "netplan", "NetworkManager", "master")[0]
    assert "  renderer: NetworkManager\n" in netplan["content"] and netplan["mode"] == "0600"
    with pytest.raises(FabricError, match="fabric_links_nm_port_keys 'slave' must be master or controller"):
        render_files(model, "networkmanager", "networkd", "slave")


def test_digests_change_with_backend_renderer_and_keys():
    model = golden_model("n1")
    first = digests(model, "networkd", "auto", "master")
    assert first[0].startswith("eth1=networkd:auto:master:") and len(first) == len(model["links"])
    assert [entry.split("=")[0] for entry in first] == [link["device"] for link in model["links"]]
    assert digests(model, "netplan", "networkd", "master")[0] != first[0]


@pytest.mark.parametrize("backend, renderer, expected", [
    ("networkd", "auto", False), ("auto", "networkd", True), ("netplan", "auto", True), ("netplan", "networkd", False)])
def test_needs_detection(backend, renderer, expected):
    assert needs_detection(backend, renderer) is expected


def test_choose_backend():
    # explicit: as asked, renderer kept as asked (also auto) when nothing is detected
    assert choose_backend("ifupdown", "auto") == ("ifupdown", "auto")
    assert choose_backend("auto", "auto", True, {}) == ("netplan", "networkd")
    assert choose_backend("netplan", "auto", False, {"NetworkManager.service": RUNNING}) == ("netplan", "NetworkManager")
    assert choose_backend("auto", "auto", False, {"NetworkManager.service": RUNNING}) == ("networkmanager", "NetworkManager")
    with pytest.raises(FabricError, match=r"fabric_links_backend auto: found no netplan"):
        choose_backend("auto", "auto", False, {})
    with pytest.raises(FabricError, match=r"fabric_links_backend 'bogus' must be auto or one of"):
        choose_backend("bogus", "auto")
    with pytest.raises(FabricError, match=r"fabric_links_netplan_renderer 'nm'"):
        choose_backend("networkd", "nm")
