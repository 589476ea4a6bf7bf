# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fabric_nat and the nat role on a live three-node podman cluster under strict rp_filter.

Traffic checks use benchmarks/nat_probe.py (copied into the nodes): each peer answers a connection with the address
it arrived at and the source address it came from, so one line shows the lane a connection
took and whether SNAT made the source match the link. Under strict rp_filter a connection
moved to another link without SNAT is dropped by the peer (checked first, so the bed cannot
pass for the wrong reason). The rules are applied through nat_apply with the containers as
hosts (fast), and through ansible-playbook for the module and the role.

The cluster is the test bed's (tests/lib/testbed): containers and networks cfm-nat-live-*, links
198.18.4.0/24 (eth0) and 198.18.5.0/24 (eth1).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import address_plan, nat_rules

from testbed import inventory as tb_inventory
from testbed.podman import ROOT, podman

LINKS = [{"name": "fab0", "subnet": "198.18.4.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.18.5.0/24", "device": "eth1"}]
DEVICES = dict((link["name"], link["device"]) for link in LINKS)
NODES = {"n1": 1, "n2": 2, "n3": 3}
STRICT = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}
GROUP = "natlive"
PREFIX = "cfm-nat-live"
PROBE = os.path.join(ROOT, "benchmarks", "nat_probe.py")
PROBE_IN_NODE = "/usr/local/bin/nat_probe.py"
FOREIGN_NFT = ("table inet handmade {\n\tset keep {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.1 }\n\t}\n\n"
               "\tchain out {\n\t\ttype filter hook output priority 10; policy accept;\n"
               "\t\tip daddr @keep counter\n\t}\n}\n")
FOREIGN_IPT = ("iptables -t nat -N HANDMADE && iptables -t nat -A HANDMADE -d 192.0.2.2/32 -j RETURN && "
               "iptables -t nat -A OUTPUT -j HANDMADE && iptables -t nat -A POSTROUTING -o eth9 -j MASQUERADE && "
               "iptables -N HANDF && iptables -A HANDF -s 192.0.2.3/32 -j ACCEPT && iptables -A OUTPUT -j HANDF")


@pytest.fixture(scope="module")
def bed(testbed):
    cluster = testbed(GROUP, PREFIX, NODES, {"fabric_links": LINKS, "testbed_sysctls": STRICT})
    try:
        for host in cluster.hosts:
            cluster.copy(host, PROBE, PROBE_IN_NODE)
        for host in ("n2", "n3"):
            cluster.background(host, "python3 %s serve 3001 3002" % PROBE_IN_NODE)
        for host in ("n2", "n3"):
            for port in (3001, 3002):
                cluster.wait_listening(host, port)
        yield cluster
    finally:
        cluster.down()


def addr(bed, host, link, port=3001):
    return "%s:%d" % (bed.plan[host][link][0], port)


def link_of(bed, address):
    return next(link for host in bed.plan for link, values in bed.plan[host].items() if address in values)


def probe(bed, rounds, targets, host="n1", timeout=10):
    """[(target, local, remote, error)]: a connection that should work gets 10 s, so a slow CPU
    on a loaded machine does not pass for a rule that lost it; the error says what failed."""
    out = bed.run(host, "python3 %s probe %d %s %s" % (PROBE_IN_NODE, rounds, timeout, " ".join(targets))).stdout
    return [tuple(row) for row in json.loads(out)]


def node_links():
    return [{"name": link["name"], "device": link["device"]} for link in LINKS]


def apply(bed, host="n1", backend="nftables", persist=False, **options):
    model = nat_rules.build(bed.plan, host, node_links(), ports=[3001], **options)
    return nat_apply.converge(bed.node(host), nat_rules.node_rules(model, backend), backend=backend, persist=persist)


def remove(bed, host="n1"):
    return nat_apply.converge(bed.node(host), None)


def assert_snat_matches_the_link(bed, rows):
    for target, local, remote, error in rows:
        if local is None:
            # What the connection tracking had of it: a reused entry with another NAT binding?
            tracked = bed.run("n1", "grep -F 'dst=%s ' /proc/net/nf_conntrack | grep -F 'dport=%s '; true"
                              % tuple(target.rsplit(":", 1))).stdout
            raise AssertionError("connection to %s failed (%s); n1's conntrack entries to it:\n%s" % (target, error, tracked))
        assert link_of(bed, local) == link_of(bed, remote), (target, local, remote)
        assert remote in bed.plan["n1"][link_of(bed, local)]


def assert_rotation(sequence, lanes):
    """sequence follows lanes cyclically from some offset (the counters may not start at 0)."""
    size = len(lanes)
    offsets = [k for k in range(size) if all(got == lanes[(i + k) % size] for i, got in enumerate(sequence))]
    assert offsets, "%s is not a rotation of %s" % (sequence, lanes)


def our_objects(bed, host="n1"):
    """Every object of the module on a node, as text."""
    return bed.run(host, "nft list tables | grep clusterfabric_multilink; "
                         "iptables-save -t nat | grep -- CFML-; "
                         "ls /etc/clusterfabric-multilink /etc/systemd/system/clusterfabric-multilink-nat.service "
                         "/var/lib/clusterfabric-multilink 2>/dev/null; true").stdout


def foreign_objects(bed, host="n1"):
    return bed.run(host, "nft list table inet handmade; iptables-save | grep -v '^#' | "
                         "grep -E 'HANDMADE|HANDF|MASQUERADE'").stdout


# ---------------------------------------------------------------------------- rules, live
def test_strict_rp_filter_drops_a_moved_connection_without_snat(bed):
    remove(bed)
    apply(bed)
    bed.run("n1", "nft flush chain ip clusterfabric_multilink postrouting")
    rows = probe(bed, 1, [addr(bed, "n2", "fab0")] * 2, timeout=3)
    assert [row[1] for row in rows] == [bed.plan["n2"]["fab0"][0], None]
    assert rows[1][3].startswith("connect: timeout after"), rows
    # The module notices the tables changed by hand and restores them.
    assert apply(bed)["changed"]
    rows = probe(bed, 2, [addr(bed, "n2", "fab0")])
    assert sorted(link_of(bed, row[1]) for row in rows) == ["fab0", "fab1"]
    assert_snat_matches_the_link(bed, rows)


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_rotation_is_exact_per_peer_even_when_connections_interleave(bed, backend):
    apply(bed, backend=backend)
    targets = [addr(bed, "n2", "fab0"), addr(bed, "n3", "fab0"), addr(bed, "n3", "fab0"),
               addr(bed, "n2", "fab1"), addr(bed, "n2", "fab0", 3002)]
    rows = probe(bed, 6, targets)
    assert_snat_matches_the_link(bed, rows)
    for peer in ("n2", "n3"):
        sequence = [link_of(bed, local) for target, local, dummy, dummy in rows
                    if target.endswith(":3001") and local in bed.plan[peer].get("fab0", []) + bed.plan[peer]["fab1"]]
        assert len(sequence) == 12
        assert_rotation(sequence, ["fab0", "fab1"])
    untouched = [local for target, local, dummy, dummy in rows if target.endswith(":3002")]
    assert untouched == [bed.plan["n2"]["fab0"][0]] * 6


def test_weights_expand_into_lanes(bed):
    apply(bed, weights={"fab1": 2})
    rows = probe(bed, 9, [addr(bed, "n2", "fab0"), addr(bed, "n3", "fab1")])
    assert_snat_matches_the_link(bed, rows)
    for peer in ("n2", "n3"):
        sequence = [link_of(bed, local) for dummy, local, dummy, dummy in rows if local in bed.plan[peer]["fab0"] + bed.plan[peer]["fab1"]]
        assert_rotation(sequence, ["fab1", "fab0", "fab1"])
        assert sequence.count("fab1") == 6


def test_spread_primary_moves_only_connections_to_the_primary_address(bed):
    apply(bed, spread="primary")
    rows = probe(bed, 6, [addr(bed, "n2", "fab1"), addr(bed, "n2", "fab0")])
    assert_snat_matches_the_link(bed, rows)
    to_secondary = [local for target, local, dummy, dummy in rows if target == addr(bed, "n2", "fab1")]
    to_primary = [link_of(bed, local) for target, local, dummy, dummy in rows if target == addr(bed, "n2", "fab0")]
    assert to_secondary == [bed.plan["n2"]["fab1"][0]] * 6
    assert_rotation(to_primary, ["fab0", "fab1"])


def test_random_mode_uses_every_link(bed):
    apply(bed, mode="random")
    rows = probe(bed, 40, [addr(bed, "n2", "fab0")])
    assert_snat_matches_the_link(bed, rows)
    links = [link_of(bed, row[1]) for row in rows]
    assert links.count("fab0") >= 5 and links.count("fab1") >= 5


def test_established_connections_keep_their_link_when_the_rules_change(bed):
    apply(bed)
    files = []
    for index in range(2):
        path = "/tmp/hold%d" % index
        bed.run("n1", "rm -f %s %s.stop; setsid python3 %s hold %s %s >/dev/null 2>&1 </dev/null &"
                % (path, path, PROBE_IN_NODE, path, addr(bed, "n2", "fab0")))
        deadline = time.time() + 10
        while not bed.run("n1", "cat %s 2>/dev/null; true" % path).stdout.strip():
            assert time.time() < deadline
            time.sleep(0.1)
        files.append(path)

    def state():
        return [bed.run("n1", "cat %s" % path).stdout.split() for path in files]
    first = state()
    assert sorted(link_of(bed, row[0]) for row in first) == ["fab0", "fab1"]
    # New weights, then another backend: new connections follow, open ones keep their lane.
    apply(bed, weights={"fab0": 3})
    apply(bed, backend="iptables", weights={"fab1": 3})
    time.sleep(0.5)
    later = state()
    for before, after in zip(first, later):
        assert after[:2] == before[:2], (before, after)
        assert int(after[2]) > int(before[2])
    bed.run("n1", "touch %s" % " ".join(path + ".stop" for path in files))
    remove(bed)


def test_persistence_brings_the_rules_back_after_a_restart_and_a_reboot(bed):
    host = bed.node("n1")
    remove(bed)
    for backend in ("nftables", "iptables"):
        assert apply(bed, backend=backend, persist=True)["changed"]
        wanted = our_objects(bed)
        assert "clusterfabric-multilink-nat.service" in wanted
        if backend == "nftables":
            bed.run("n1", "nft delete table ip clusterfabric_multilink")
        else:
            bed.run("n1", "iptables -t nat -D OUTPUT -j CFML-OUTPUT; iptables -t nat -F CFML-n2-3001")
        assert our_objects(bed) != wanted
        bed.run("n1", "systemctl restart clusterfabric-multilink-nat.service")
        bed.run("n1", "systemctl restart clusterfabric-multilink-nat.service")
        assert our_objects(bed) == wanted
        assert not apply(bed, backend=backend, persist=True)["changed"]
        podman("restart", "--time", "0", bed.container("n1"))
        bed.wait_for_systemd("n1")
        assert bed.run("n1", "systemctl is-active clusterfabric-multilink-nat.service").stdout.strip() == "active"
        assert our_objects(bed) == wanted
        assert bed.run("n1", "iptables-save -t nat | grep -c -- '-j CFML-OUTPUT$'; true").stdout.strip() == \
            ("1" if backend == "iptables" else "0")
        assert not apply(bed, backend=backend, persist=True)["changed"]
        rows = probe(bed, 2, [addr(bed, "n2", "fab0")])
        assert sorted(link_of(bed, row[1]) for row in rows) == ["fab0", "fab1"]
        assert_snat_matches_the_link(bed, rows)
    assert nat_apply.converge(host, None)["changed"]
    assert our_objects(bed) == ""
    bed.shape("n1")


def test_ipv6_tables_load_and_stay_in_sync_next_to_ipv4(bed):
    """Dual-stack plan: ip and ip6 tables (or iptables and ip6tables chains) in the kernel."""
    links = LINKS + [{"name": "v6a", "subnet": "2001:db8:4::/64"}, {"name": "v6b", "subnet": "2001:db8:5::/64"}]
    plan = address_plan.plan_addresses(NODES, links)
    devices = [{"name": "fab0", "device": DEVICES["fab0"]}, {"name": "fab1", "device": DEVICES["fab1"]},
               {"name": "v6a", "device": DEVICES["fab0"]}, {"name": "v6b", "device": DEVICES["fab1"]}]
    model = nat_rules.build(plan, "n1", devices)
    assert model["families"] == ["ipv4", "ipv6"]
    host = bed.node("n1")
    for backend in ("nftables", "iptables"):
        rules = nat_rules.node_rules(model, backend)
        assert nat_apply.converge(host, rules, backend=backend, persist=False)["changed"]
        assert not nat_apply.converge(host, rules, backend=backend, persist=False)["changed"]
        if backend == "nftables":
            shown = bed.run("n1", "nft list table ip6 clusterfabric_multilink").stdout
            assert "dnat to numgen inc mod 2 map { 0 : 2001:db8:4::c, 1 : 2001:db8:5::c }" in shown
        else:
            shown = bed.run("n1", "ip6tables-save -t nat").stdout
            assert "-A CFML-n2-3001 -j DNAT --to-destination 2001:db8:5::c" in shown
            assert "-A OUTPUT -j CFML-OUTPUT" in shown
    assert nat_apply.converge(host, None)["changed"]
    assert our_objects(bed) == "" and "CFML" not in bed.run("n1", "ip6tables-save -t nat").stdout


# ---------------------------------------------------------------------------- through Ansible
def write_inventory(bed, path, **group_vars):
    """The bed's hosts with ``group_vars`` (fabric_nat_devices: what the plays below give the module)."""
    return tb_inventory.write_cluster(str(path), GROUP, PREFIX, NODES, dict(
        {"fabric_links": LINKS, "fabric_nat_devices": DEVICES}, **group_vars))


def playbook(inventory, play, *args):
    """Run ansible-playbook with the json callback; returns (rc, {task name: {host: result}}, stats)."""
    result = tb_inventory.ansible("ansible-playbook", inventory, play, *args, json=True, timeout=600)
    tasks, stats = tb_inventory.tasks(result)
    return result.returncode, tasks, stats


MODULE_PLAY = """
- name: fabric_nat on one node
  hosts: n1
  gather_facts: false
  tasks:
    - name: Steer
      clusterfabric.multilink.fabric_nat:
        plan: >-
          {{ dict(groups[fabric_cluster_group]
                  | zip(groups[fabric_cluster_group] | map('extract', hostvars, 'fabric_node_id')))
             | clusterfabric.multilink.fabric_addresses(fabric_links) }}
        node: "{{ inventory_hostname }}"
        links: "{{ fabric_nat_devices | dict2items(key_name='name', value_name='device') }}"
        backend: "{{ backend | default('nftables') }}"
        state: "{{ nat_state | default('present') }}"
"""


def test_module_check_mode_diff_idempotence_backends_and_absent_leave_others_alone(bed, tmp_path):
    remove(bed)
    podman("exec", "-i", bed.container("n1"), "nft", "-f", "-", input=FOREIGN_NFT)
    bed.run("n1", FOREIGN_IPT)
    foreign = foreign_objects(bed)
    assert "HANDMADE" in foreign and "192.0.2.1" in foreign
    inventory = write_inventory(bed, tmp_path / "inventory.json")
    play = tmp_path / "play.yml"
    play.write_text(MODULE_PLAY)

    rc, tasks, dummy = playbook(inventory, str(play), "--check", "--diff")
    steer = tasks["Steer"]["n1"]
    assert rc == 0 and steer["changed"], steer
    assert [d["before_header"] for d in steer["diff"]][:1] == ["nftables tables clusterfabric_multilink (live)"]
    assert "table ip clusterfabric_multilink {" in steer["diff"][0]["after"]
    assert our_objects(bed) == ""

    rc, tasks, dummy = playbook(inventory, str(play))
    steer = tasks["Steer"]["n1"]
    assert rc == 0 and steer["changed"] and steer["rules"]["peers"][0]["peer"] == "n2"
    assert steer["ruleset"] == bed.run("n1", "cat /etc/clusterfabric-multilink/nat.nft").stdout
    assert "table ip clusterfabric_multilink" in our_objects(bed)
    rows = probe(bed, 2, [addr(bed, "n3", "fab0")])
    assert sorted(link_of(bed, row[1]) for row in rows) == ["fab0", "fab1"]

    rc, tasks, dummy = playbook(inventory, str(play))
    assert rc == 0 and not tasks["Steer"]["n1"]["changed"]

    rc, tasks, dummy = playbook(inventory, str(play), "-e", "backend=iptables")
    assert rc == 0 and tasks["Steer"]["n1"]["changed"]
    assert "clusterfabric_multilink" not in bed.run("n1", "nft list tables").stdout
    assert "-A OUTPUT -j CFML-OUTPUT" in our_objects(bed)
    assert foreign_objects(bed) == foreign
    rc, tasks, dummy = playbook(inventory, str(play), "-e", "backend=iptables")
    assert rc == 0 and not tasks["Steer"]["n1"]["changed"]

    rc, tasks, dummy = playbook(inventory, str(play), "-e", "nat_state=absent")
    assert rc == 0 and tasks["Steer"]["n1"]["changed"]
    assert our_objects(bed) == ""
    assert foreign_objects(bed) == foreign
    rc, tasks, dummy = playbook(inventory, str(play), "-e", "nat_state=absent")
    assert rc == 0 and not tasks["Steer"]["n1"]["changed"]


BAD_PLAY = """
- name: bad input changes nothing
  hosts: n1
  gather_facts: false
  vars:
    plan: >-
      {{ dict(groups[fabric_cluster_group]
              | zip(groups[fabric_cluster_group] | map('extract', hostvars, 'fabric_node_id')))
         | clusterfabric.multilink.fabric_addresses(fabric_links) }}
    links: "{{ fabric_nat_devices | dict2items(key_name='name', value_name='device') }}"
  tasks:
    - name: Node not in the plan
      clusterfabric.multilink.fabric_nat: {plan: "{{ plan }}", node: n9, links: "{{ links }}"}
      ignore_errors: true
    - name: Device that would inject
      clusterfabric.multilink.fabric_nat:
        plan: "{{ plan }}"
        node: n1
        links: [{name: fab0, device: "eth0\\" snat to 1.2.3.4"}, {name: fab1, device: eth1}]
      ignore_errors: true
    - name: Port out of range
      clusterfabric.multilink.fabric_nat: {plan: "{{ plan }}", node: n1, links: "{{ links }}", ports: [0]}
      ignore_errors: true
    - name: Without the tools
      block:
        - name: Hide nft and iptables-restore
          ansible.builtin.command: mv /usr/sbin/{{ item }} /usr/sbin/{{ item }}.hidden
          changed_when: true
          loop: [nft, iptables-restore]
        - name: nft missing
          clusterfabric.multilink.fabric_nat: {plan: "{{ plan }}", node: n1, links: "{{ links }}", weights: {fab1: 5}}
          ignore_errors: true
        - name: iptables-restore missing
          clusterfabric.multilink.fabric_nat: {plan: "{{ plan }}", node: n1, links: "{{ links }}", backend: iptables}
          ignore_errors: true
      always:
        - name: Bring the tools back
          ansible.builtin.shell: for t in nft iptables-restore; do test -e /usr/sbin/$t.hidden && mv /usr/sbin/$t.hidden /usr/sbin/$t; done; true
          changed_when: true
"""


def test_bad_input_and_missing_tools_fail_naming_the_item_and_apply_nothing(bed, tmp_path):
    remove(bed)
    apply(bed, persist=True)
    before = our_objects(bed) + bed.run("n1", "nft list table ip clusterfabric_multilink").stdout
    inventory = write_inventory(bed, tmp_path / "inventory.json")
    play = tmp_path / "bad.yml"
    play.write_text(BAD_PLAY)
    rc, tasks, dummy = playbook(inventory, str(play))
    assert rc == 0
    expected = {
        "Node not in the plan": "node 'n9' is not a host of the plan (hosts: n1, n2, n3)",
        "Device that would inject": "link fab0: device 'eth0\" snat to 1.2.3.4' is not a safe interface name",
        "Port out of range": "ports: 0 is not a TCP port",
        "nft missing": "the nft command is missing on this host; install the Debian package nftables",
        "iptables-restore missing": "the iptables-restore command is missing on this host; install the Debian "
                                    "package iptables",
    }
    for name, message in expected.items():
        result = tasks[name]["n1"]
        assert result["failed"] and message in result["msg"], (name, result["msg"])
    assert our_objects(bed) + bed.run("n1", "nft list table ip clusterfabric_multilink").stdout == before
    remove(bed)


ROLE_PLAY = """
- name: nat role
  hosts: all
  gather_facts: false
  roles:
    - clusterfabric.multilink.nat
"""


def test_role_strategies_balanced_single_native(bed, tmp_path):
    for host in bed.hosts:
        remove(bed, host)
    play = tmp_path / "role.yml"
    play.write_text(ROLE_PLAY)
    # The link watchdog has its own live test (test_linkwatch_live.py); here only the rules count.
    balanced = write_inventory(bed, tmp_path / "balanced.json", fabric_nat_watchdog_enabled=False)
    rc, tasks, stats = playbook(balanced, str(play))
    assert rc == 0, tasks
    assert all(stats[host]["changed"] == 1 for host in bed.hosts), stats
    assert all(not result.get("changed") for result in tasks["Install the firewall tool of the backend"].values())
    rows = probe(bed, 3, [addr(bed, "n2", "fab1"), addr(bed, "n3", "fab0")])
    assert_snat_matches_the_link(bed, rows)
    to_secondary = [link_of(bed, local) for target, local, dummy, dummy in rows if target == addr(bed, "n2", "fab1")]
    assert set(to_secondary) == {"fab0", "fab1"}
    rc, tasks, stats = playbook(balanced, str(play))
    assert rc == 0 and all(stats[host]["changed"] == 0 for host in bed.hosts), stats

    single = write_inventory(bed, tmp_path / "single.json", fabric_strategy="single",
                             fabric_nat_install_packages=False, fabric_nat_watchdog_enabled=False)
    applied = dict((host, our_objects(bed, host) + bed.run(host, "nft list ruleset; cat /etc/clusterfabric-"
                                                                 "multilink/nat.nft").stdout) for host in bed.hosts)
    rc, tasks, stats = playbook(single, str(play), "--check", "--diff")
    assert rc == 0 and all(r["changed"] for r in tasks["Steer fabric connections over every link"].values())
    assert applied == dict((host, our_objects(bed, host) + bed.run(host, "nft list ruleset; cat /etc/clusterfabric-"
                                                                         "multilink/nat.nft").stdout)
                           for host in bed.hosts)
    rc, tasks, stats = playbook(single, str(play))
    assert rc == 0 and all(stats[host]["changed"] == 1 for host in bed.hosts), stats
    rows = probe(bed, 4, [addr(bed, "n2", "fab1"), addr(bed, "n2", "fab0")])
    assert_snat_matches_the_link(bed, rows)
    assert [local for target, local, dummy, dummy in rows if target == addr(bed, "n2", "fab1")] == [bed.plan["n2"]["fab1"][0]] * 4
    assert sorted(link_of(bed, local) for target, local, dummy, dummy in rows
                  if target == addr(bed, "n2", "fab0")) == ["fab0", "fab0", "fab1", "fab1"]

    native = write_inventory(bed, tmp_path / "native.json", fabric_strategy="native")
    rc, tasks, stats = playbook(native, str(play))
    assert rc == 0 and all(stats[host]["changed"] == 1 for host in bed.hosts), stats
    assert "Install the firewall tool of the backend" not in tasks or all(
        r.get("skipped") for r in tasks["Install the firewall tool of the backend"].values())
    for host in bed.hosts:
        assert our_objects(bed, host) == ""
