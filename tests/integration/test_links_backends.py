# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The links role's output in the real daemons and parsers, inside podman containers.

- systemd-networkd (node image): parses every golden .netdev/.network file and every file
  netplan generates from the golden netplan YAML; the journal must hold no parse complaint.
  A plain link is brought up live by the role itself (fabric_links_apply) while an interface
  not in fabric_links keeps its address and stays unmanaged.
- NetworkManager 1.42 and ifupdown2 (Debian bookworm, in an image built here from debootstrap;
  never installed on the host): NM loads every golden keyfile and reports the bond options,
  ports, addresses, routes and rules; ifupdown2's parser accepts the golden stanzas and knows
  every attribute they use.
Each check has a canary (a deliberately misspelled file) so a parser that ignores everything
cannot pass. No bonding driver exists here, so no bond is created in any of them.
Containers are named cfm-lnk-* (no network) and cfm-linksbackend-* (conftest's two_nodes: the
test bed's two nodes on fab0 198.18.0.0/24 and fab1 198.18.1.0/24, internal networks).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from testbed import inventory as tb_inventory
from testbed import podman as tb_podman
from testbed.podman import ROOT, env as podman_env, podman

GOLDEN = os.path.join(ROOT, "tests", "golden", "links")
PARSER_PACKAGES = ("systemd", "systemd-sysv", "dbus", "libpam-systemd", "iproute2", "network-manager",
                   "ifupdown2", "python3")
PARSER_RECIPE = 1


def exec_in(name, command, check=True):
    result = podman("exec", name, "sh", "-c", command, check=False)
    if check and result.returncode != 0:
        raise tb_podman.TestbedError("%s: %r failed (%d): %s%s"
                                     % (name, command, result.returncode, result.stdout, result.stderr))
    return result


def wait_running(name):
    exec_in(name, "for i in $(seq 120); do s=$(systemctl is-system-running); "
                  "case $s in running|degraded) exit 0;; esac; sleep 0.5; done; exit 1")


def start(name, image):
    podman("rm", "--force", "--time", "0", name, check=False)
    podman("run", "--detach", "--name", name, "--network", "none", "--systemd", "always",
           "--cap-add", "NET_ADMIN", image)
    wait_running(name)
    return name


def copy_dir(name, source, target):
    exec_in(name, "mkdir -p %s" % target)
    podman("cp", source + "/.", "%s:%s" % (name, target))


def parser_image():
    """Debian bookworm with NetworkManager and ifupdown2, built once with debootstrap."""
    tag = hashlib.sha256(("%s recipe %d" % (" ".join(PARSER_PACKAGES), PARSER_RECIPE)).encode()).hexdigest()[:12]
    image = "localhost/cfm-lnk-parsers:" + tag
    if podman("image", "exists", image, check=False).returncode == 0:
        return image
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is missing; `make deps` installs it")
    work = tempfile.mkdtemp(prefix="cfm-lnk-", dir=os.path.join(ROOT, "build"))
    try:
        rootfs = os.path.join(work, "root")
        subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PARSER_PACKAGES), "bookworm",
                        rootfs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       check=True, timeout=1800)
        for unit in ("systemd-timesyncd.service", "getty.target", "console-getty.service"):
            os.symlink("/dev/null", os.path.join(rootfs, "etc", "systemd", "system", unit))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "--quiet", "--change", 'CMD ["/sbin/init"]', "-", image],
                       stdin=tar.stdout, stdout=subprocess.PIPE, env=podman_env(), check=True)
        tar.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return image


@pytest.fixture(scope="module")
def networkd_node(image):
    name = start("cfm-lnk-networkd", image.ref)
    yield name
    podman("rm", "--force", "--time", "0", name, check=False)


@pytest.fixture(scope="module")
def parsers(image):  # image: the shared fixture fails early without root/podman
    assert image
    name = start("cfm-lnk-parsers", parser_image())
    yield name
    podman("rm", "--force", "--time", "0", name, check=False)


def networkd_complaints(name):
    exec_in(name, "systemctl enable systemd-networkd >/dev/null 2>&1; journalctl --rotate >/dev/null; "
                  "journalctl --vacuum-time=1s >/dev/null 2>&1; systemctl restart systemd-networkd")
    exec_in(name, "networkctl list >/dev/null")
    log = exec_in(name, "journalctl -b -u systemd-networkd --no-pager -o cat").stdout
    return log, [line for line in log.splitlines()
                 if re.search(r"Unknown key|Unknown section|Failed to parse|[Ii]nvalid|[Ii]gnor|is not valid", line)]


def test_networkd_parses_every_golden_file(networkd_node):
    exec_in(networkd_node, "rm -rf /etc/systemd/network/* /run/systemd/network")
    copy_dir(networkd_node, os.path.join(GOLDEN, "networkd", "n1", "etc", "systemd", "network"), "/etc/systemd/network")
    log, complaints = networkd_complaints(networkd_node)
    assert complaints == [], log
    assert "bond2: netdev could not be created" in log  # loaded; only the missing driver stops it


def test_networkd_parses_what_netplan_generates_from_the_golden_file(networkd_node, tmp_path):
    netplan = shutil.which("netplan") or "/usr/sbin/netplan"
    assert os.path.exists(netplan), "netplan.io is missing; `make deps` installs it"
    exec_in(networkd_node, "rm -rf /etc/systemd/network/* /run/systemd/network")
    shutil.copytree(os.path.join(GOLDEN, "netplan", "n2", "etc"), str(tmp_path / "etc"))
    subprocess.run([netplan, "generate", "--root-dir", str(tmp_path)], check=True, timeout=120)
    copy_dir(networkd_node, str(tmp_path / "run" / "systemd" / "network"), "/run/systemd/network")
    log, complaints = networkd_complaints(networkd_node)
    # netplan itself adds Scope=link to every route without a gateway, IPv6 too (it refuses
    # scope: global there); networkd ignores it for IPv6 with this notice. Nothing else may appear.
    quirk = "/run/systemd/network/10-netplan-eth6.network: Scope= is specified for IPv6 route. It will be ignored."
    assert [line for line in complaints if line != quirk] == [], log
    assert "bond2: netdev could not be created" in log


def test_networkd_canary_proves_the_journal_check_works(networkd_node):
    exec_in(networkd_node, "rm -rf /etc/systemd/network/* /run/systemd/network; printf '[NetDev]\\nName=bond9\\n"
                           "Kind=bond\\n\\n[Bond]\\nLACPRate=fast\\n' > /etc/systemd/network/99-canary.netdev")
    log, complaints = networkd_complaints(networkd_node)
    exec_in(networkd_node, "rm -f /etc/systemd/network/99-canary.netdev")
    assert any("LACPRate" in line for line in complaints), log


def run_role(cluster, tmp_path, links):
    """The links role on the two nodes with ``links`` as fabric_links (networkd, applied)."""
    inventory = tb_inventory.write_cluster(str(tmp_path / "inventory.json"), "lnk", cluster.topo.prefix,
                                           cluster.topo.node_ids, {"fabric_links": links, "fabric_links_backend": "networkd",
                                                                   "fabric_links_apply": True})
    play = tmp_path / "play.yml"
    play.write_text("- name: Fabric links\n  hosts: lnk\n  gather_facts: false\n"
                    "  roles:\n    - clusterfabric.multilink.links\n")
    return tb_inventory.ansible("ansible-playbook", inventory, play, timeout=600)


def test_role_brings_up_a_plain_link_live_and_leaves_other_interfaces_alone(two_nodes, tmp_path):
    # Link fab0 is a fabric link with a second address block (offset 100); link fab1 is not in
    # fabric_links and stands for the management interface.
    bed = two_nodes
    links = [{"name": "fab0", "subnet": "198.18.0.0/24", "offset": 100, "device": "eth0", "mtu": 1400},
             {"name": "lnkc", "subnet": "198.18.122.0/24", "device": "bond7",
              "bond": {"mode": "active-backup", "members": ["eth7", "eth8"], "primary": "eth7"}}]
    result = run_role(bed, tmp_path, links)
    assert result.returncode == 0, result.stdout
    assert "Reconfigure the changed fabric links" in result.stdout
    for host, own in (("n1", "198.18.0.101"), ("n2", "198.18.0.102")):
        fabric, other = bed.topo.device("fab0"), bed.topo.device("fab1")
        shown = json.loads(bed.run(host, "ip -j addr show").stdout)
        by_dev = dict((i["ifname"], i) for i in shown)
        assert own in [a["local"] for a in by_dev[fabric]["addr_info"]], shown
        assert by_dev[fabric]["mtu"] == 1400
        assert bed.plan[host]["fab1"][0] in [a["local"] for a in by_dev[other]["addr_info"]]
        assert by_dev[other]["mtu"] == 1500
        status = bed.run(host, "networkctl list --no-legend --no-pager").stdout
        assert re.search(r"\b%s\s+\S+\s+\S+\s+unmanaged" % other, status), status
        assert re.search(r"\b%s\s+\S+\s+\S+\s+(configured|configuring)" % fabric, status), status
        log = bed.run(host, "journalctl -b -u systemd-networkd --no-pager -o cat").stdout
        assert not re.search(r"Unknown key|Unknown section|Failed to parse", log), log
    bed.run("n1", "ping -c 3 -W 2 -I 198.18.0.101 198.18.0.102")
    again = run_role(bed, tmp_path, links)
    assert again.returncode == 0, again.stdout
    assert re.search(r"^n1\s*: ok=\d+\s+changed=0 ", again.stdout, re.M), again.stdout
    assert "Reconfigure the changed fabric links" not in again.stdout


def test_networkmanager_loads_every_golden_keyfile(parsers):
    exec_in(parsers, "rm -f /etc/NetworkManager/system-connections/*")
    copy_dir(parsers, os.path.join(GOLDEN, "networkmanager", "n1", "etc", "NetworkManager", "system-connections"),
             "/etc/NetworkManager/system-connections")
    exec_in(parsers, "chown root:root /etc/NetworkManager/system-connections/*; "
                     "chmod 600 /etc/NetworkManager/system-connections/*; "
                     "journalctl --rotate >/dev/null; journalctl --vacuum-time=1s >/dev/null 2>&1; "
                     "nmcli connection reload")
    names = exec_in(parsers, "nmcli -t -f NAME connection show").stdout.split()
    files = os.listdir(os.path.join(GOLDEN, "networkmanager", "n1", "etc", "NetworkManager", "system-connections"))
    expected = sorted(f[:-len(".nmconnection")] for f in files)
    assert sorted(name for name in names if name.startswith("10-fabric")) == expected

    def get(profile, fields):
        return exec_in(parsers, "nmcli -g %s connection show %s" % (fields, profile)).stdout.splitlines()

    assert get("10-fabric-bond2", "bond.options,802-3-ethernet.mtu,ipv4.addresses") == [
        "mode=802.3ad,lacp_rate=fast,miimon=100,xmit_hash_policy=layer3+4", "9000", "198.18.66.11/24"]
    assert get("10-fabric-bond1", "bond.options,connection.autoconnect-slaves") == [
        "mode=active-backup,miimon=100,primary=eth2", "1"]
    assert get("10-fabric-bond1-port-eth2", "connection.master,connection.slave-type,connection.interface-name") == [
        "bond1", "bond", "eth2"]
    assert get("10-fabric-bond4", "bond.options,ipv4.addresses") == [
        "mode=balance-xor,miimon=50,xmit_hash_policy=layer2+3", "198.18.70.12/24, 198.18.70.13/24"]
    assert get("10-fabric-eth7", "ipv4.routes,ipv4.routing-rules,ipv4.never-default") == [
        "198.18.68.0/24 198.18.67.1 103, 198.18.69.0/24 198.18.67.1 103, 198.18.67.0/24 table=1004, "
        "0.0.0.0/0 198.18.67.1 table=1004", "priority 1000 from 198.18.67.11 table 1004", "yes"]
    assert get("10-fabric-eth6", "ipv6.addresses,ipv6.routing-rules,ipv4.method,802-3-ethernet.mtu") == [
        "2001\\:db8\\:64\\:\\:b/64", "priority 1000 from 2001\\:db8\\:64\\:\\:b table 1006", "disabled", "9000"]
    log = exec_in(parsers, "journalctl -u NetworkManager --no-pager -o cat").stdout
    assert not [line for line in log.splitlines() if "keyfile:" in line and "10-fabric" in line], log
    assert not re.search(r"keyfile: .*(invalid|ignoring|unknown)", log), log


def test_networkmanager_canary_proves_the_journal_check_works(parsers):
    exec_in(parsers, "printf '[connection]\\nid=canary\\nuuid=0b6e3c7e-5d8b-4a44-9a57-1c0f3f6a7d11\\ntype=bond\\n"
                     "interface-name=bond9\\n\\n[bond]\\nmode=802.3ad\\nlacp-rate=fast\\n' "
                     "> /etc/NetworkManager/system-connections/canary.nmconnection; "
                     "chmod 600 /etc/NetworkManager/system-connections/canary.nmconnection; nmcli connection reload")
    log = exec_in(parsers, "journalctl -u NetworkManager --no-pager -o cat").stdout
    exec_in(parsers, "rm -f /etc/NetworkManager/system-connections/canary.nmconnection; nmcli connection reload")
    assert re.search(r"keyfile: .*ignoring invalid bond option \"lacp-rate\"", log), log


def test_ifupdown2_accepts_the_golden_stanzas(parsers):
    for host in ("n1", "n2"):
        exec_in(parsers, "mkdir -p /tmp/%s" % host)
        podman("cp", os.path.join(GOLDEN, "ifupdown", host, "etc", "network", "interfaces.d", "10-fabric-links"),
               "%s:/tmp/%s/links" % (parsers, host))
        result = exec_in(parsers, "ifup -a -s -i /tmp/%s/links" % host, check=False)
        assert result.returncode == 0 and "warning" not in result.stderr + result.stdout, result.stderr
    known = set(re.findall(r"^\s{2}([a-z][a-z0-9-_]+)$", exec_in(parsers, "ifquery --syntax-help").stdout, re.M))
    used = set(re.findall(r"^[ \t]+([a-z][a-z0-9-_]+)[ \t]", open(os.path.join(
        GOLDEN, "ifupdown", "n1", "etc", "network", "interfaces.d", "10-fabric-links")).read(), re.M))
    assert {"bond-slaves", "bond-mode", "bond-miimon", "bond-primary", "bond-xmit-hash-policy",
            "bond-lacp-rate", "address", "mtu", "post-up", "pre-down"} <= used
    assert used - known == set(), used - known
    merged = exec_in(parsers, "ifquery -i /tmp/n1/links bond4").stdout
    assert "address 198.18.70.12/24" in merged and "address 198.18.70.13/24" in merged


def test_ifupdown2_canary_proves_the_syntax_check_works(parsers):
    exec_in(parsers, "printf 'auto bond9\\niface bond9 inet static\\n    address 198.18.64.1/24\\n"
                     "    bond-slaves eth1\\n    bond-mode lacp\\n' > /tmp/canary")
    assert exec_in(parsers, "ifup -a -s -i /tmp/canary", check=False).returncode != 0
