# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fabric_nat and the nat role through real ansible-playbook / ansible-doc runs.

Everything here runs on the controller with apply=false or fails before the module touches
anything, so the machine running the tests is never changed; the live behaviour is in
tests/integration/test_nat_live.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import sys

from ansible_cli import run_ansible


INVENTORY = {"all": {"children": {"fab": {
    "hosts": {"db1": {"fabric_node_id": 1}, "db2": {"fabric_node_id": 2}, "db3": {"fabric_node_id": 3}},
    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
             "fabric_cluster_group": "fab", "fabric_ports": [3001, 3002],
             "fabric_links": [{"name": "fab0", "subnet": "198.18.0.0/24", "device": "eth0"},
                              {"name": "fab1", "subnet": "198.18.1.0/24", "device": "eth1"}]}}}}}

PLAN = ("{{ dict(groups['fab'] | zip(groups['fab'] | map('extract', hostvars, 'fabric_node_id')))"
        " | clusterfabric.multilink.fabric_addresses(fabric_links) }}")


def ansible(tool, *args):
    return run_ansible(tool, *args)


def playbook(tmp_path, tasks, hosts="db1"):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(INVENTORY))
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"name": "fabric_nat", "hosts": hosts, "gather_facts": False,
                                 "tasks": tasks}]))
    return ansible("ansible-playbook", "-i", str(inventory), str(play))


def run_role(tmp_path, *args, **group_vars):
    """Run the nat role on db1 with INVENTORY's group vars changed by ``group_vars``."""
    inventory = tmp_path / "inventory.json"
    data = json.loads(json.dumps(INVENTORY))
    data["all"]["children"]["fab"]["vars"].update(group_vars)
    inventory.write_text(json.dumps(data))
    play = tmp_path / "play.yml"
    play.write_text("- name: nat\n  hosts: db1\n  gather_facts: false\n"
                    "  roles:\n    - clusterfabric.multilink.nat\n")
    return ansible("ansible-playbook", "-i", str(inventory), str(play), *args)


def test_apply_false_returns_rules_and_ruleset(tmp_path):
    out = tmp_path / "result.json"
    result = playbook(tmp_path, [
        {"name": "Compute", "register": "nat",
         "clusterfabric.multilink.fabric_nat": {
             "plan": PLAN, "node": "{{ inventory_hostname }}", "links": "{{ fabric_links }}",
             "ports": "{{ fabric_ports }}", "weights": {"fab1": 2}, "apply": False}},
        {"name": "Save",
         "ansible.builtin.copy": {"content": "{{ nat | to_json }}", "dest": str(out), "mode": "0600"}},
    ])
    assert result.returncode == 0, result.stdout
    nat = json.loads(out.read_text())
    assert not nat["changed"]
    peers = dict(((r["peer"], r["port"]), r) for r in nat["rules"]["peers"])
    assert set(peers) == {("db2", 3001), ("db2", 3002), ("db3", 3001), ("db3", 3002)}
    assert [lane["address"] for lane in peers[("db3", 3002)]["lanes"]] == [
        "198.18.1.13", "198.18.0.13", "198.18.1.13"]
    assert "\tchain peer_db3_3002 {" in nat["ruleset"]
    assert nat["rules"]["snat"][1] == {"link": "fab1", "device": "eth1", "family": "ipv4",
                                       "source": "198.18.1.11", "own_addresses": ["198.18.1.11"],
                                       "ports": [3001, 3002]}


BAD = [
    ({"node": "db9"}, "node 'db9' is not a host of the plan"),
    ({"links": [{"name": "fab0", "device": "eth0"}, {"name": "fab1"}]}, "link fab1 has no device"),
    ({"weights": {"fab5": 1}}, "weights: link 'fab5' is not one of the links"),
    ({"weights": {"fab0": 0}}, "weights: link fab0 has weight 0"),
    ({"ports": [70000]}, "ports: 70000 is not a TCP port"),
    ({"plan": {"db1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]}, "db2": {"fab0": ["198.18.0.12"]}}},
     "plan: peer db2 has no address on link fab1"),
    ({"links": [{"name": "fab0", "device": 'eth0" accept; #'}, {"name": "fab1", "device": "eth1"}]},
     "link fab0: device 'eth0\" accept; #' is not a safe interface name"),
    ({"links": [{"name": "fab0", "device": "eth0\nflush ruleset"}, {"name": "fab1", "device": "eth1"}]},
     "is not a safe interface name"),
    ({"links": [{"name": "fab0", "device": "eth{0}"}, {"name": "fab1", "device": "eth1"}]},
     "is not a safe interface name"),
]


def test_bad_input_fails_naming_the_item(tmp_path):
    out = tmp_path / "result.json"
    tasks = []
    for index, (override, dummy) in enumerate(BAD):
        args = {"plan": PLAN, "node": "{{ inventory_hostname }}", "links": "{{ fabric_links }}",
                "apply": False}
        args.update(override)
        tasks.append({"name": "Bad input %d" % index, "register": "bad%d" % index, "ignore_errors": True,
                      "clusterfabric.multilink.fabric_nat": args})
    tasks.append({"name": "Save", "ansible.builtin.copy": {
        "content": "{{ [%s] | map(attribute='msg') | list | to_json }}" % ", ".join(
            "bad%d" % i for i in range(len(BAD))), "dest": str(out), "mode": "0600"}})
    result = playbook(tmp_path, tasks)
    assert result.returncode == 0, result.stdout
    messages = json.loads(out.read_text())
    for (dummy, expected), message in zip(BAD, messages):
        assert expected in message, (expected, message)


def test_role_refuses_an_unknown_strategy_before_any_task(tmp_path):
    result = run_role(tmp_path, fabric_strategy="fastest")
    assert result.returncode != 0
    assert "fabric_strategy" in result.stdout and "balanced, single, native" in result.stdout
    assert "Steer fabric connections" not in result.stdout


def test_apply_false_with_watchdog_returns_the_daemon_configuration(tmp_path):
    out = tmp_path / "result.json"
    result = playbook(tmp_path, [
        {"name": "Compute", "register": "nat",
         "clusterfabric.multilink.fabric_nat": {
             "plan": PLAN, "node": "{{ inventory_hostname }}", "links": "{{ fabric_links }}",
             "ports": "{{ fabric_ports }}", "watchdog": True, "apply": False}},
        {"name": "Save",
         "ansible.builtin.copy": {"content": "{{ nat | to_json }}", "dest": str(out), "mode": "0600"}},
    ])
    assert result.returncode == 0, result.stdout
    nat = json.loads(out.read_text())
    config = nat["watchdog"]
    assert config["node"] == "db1" and config["ports"] == [3001, 3002]
    assert config["peers"]["db3"] == {"fab0": ["198.18.0.13"], "fab1": ["198.18.1.13"]}
    assert [c["name"] for c in config["chains"]] == ["peer_db2_3001", "peer_db2_3002", "peer_db3_3001",
                                                     "peer_db3_3002"]
    assert "\tchain fastfail {" in nat["ruleset"] and "\t\tmeta mark 0x63666d6c accept" in nat["ruleset"]


def test_role_refuses_the_watchdog_with_iptables_before_any_change(tmp_path):
    result = run_role(tmp_path, fabric_nat_backend="iptables")
    assert result.returncode != 0
    assert "the link watchdog (fabric_nat_watchdog_enabled: true) needs" in result.stdout
    assert "set fabric_nat_watchdog_enabled: false to keep iptables" in result.stdout
    assert "Steer fabric connections" not in result.stdout and "Remove the link watchdog" not in result.stdout


def test_role_checks_the_watchdog_settings_before_any_change(tmp_path):
    result = run_role(tmp_path, fabric_nat_watchdog_probe="arp")
    assert result.returncode != 0
    assert "fabric_nat_watchdog_probe" in result.stdout and "tcp, icmp" in result.stdout
    assert "Steer fabric connections" not in result.stdout


# What the module would write on this machine: check mode must leave every one of them as it is.
WATCHED = ["/etc/clusterfabric-multilink", "/var/lib/clusterfabric-multilink", "/usr/local/lib/clusterfabric-multilink",
           "/etc/systemd/system/clusterfabric-linkwatch.service", "/etc/systemd/system/clusterfabric-multilink-nat.service"]


def test_the_role_in_check_mode_is_one_module_run_and_changes_nothing(tmp_path):
    """The contract, no package task (fabric_nat_install_packages false) and one fabric_nat run that
    reports the rules, the boot unit and the link watchdog (this machine has none of them)."""
    before = dict((path, os.path.exists(path)) for path in WATCHED)
    result = run_role(tmp_path, "--check", "--diff", fabric_nat_install_packages=False)
    assert result.returncode == 0, result.stdout[-3000:]
    tasks = re.findall(r"^TASK \[clusterfabric\.multilink\.nat : (.*?)\]", result.stdout, re.M)
    assert tasks[1:] == ["Check the inventory contract (when playbooks/site.yml has not)",
                         "Install the firewall tool of the backend", "Steer fabric connections over every link"]
    assert tasks[0].startswith("Validating arguments against arg spec 'main'")  # Ansible's own, controller only
    assert re.search(r"^skipping: \[db1\]", result.stdout.split("Install the firewall tool")[1], re.M)
    if not before["/etc/systemd/system/clusterfabric-linkwatch.service"]:
        assert "+++ after: /etc/clusterfabric-multilink/linkwatch.json" in result.stdout
        assert '"mark": 1667657068' in result.stdout and "enabled: yes\n+active: yes" in result.stdout
    assert dict((path, os.path.exists(path)) for path in WATCHED) == before


def test_the_role_with_strategy_native_removes_and_never_plans(tmp_path):
    result = run_role(tmp_path, "--check", fabric_strategy="native", fabric_nat_backend="iptables")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Install the firewall tool" in result.stdout and "Steer fabric connections" in result.stdout


def test_ansible_doc_shows_the_module_and_the_role():
    module = ansible("ansible-doc", "-t", "module", "clusterfabric.multilink.fabric_nat")
    assert module.returncode == 0, module.stdout
    for word in ("spread", "weights", "persist", "model", "watchdog_settings", "EXAMPLES", "RETURN VALUES",
                 "clusterfabric_multilink"):
        assert word in module.stdout
    role = ansible("ansible-doc", "-t", "role", "clusterfabric.multilink.nat")
    assert role.returncode == 0, role.stdout
    assert "fabric_nat_backend" in role.stdout and "fabric_strategy" in role.stdout
    assert "fabric_nat_watchdog_interval_ms" in role.stdout and "fabric_nat_watchdog_hold_down_s" in role.stdout
