# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad-input corpus through playbooks/site.yml in check mode.

Every malformed inventory must stop the run in the validation play (the play that changes
hosts never starts), and the message must name the variable, the offending value and, where
one host is at fault, that host. The cases run concurrently: each is a separate
ansible-playbook run of a few seconds.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_cli import run_ansible

APPLY_PLAY = "PLAY [Apply the fabric to every cluster]"
VALIDATE_PLAY = "PLAY [Check and plan every fabric cluster]"

BASE_GROUP = {
    "fabric_cluster_group": "c1",
    "fabric_strategy": "balanced",
    "fabric_ports": [3001],
    "fabric_links": [
        {"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
        {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"},
    ],
    "fabric_links_backend": "networkd",
    "fabric_nat_install_packages": False,
    "fabric_nat_persist": False,
    "aerospike_version": "7.2",
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2}],
}
BASE_HOSTS = {"db1": {"fabric_node_id": 1}, "db2": {"fabric_node_id": 2}}


def links(*changes):
    """BASE links with (index, key, value) changes; value None deletes the key."""
    out = copy.deepcopy(BASE_GROUP["fabric_links"])
    for index, key, value in changes:
        if value is None:
            out[index].pop(key, None)
        else:
            out[index][key] = value
    return out


# (id, group var changes, host var changes {host: {var: value}}, extra inventory groups,
#  substrings the message must contain)
CASES = [
    ("overlapping-subnets", {"fabric_links": links((1, "subnet", "198.18.0.128/25"))}, {}, {},
     ["fabric_links", "198.18.0.128/25", "overlapping"]),
    ("duplicate-node-id", {}, {"db2": {"fabric_node_id": 1}}, {},
     ["db1", "db2", "fabric_node_id 1"]),
    ("missing-node-id", {}, {"db2": {"fabric_node_id": None}}, {},
     ["db2", "fabric_node_id"]),
    ("node-id-zero", {}, {"db2": {"fabric_node_id": 0}}, {},
     ["db2", "fabric_node_id", "0"]),
    ("node-id-text", {}, {"db2": {"fabric_node_id": "two"}}, {},
     ["db2", "fabric_node_id", "two"]),
    ("capacity-overflow", {"fabric_links": links((0, "subnet", "198.18.0.0/28"))},
     {"db2": {"fabric_node_id": 9}}, {},
     ["db2", "fab0", "198.18.0.0/28"]),
    ("subnet-host-bits", {"fabric_links": links((0, "subnet", "198.18.0.7/24"))}, {}, {},
     ["fabric_links", "198.18.0.7/24", "host bits"]),
    ("subnet-newline", {"fabric_links": links((0, "subnet", "198.18.0.0/24\nx"))}, {}, {},
     ["fabric_links", "subnet", "198.18.0.0/24\\nx"]),
    ("link-name-newline", {"fabric_links": links((0, "name", "fab0\n"))}, {}, {},
     ["fabric_links[0]", "fab0\\n"]),
    ("link-name-upper", {"fabric_links": links((0, "name", "Fab0"))}, {}, {},
     ["fabric_links[0]", "Fab0"]),
    ("duplicate-link-name", {"fabric_links": links((1, "name", "fab0"))}, {}, {},
     ["fabric_links[1]", "fab0", "twice"]),
    ("no-links", {"fabric_links": []}, {}, {},
     ["fabric_links", "empty"]),
    ("exclude-outside", {"fabric_links": links((0, "exclude", ["10.0.0.1"]))}, {}, {},
     ["fab0", "exclude", "10.0.0.1"]),
    ("device-newline", {}, {"db2": {"fabric_links": links((1, "device", "eth1\nip link"))}}, {},
     ["db2", "device", "eth1\\nip link"]),
    ("device-semicolon", {"fabric_links": links((1, "device", "eth1;"))}, {}, {},
     ["device", "eth1;"]),
    ("device-too-long", {"fabric_links": links((1, "device", "eth1234567890abcdef"))}, {}, {},
     ["device", "eth1234567890abcdef"]),
    ("mtu-too-small", {"fabric_links": links((0, "mtu", 100))}, {}, {},
     ["mtu", "100"]),
    ("mtu-text", {"fabric_links": links((0, "mtu", "jumbo"))}, {}, {},
     ["mtu", "jumbo"]),
    ("port-zero", {"fabric_ports": [0]}, {}, {},
     ["fabric_ports", "0"]),
    ("port-too-big", {"fabric_ports": [70000]}, {}, {},
     ["fabric_ports", "70000"]),
    ("port-text", {"fabric_ports": ["fabric"]}, {}, {},
     ["fabric_ports", "fabric"]),
    ("port-twice", {"fabric_ports": [3001, 3001]}, {}, {},
     ["fabric_ports", "3001", "twice"]),
    ("strategy-unknown", {"fabric_strategy": "fastest"}, {}, {},
     ["fabric_strategy", "fastest"]),
    ("host-in-two-clusters", {}, {}, {"c2": ["db2", "db3"]},
     ["db2", "c2", "one cluster"]),
    ("cluster-group-not-a-group", {}, {"db2": {"fabric_cluster_group": "c9"}}, {},
     ["db2", "fabric_cluster_group", "c9"]),
    ("links-differ-per-host", {}, {"db2": {"fabric_links": links((1, "subnet", "198.18.2.0/24"))}},
     {}, ["db2", "fabric_links", "198.18.2.0/24"]),
    ("strategy-differs-per-host", {}, {"db2": {"fabric_strategy": "native"}}, {},
     ["db2", "fabric_strategy", "native"]),
    ("nat-weight-unknown-link", {"fabric_nat_weights": {"fab9": 2}}, {}, {},
     ["db1", "weights", "fab9"]),
    ("nat-weight-zero", {"fabric_nat_weights": {"fab0": 0}}, {}, {},
     ["db1", "weight", "0"]),
    ("nat-mode-unknown", {"fabric_nat_mode": "roundrobin"}, {}, {},
     ["fabric_nat_mode", "roundrobin"]),
    ("nat-primary-link-unknown", {"fabric_nat_primary_link": "fab9"}, {}, {},
     ["db1", "primary_link", "fab9"]),
    ("links-backend-unknown", {"fabric_links_backend": "systemd"}, {}, {},
     ["fabric_links_backend", "systemd"]),
    ("roles-unknown", {"fabric_roles": ["links", "dns"]}, {}, {},
     ["db1", "fabric_roles", "dns"]),
    ("aerospike-hash-in-value",
     {"aerospike_namespaces": [{"name": "test", "replication-factor": "2 # two"}]}, {}, {},
     ["db1", "aerospike_namespaces", "replication-factor", "#"]),
    ("aerospike-newline-in-value",
     {"aerospike_namespaces": [{"name": "test", "storage-engine": "memory\nservice {"}]}, {}, {},
     ["db1", "aerospike_namespaces", "storage-engine"]),
    ("aerospike-cluster-name-newline", {"aerospike_cluster_name": "c1\nproto-fd-max 1"}, {}, {},
     ["db1", "cluster-name"]),
    ("aerospike-port-zero", {"aerospike_service_port": 0}, {}, {},
     ["service", "port", "0"]),
    ("aerospike-version-bad", {"aerospike_version": "seven"}, {}, {},
     ["aerospike_version", "seven"]),
    ("aerospike-no-namespace", {"aerospike_namespaces": []}, {}, {},
     ["db1", "aerospike_namespaces"]),
]


def write_inventory(path, group_changes, host_changes, extra_groups):
    group = dict(BASE_GROUP)
    group.update(group_changes)
    hosts = copy.deepcopy(BASE_HOSTS)
    for host, changes in host_changes.items():
        hosts.setdefault(host, {})
        for name, value in changes.items():
            if value is None:
                hosts[host].pop(name, None)
            else:
                hosts[host][name] = value
    root = path / "root"
    for host in hosts:
        hosts[host].update({
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "fabric_links_root": str(root / host),
            "fabric_links_manifest": str(root / host / "manifest.json"),
            "aerospike_config_path": str(root / host / "aerospike.conf"),
        })
    children = {"c1": {"hosts": dict((h, None) for h in hosts), "vars": group}}
    for name, members in extra_groups.items():
        children[name] = {"hosts": dict((h, {"ansible_connection": "local"}) for h in members)}
        for member in members:
            if member not in hosts:
                hosts[member] = {"ansible_connection": "local", "fabric_node_id": 3,
                                 "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": hosts, "children": children}}
    (path / "hosts.json").write_text(json.dumps(inventory))
    # Extra groups that are clusters in their own right name themselves.
    (path / "group_vars").mkdir()
    for name in extra_groups:
        (path / "group_vars" / ("%s.json" % name)).write_text(json.dumps(dict(group, fabric_cluster_group=name)))
    return path / "hosts.json"


def run_case(tmp_root, case):
    name, group_changes, host_changes, extra_groups, dummy = case
    path = tmp_root / name
    path.mkdir()
    inventory = write_inventory(path, group_changes, host_changes, extra_groups)
    # Inventory and group_vars must live side by side for the group_vars directory to load.
    return run_ansible("ansible-playbook", "-i", str(inventory), "playbooks/site.yml", "--check",
                       ANSIBLE_CALLBACK_RESULT_FORMAT="yaml", ANSIBLE_FORKS="5")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("site-bad-input")
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip([case[0] for case in CASES],
                        pool.map(lambda case: run_case(root, case), CASES)))
    return runs


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert len(set(case[0] for case in CASES)) == len(CASES)


def test_the_good_inventory_passes_a_check_run(tmp_path):
    inventory = write_inventory(tmp_path, {}, {}, {})
    for host in BASE_HOSTS:
        (tmp_path / "root" / host).mkdir(parents=True)
    result = run_ansible("ansible-playbook", "-i", str(inventory), "playbooks/site.yml", "--check", "--diff",
                         ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert APPLY_PLAY in result.stdout
    assert result.stdout.count("TASK [Check the inventory contract once") == 1, result.stdout[-3000:]
    # play 2 does not check again: the roles' own contract tasks are skipped
    assert "Validating arguments against arg spec" not in result.stdout, result.stdout[-3000:]


def test_a_variable_built_from_hostvars_is_read_as_a_task_would(tmp_path):
    # The seed list names every cluster member's address through hostvars, as operators write it;
    # Ansible's hostvars[host] alone cannot template it ("'hostvars' is undefined").
    seeds = ("{{ groups[fabric_cluster_group] | map('extract', hostvars, 'seed_address')"
             " | map('regex_replace', '$', ' 3002') | list }}")
    inventory = write_inventory(tmp_path, {"aerospike_network": {"heartbeat": {"mesh-seed-address-port": seeds}}},
                                dict((host, {"seed_address": "198.18.9.%d" % (10 + index)})
                                     for index, host in enumerate(sorted(BASE_HOSTS))), {})
    for host in BASE_HOSTS:
        (tmp_path / "root" / host).mkdir(parents=True)
    result = run_ansible("ansible-playbook", "-i", str(inventory), "playbooks/site.yml", "--check", "--diff",
                         ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "mesh-seed-address-port 198.18.9.10 3002" in result.stdout, result.stdout[-3000:]


def _messages(output):
    """The failure text of the run, with YAML/JSON escapes kept as printed."""
    return "\n".join(line for line in output.splitlines()
                     if "fatal:" in line or "msg" in line or "ERROR" in line or line.startswith("  "))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_inventory_stops_before_any_host_changes(results, case):
    name, dummy, dummy2, dummy3, expected = case
    result = results[name]
    out = result.stdout
    assert result.returncode != 0, out[-3000:]
    assert VALIDATE_PLAY in out, out[-3000:]
    assert APPLY_PLAY not in out, "the apply play started:\n" + out[-3000:]
    assert not re.search(r"\bchanged=[1-9]", out), out[-3000:]
    text = _messages(out)
    missing = [part for part in expected if part not in text]
    assert not missing, "message lacks %s:\n%s" % (missing, text[-3000:])


def test_site_applies_to_two_clusters_and_is_idempotent(tmp_path):
    """A real (not check mode) run on local hosts with the roles that write under a staging root."""
    inventory = write_inventory(tmp_path, {"fabric_roles": ["links", "aerospike"]}, {}, {"c2": ["db3", "db4"]})
    for host in ("db1", "db2", "db3", "db4"):
        (tmp_path / "root" / host).mkdir(parents=True, exist_ok=True)
    # c2 is its own cluster: fix its members' node ids and roots.
    data = json.loads(inventory.read_text())
    data["all"]["hosts"]["db4"]["fabric_node_id"] = 4
    for host in ("db3", "db4"):
        data["all"]["hosts"][host].update({
            "fabric_links_root": str(tmp_path / "root" / host),
            "fabric_links_manifest": str(tmp_path / "root" / host / "manifest.json"),
            "aerospike_config_path": str(tmp_path / "root" / host / "aerospike.conf")})
    inventory.write_text(json.dumps(data))
    first = run_ansible("ansible-playbook", "-i", str(inventory), "playbooks/site.yml",
                        ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    assert first.returncode == 0, first.stdout[-4000:]
    conf = (tmp_path / "root" / "db4" / "aerospike.conf").read_text()
    assert "cluster-name c2" in conf and "198.18.1.14" in conf
    assert "198.18.0.12" in (tmp_path / "root" / "db2" / "etc" / "systemd" / "network"
                             / "10-fabric-eth0.network").read_text()
    # The second run is rolling, one host per batch.
    second = run_ansible("ansible-playbook", "-i", str(inventory), "playbooks/site.yml",
                         "-e", "fabric_serial=1", ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    assert second.returncode == 0, second.stdout[-4000:]
    assert second.stdout.count(APPLY_PLAY) == 4, second.stdout[-4000:]
    assert not re.search(r"\bchanged=[1-9]", second.stdout), second.stdout[-4000:]
