# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The links role end to end: real ansible-playbook runs rendering into a pytest tmp dir.

Golden trees live in tests/golden/links/<backend>/<host>/; regenerate them after an intended
change with LINKS_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import stat
import sys

import pytest
import yaml

from ansible_cli import run_ansible

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "links")
BACKENDS = ("networkd", "netplan", "ifupdown", "networkmanager")
HOSTS = {"n1": 1, "n2": 2}
MANIFEST = "var/lib/clusterfabric-multilink/links-manifest.json"


def fleet_links():
    with open(os.path.join(GOLDEN, "fleet.yml")) as handle:
        return yaml.safe_load(handle)["fabric_links"]


def ansible(*args):
    return run_ansible("ansible-playbook", *args)


class Fleet(object):
    """An inventory of n1 and n2 on connection local, each rendering into out/<host>."""

    def __init__(self, base):
        self.base = base
        self.out = os.path.join(str(base), "out")

    def root(self, host):
        return os.path.join(self.out, host)

    def run(self, links=None, *args, **group_vars):
        inv = self.inventory(links, **group_vars)
        play = os.path.join(str(self.base), "play.yml")
        with open(play, "w") as handle:
            handle.write("- name: Fabric links\n  hosts: fab\n  gather_facts: false\n"
                         "  roles:\n    - clusterfabric.multilink.links\n")
        return ansible("-i", inv, play, *args)

    def inventory(self, links=None, **group_vars):
        links = fleet_links() if links is None else links
        variables = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "fabric_cluster_group": "fab",
            "fabric_links": links,
            "fabric_links_root": os.path.join(self.out, "{{ inventory_hostname }}"),
            "fabric_links_netplan_renderer": "networkd",
        }
        variables.update(group_vars)
        inventory = {"all": {"children": {"fab": {
            "hosts": dict((host, {"fabric_node_id": node}) for host, node in HOSTS.items()),
            "vars": variables}}}}
        inv = os.path.join(str(self.base), "inventory.json")
        with open(inv, "w") as handle:
            json.dump(inventory, handle)
        return inv

    def files(self, host):
        """{relative path: (content, mode)} of everything under the host's root."""
        found = {}
        top = self.root(host)
        for directory, _dirs, names in os.walk(top):
            for name in names:
                path = os.path.join(directory, name)
                with open(path) as handle:
                    found[os.path.relpath(path, top)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
        return found


def changed(output, host):
    match = re.search(r"^%s\s*: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)" % host, output, re.M)
    assert match, output
    assert match.group(2) == "0", output
    return int(match.group(1))


@pytest.fixture
def fleet(tmp_path):
    return Fleet(tmp_path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rendered_tree_matches_golden_files(fleet, backend):
    result = fleet.run(None, "-e", "fabric_links_backend=" + backend)
    assert result.returncode == 0, result.stdout
    for host in HOSTS:
        golden = os.path.join(GOLDEN, backend, host)
        if os.environ.get("LINKS_UPDATE_GOLDEN"):
            shutil.rmtree(golden, ignore_errors=True)
            shutil.copytree(fleet.root(host), golden)
        expected = {}
        for directory, _dirs, names in os.walk(golden):
            for name in names:
                path = os.path.join(directory, name)
                with open(path) as handle:
                    expected[os.path.relpath(path, golden)] = handle.read()
        got = fleet.files(host)
        assert sorted(got) == sorted(expected)
        for path, text in expected.items():
            assert got[path][0] == text, path


@pytest.mark.parametrize("backend, secret", [("netplan", True), ("networkmanager", True),
                                             ("networkd", False), ("ifupdown", False)])
def test_file_modes(fleet, backend, secret):
    assert fleet.run(None, "-e", "fabric_links_backend=" + backend).returncode == 0
    modes = dict((path, mode) for path, (_text, mode) in fleet.files("n1").items() if not path.startswith("var/"))
    assert modes
    assert set(modes.values()) == ({0o600} if secret else {0o644})


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_run_changes_nothing(fleet, backend):
    first = fleet.run(None, "-e", "fabric_links_backend=" + backend)
    assert first.returncode == 0, first.stdout
    assert changed(first.stdout, "n1") > 0 and changed(first.stdout, "n2") > 0
    second = fleet.run(None, "--diff", "-e", "fabric_links_backend=" + backend)  # --diff: what a change was
    assert changed(second.stdout, "n1") == 0, second.stdout
    assert changed(second.stdout, "n2") == 0, second.stdout


def test_check_mode_writes_nothing_and_diff_shows_the_change(fleet):
    dry = fleet.run(None, "--check", "--diff", "-e", "fabric_links_backend=networkd")
    assert changed(dry.stdout, "n1") > 0
    assert "+LACPTransmitRate=fast" in dry.stdout
    assert not os.path.exists(fleet.out)
    assert fleet.run(None, "-e", "fabric_links_backend=networkd").returncode == 0
    before = fleet.files("n1")
    links = fleet_links()
    links[0]["mtu"] = 1500
    dry = fleet.run(links, "--check", "--diff", "-e", "fabric_links_backend=networkd")
    assert changed(dry.stdout, "n1") > 0
    assert "-MTUBytes=9000" in dry.stdout and "+MTUBytes=1500" in dry.stdout
    assert fleet.files("n1") == before


def test_removed_link_files_go_and_foreign_files_stay(fleet):
    assert fleet.run(None, "-e", "fabric_links_backend=networkd").returncode == 0
    network = os.path.join(fleet.root("n1"), "etc", "systemd", "network")
    foreign = {"20-mgmt.network": "[Match]\nName=eth0\n", "10-fabric-eth99.network": "[Match]\nName=eth99\n"}
    for name, text in foreign.items():
        with open(os.path.join(network, name), "w") as handle:
            handle.write(text)
    links = [link for link in fleet_links() if link["name"] != "fab2"]
    result = fleet.run(links, "-e", "fabric_links_backend=networkd")
    assert result.returncode == 0, result.stdout
    names = set(os.listdir(network))
    assert not names & {"10-fabric-bond2.netdev", "10-fabric-bond2.network", "10-fabric-eth4.network",
                        "10-fabric-eth5.network"}
    assert "10-fabric-bond1.netdev" in names
    for name, text in foreign.items():
        with open(os.path.join(network, name)) as handle:
            assert handle.read() == text
    with open(os.path.join(fleet.root("n1"), MANIFEST)) as handle:
        manifest = json.load(handle)
    assert not [path for path in manifest["files"] if "bond2" in path or "eth4" in path]


def test_switching_backend_removes_the_old_backends_files(fleet):
    assert fleet.run(None, "-e", "fabric_links_backend=networkd").returncode == 0
    assert fleet.run(None, "-e", "fabric_links_backend=netplan").returncode == 0
    paths = sorted(path for path in fleet.files("n1") if not path.startswith("var/"))
    assert paths == ["etc/netplan/10-fabric-links.yaml"]
    assert os.path.isdir(os.path.join(fleet.root("n1"), "etc", "systemd", "network"))


def test_manifest_cannot_make_the_role_delete_files_outside_backend_directories(fleet):
    assert fleet.run(None, "-e", "fabric_links_backend=networkd").returncode == 0
    victim = os.path.join(fleet.root("n1"), "etc", "passwd")
    with open(victim, "w") as handle:
        handle.write("root:x:0:0::/root:/bin/sh\n")
    path = os.path.join(fleet.root("n1"), MANIFEST)
    with open(path) as handle:
        manifest = json.load(handle)
    manifest["files"].append("/etc/passwd")
    with open(path, "w") as handle:
        json.dump(manifest, handle)
    assert fleet.run(None, "-e", "fabric_links_backend=networkd").returncode == 0
    assert os.path.exists(victim)


def _bond(links, name):
    return next(link for link in links if link["name"] == name)


def _set(name, key, value):
    def change(links):
        _bond(links, name)[key] = value
    return change


def _bond_set(name, key, value):
    def change(links):
        _bond(links, name)["bond"][key] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_bond_set("fab2", "mode", "lacp"), "fabric_links[2] (link fab2).bond.mode 'lacp' is not a bond mode"),
    (_bond_set("fab1", "xmit_hash_policy", "layer3+4"), "fabric_links[1] (link fab1).bond.xmit_hash_policy is set but mode active-backup"),
    (_bond_set("fab1", "lacp_rate", "fast"), "fabric_links[1] (link fab1).bond.lacp_rate is set but mode active-backup"),
    (_bond_set("fab2", "members", ["eth4", "eth4"]), "fabric_links[2] (link fab2).bond.members lists eth4 twice"),
    (_bond_set("fab2", "members", ["eth4", "eth2"]), "fabric_links[2] (link fab2).bond.members eth2 is already used by fabric_links[1]"),
    (_bond_set("fab2", "members", ["eth4", "eth1"]), "fabric_links[2] (link fab2).bond.members eth1 is already used by fabric_links[0] (link fab0).device"),
    (_set("fab0", "device", "averyveryverylongname"), 'fabric_links[0].device "averyveryverylongname" is not a valid interface name: use 1 to 15'),
    (_set("fab0", "device", "eth1\n[Match]"), 'fabric_links[0].device "eth1\\n[Match]" is not a valid interface name'),
    (_set("fab0", "mtu", 10000), "fabric_links[0] (link fab0).mtu must be an integer from 576 to 9216"),
    (_set("fab6", "mtu", 1000), "fabric_links[5] (link fab6).mtu must be an integer from 1280 to 9216"),
    (_set("fab3", "device", "eth1"), 'fabric_links[3].device "eth1" is already the device of link fab0'),
], ids=["mode", "hash-with-active-backup", "lacp-with-active-backup", "member-twice", "member-in-two-bonds",
        "member-is-link-device", "long-name", "newline", "mtu-v4", "mtu-v6", "duplicate-device"])
@pytest.mark.parametrize("backend", ["networkd", "networkmanager"])
def test_bad_input_fails_before_writing_and_names_host_and_variable(fleet, change, message, backend):
    links = fleet_links()
    change(links)
    result = fleet.run(links, "-e", "fabric_links_backend=" + backend)
    assert result.returncode != 0
    assert "host n1: " + message in result.stdout, result.stdout
    assert not os.path.exists(fleet.out)


def test_apply_refuses_a_staging_root(fleet):
    result = fleet.run(None, "-e", "fabric_links_backend=networkd", "-e", "fabric_links_apply=true")
    assert result.returncode != 0
    assert "host n1: fabric_links_apply is true but fabric_links_root is" in result.stdout
    assert not os.path.exists(fleet.out)


def test_argument_specs_reject_an_unknown_backend(fleet):
    result = fleet.run(None, "-e", "fabric_links_backend=systemd")
    assert result.returncode != 0
    assert "fabric_links_backend" in result.stdout and "auto, networkd, netplan, ifupdown, networkmanager" in result.stdout
    assert not os.path.exists(fleet.out)


def test_nm_controller_keys_for_newer_networkmanager(fleet):
    result = fleet.run(None, "-e", "fabric_links_backend=networkmanager", "-e", "fabric_links_nm_port_keys=controller")
    assert result.returncode == 0, result.stdout
    port = fleet.files("n1")["etc/NetworkManager/system-connections/10-fabric-bond2-port-eth4.nmconnection"][0]
    assert "controller=bond2\nport-type=bond\n" in port
    assert "master=" not in port and "slave-type" not in port


def test_ansible_doc_shows_the_module():
    result = run_ansible("ansible-doc", "-t", "module", "clusterfabric.multilink.fabric_links")
    assert result.returncode == 0, result.stdout
    assert "EXAMPLES" in result.stdout and "ERROR" not in result.stdout


def test_auto_detects_the_backend_with_one_more_module_run(fleet):
    """backend auto asks the live host (this machine) what it uses; the run is idempotent."""
    first = fleet.run(None, "-e", "fabric_links_backend=auto", "-v")
    if "found no netplan, NetworkManager, systemd-networkd or ifupdown" in first.stdout:
        assert first.returncode != 0 and not os.path.exists(fleet.out)
        return
    assert first.returncode == 0, first.stdout
    with open(os.path.join(fleet.root("n1"), MANIFEST)) as handle:
        backend = json.load(handle)["backend"]
    assert backend in BACKENDS
    assert changed(fleet.run(None, "-e", "fabric_links_backend=auto").stdout, "n1") == 0


def test_the_module_alone_with_the_contracts_model(fleet, tmp_path):
    """A play without the role: the contract, then the module with the host's model."""
    inventory = fleet.inventory()
    play = tmp_path / "alone.yml"
    play.write_text(
        "- name: Module alone\n  hosts: fab\n  gather_facts: false\n  tasks:\n"
        "    - name: Contract\n      clusterfabric.multilink.fabric_contract:\n        roles: [links]\n      run_once: true\n      register: fabric_fleet\n"
        "    - name: Links\n      clusterfabric.multilink.fabric_links:\n"
        "        model: \"{{ fabric_fleet.hosts[inventory_hostname].links_role.model }}\"\n"
        "        backend: ifupdown\n        root: \"{{ fabric_links_root }}\"\n      register: links\n"
        "    - name: Devices\n      ansible.builtin.assert:\n"
        "        that: links.changed_devices == ['eth1', 'bond1', 'bond2', 'eth7', 'bond4', 'eth6']\n")
    result = ansible("-i", inventory, str(play))
    assert result.returncode == 0, result.stdout
    assert changed(result.stdout, "n1") == 1
    path = os.path.join("etc", "network", "interfaces.d", "10-fabric-links")
    with open(os.path.join(GOLDEN, "ifupdown", "n1", path)) as handle:
        assert fleet.files("n1")[path][0] == handle.read()
