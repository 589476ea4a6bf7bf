# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link watchdog on a live two-node podman cluster under strict rp_filter.

The nat role deploys rules and watchdog in one fabric_nat run per host (check mode first, on
fresh nodes); then, in order: a carrier loss and a silent drop of link fab1 take its lane out of
the rules and bring it back, with the watchdog's journal lines; what happens while a link is down
(a role run changes nothing and keeps the failover, a reload of the tables or a restart of the
watchdog gets it back at once, probes are neither steered nor reset); the fast-fail of strategy
single (a connection to a peer's address on a dead link is reset at once, not left hanging); and
strategy native removing everything.

The failover figures under load (detection and failback times, failed connections, balance after
failback: benchmarks/failover.py with its must bounds) are measured once, by the Molecule
scenario `failover` on a cluster converged by site.yml (make molecule).

The cluster is the test bed's: containers and networks cfm-lw-live-*, links 198.19.64.0/24 (eth0)
and 198.19.65.0/24 (eth1).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply, nat_watchdog
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules

from testbed import inventory as tb_inventory
from testbed.podman import ROOT

LINKS = [{"name": "fab0", "subnet": "198.19.64.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.19.65.0/24", "device": "eth1"}]
NODE_LINKS = [{"name": link["name"], "device": link["device"]} for link in LINKS]
STRICT = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}
GROUP = "lwlive"
PREFIX = "cfm-lw-live"
PORTS = [3001, 3002]
# What the watchdog runs on (as molecule/failover and benchmarks/failover.py have it)
GROUP_VARS = {"fabric_links": LINKS, "testbed_sysctls": STRICT, "fabric_ports": PORTS, "fabric_strategy": "balanced",
              "fabric_nat_install_packages": False}
PROBE = os.path.join(ROOT, "benchmarks", "nat_probe.py")
PROBE_IN_NODE = "/usr/local/bin/nat_probe.py"
UNIT = "clusterfabric-linkwatch.service"
STATUS = "/run/clusterfabric/linkwatch.json"
CONFIG = "/etc/clusterfabric-multilink/linkwatch.json"
PLAY = "- name: nat role\n  hosts: all\n  gather_facts: false\n  roles:\n    - clusterfabric.multilink.nat\n"
STEER = "Steer fabric connections over every link"
# A connect that says how it ended: "ok LOCAL REMOTE SECONDS" or "ERRNO SECONDS" (serve answers
# with the address the connection reached and the one it came from).
CONNECT = r"""
import socket, sys, time
host, port, mark = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket()
if mark:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
sock.settimeout(1.5)
began = time.time()
try:
    sock.connect((host, port))
    print("ok", sock.recv(100).decode().strip(), round(time.time() - began, 4))
except OSError as exc:
    print(type(exc).__name__, round(time.time() - began, 4))
"""


@pytest.fixture(scope="module")
def bed(testbed):
    cluster = testbed(GROUP, PREFIX, {"n1": 1, "n2": 2}, GROUP_VARS)
    try:
        for host in cluster.hosts:
            cluster.copy(host, PROBE, PROBE_IN_NODE)
            cluster.run(host, "cat > /usr/local/bin/connect.py", stdin=CONNECT)
        yield cluster
    finally:
        cluster.down()


def playbook(bed, tmp_path, *args, **group_vars):
    """The nat role on both nodes; returns (rc, {task: {host: result}}, stats) from the json callback."""
    inventory = tb_inventory.write_cluster(str(tmp_path / "inventory.json"), GROUP, PREFIX, bed.topo.node_ids,
                                           dict(GROUP_VARS, **group_vars))
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    result = tb_inventory.ansible("ansible-playbook", inventory, play, *args, json=True)
    tasks, stats = tb_inventory.tasks(result)
    return result.returncode, tasks, stats


def status(bed, host="n1"):
    return json.loads(bed.run(host, "cat %s" % STATUS).stdout)


def lanes(bed, host="n1", peer="n2", port=3001):
    """Addresses in the rule of the peer chain, as the kernel lists it."""
    text = bed.run(host, "nft list chain ip clusterfabric_multilink peer_%s_%d" % (peer, port)).stdout
    rule = [line.strip() for line in text.splitlines() if line.strip().startswith("dnat")][0]
    return sorted(set(word.strip(",") for word in rule.split() if word.count(".") == 3))


def addr(bed, host, link):
    return bed.plan[host][link][0]


def wait_for(check, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


def wait_for_up(bed, timeout=15):
    """Until n1's watchdog has every path up."""
    assert wait_for(lambda: all(entry["state"] == "up" for links in status(bed)["peers"].values()
                                for entry in links.values()), timeout), status(bed)


# A path that fails again within the watchdog's hold-down (hold_down_s, 5 s by default) of coming
# back is a flap and stays down longer: every failure here waits that long after the last repair.
HOLD_DOWN_S = 5.0
LAST_UP = [0.0]


def break_fab1(bed, kind="silent"):
    """Link fab1 fails (testbed: ``carrier`` lost on n1's device, or n2 ``silent``ly drops it);
    returns (kind, host, repair command, the time it failed), for repair_fab1."""
    time.sleep(max(0.0, LAST_UP[0] + HOLD_DOWN_S + 0.5 - time.time()))
    wait_for_up(bed)
    host, fail, repair = bed.failure(kind, "n1", "n2", "fab1")
    began = time.time()
    bed.run(host, fail)
    return kind, host, repair, began


def repair_fab1(bed, broken, back=None):
    """Undo break_fab1; ``back``: until when the path counts as up again (default: both lanes in
    n1's rule for n2)."""
    kind, host, repair = broken[:3]
    bed.run(host, repair)
    if kind == "carrier":
        bed.shape(host)  # tbf stays across down/up; set again in case a kernel drops it
    everything = sorted([addr(bed, "n2", "fab0"), addr(bed, "n2", "fab1")])
    assert wait_for(back or (lambda: lanes(bed) == everything), 3.0), lanes(bed)
    LAST_UP[0] = time.time()


def connect(bed, target, port=3001, mark=0, host="n1"):
    return bed.run(host, "python3 /usr/local/bin/connect.py %s %d %d" % (target, port, mark)).stdout.split()


# ---------------------------------------------------------------------------- deployment
def test_check_mode_on_fresh_nodes_changes_nothing_then_the_role_starts_the_watchdog(bed, tmp_path):
    rc, tasks, stats = playbook(bed, tmp_path, "--check", "--diff")
    assert rc == 0, tasks
    for result in tasks[STEER].values():   # one module run: rules, boot unit and watchdog
        assert result["changed"]
        headers = [entry["before_header"] for entry in result["diff"]]
        assert headers[-4:] == [nat_watchdog.WATCHDOG_PROGRAM, CONFIG, "/etc/systemd/system/" + UNIT, UNIT], headers
    for host in bed.hosts:
        assert bed.run(host, "ls /etc/systemd/system/%s %s 2>/dev/null; nft list tables; true" % (UNIT, CONFIG)).stdout == ""

    rc, tasks, stats = playbook(bed, tmp_path)
    assert rc == 0, tasks
    for result in tasks[STEER].values():   # started once, not restarted
        assert result["diff"][-1]["after"] == "enabled: yes\nactive: yes\n", result["diff"][-1]
    for host in bed.hosts:
        assert bed.run(host, "systemctl is-active %s" % UNIT).stdout.strip() == "active"
        table = bed.run(host, "nft list table ip clusterfabric_multilink").stdout
        assert "set dead {" in table and "chain fastfail {" in table and "meta mark 0x63666d6c accept" in table
        config = json.loads(bed.run(host, "cat %s" % CONFIG).stdout)
        assert config["interval_ms"] == 100 and config["down_after"] == 3 and config["up_after"] == 5
        document = wait_for(lambda: all(e["state"] == "up" for e in status(bed, host)["peers"][
            "n2" if host == "n1" else "n1"].values()) and status(bed, host))
        assert document, status(bed, host)
        assert set(document) >= {"updated", "node", "links", "peers"} and document["node"] == host
        assert set(document["links"]["fab1"]) == {"device", "carrier", "state", "since"}
        assert set(document["peers"]["n2" if host == "n1" else "n1"]["fab0"]) == {
            "address", "state", "since", "probes_failed"}
        assert time.time() - document["updated"] < 5
        journal = bed.run(host, "journalctl -u %s --no-pager" % UNIT).stdout
        assert "watching 2 paths: tcp probes every 100 ms" in journal and "rules through libnftables" in journal


# ---------------------------------------------------------------------------- failover and failback
@pytest.mark.parametrize("kind", ["carrier", "silent"])
def test_a_failed_link_leaves_the_rules_and_comes_back(bed, kind):
    """Without load: the lane leaves both ports' rules and comes back, the journal says why. (The
    timing under load, with its must bounds, is molecule/failover's: benchmarks/failover.py.)"""
    one = [addr(bed, "n2", "fab0")]
    broken = break_fab1(bed, kind)
    try:
        assert wait_for(lambda: lanes(bed) == one, 3.0), lanes(bed)
        assert lanes(bed, port=3002) == one
        assert status(bed)["peers"]["n2"]["fab1"]["state"] == "down"
    finally:
        repair_fab1(bed, broken)
    assert lanes(bed, port=3002) == sorted(one + [addr(bed, "n2", "fab1")])
    # this failure's lines only (the last repair was at least the hold-down ago)
    journal = bed.run("n1", "journalctl -u %s --no-pager -o cat --since @%d" % (UNIT, int(broken[3]))).stdout
    if kind == "carrier":
        assert "link fab1 (eth1): carrier lost" in journal, journal
    else:
        assert "peer n2 link fab1 (%s): down after 3 failed probes (timeout)" % addr(bed, "n2", "fab1") in journal, journal
    assert "peer n2 link fab1 (%s): up after 5 good probes" % addr(bed, "n2", "fab1") in journal, journal


# ---------------------------------------------------------------------------- while a link is down
def test_probes_keep_their_link_while_other_connections_rotate(bed):
    pid = bed.background("n2", "python3 %s serve 3003" % PROBE_IN_NODE)
    try:
        # Steer port 3003 too, for this test only (the module's code, no watchdog restart needed).
        model = nat_rules.build(bed.plan, "n1", NODE_LINKS, ports=[3001, 3002, 3003], watchdog=True)
        nat_apply.converge(bed.node("n1"), nat_rules.node_rules(model, "nftables"), persist=True)
        bed.wait_listening("n2", 3003)
        target = addr(bed, "n2", "fab1")
        marked = [connect(bed, target, 3003, nat_rules.PROBE_MARK) for dummy in range(4)]
        assert all(row[:3] == ["ok", target, addr(bed, "n1", "fab1")] for row in marked), marked
        plain = [connect(bed, target, 3003) for dummy in range(4)]
        assert sorted(row[1] for row in plain) == sorted([addr(bed, "n2", "fab0"), target] * 2), plain
    finally:
        bed.stop("n2", pid)
        model = nat_rules.build(bed.plan, "n1", NODE_LINKS, ports=PORTS, watchdog=True)
        nat_apply.converge(bed.node("n1"), nat_rules.node_rules(model, "nftables"), persist=True)  # as the role left it


def test_while_a_link_is_down_role_runs_reloads_and_restarts_keep_the_failover(bed, tmp_path):
    one = [addr(bed, "n2", "fab0")]
    broken = break_fab1(bed)
    try:
        assert wait_for(lambda: lanes(bed) == one, 3.0), lanes(bed)
        rc, tasks, stats = playbook(bed, tmp_path)
        assert rc == 0 and all(stats[host]["changed"] == 0 for host in bed.hosts), stats
        assert lanes(bed) == one and lanes(bed, port=3002) == one

        bed.run("n1", "systemctl restart clusterfabric-multilink-nat.service")   # every lane, from the boot file
        assert wait_for(lambda: lanes(bed) == one, 2.5), "the watchdog did not notice the reload"

        bed.run("n1", "systemctl restart %s" % UNIT)     # Type=notify: returns once the rules are in place
        assert lanes(bed) == one, "a restarted watchdog put the dead lane back"
        assert status(bed)["peers"]["n2"]["fab1"]["state"] == "down"

        # A probe to the dead address is neither reset nor steered: it times out.
        probe = connect(bed, addr(bed, "n2", "fab1"), 3001, nat_rules.PROBE_MARK)
        assert probe[0] == "TimeoutError", probe
    finally:
        repair_fab1(bed, broken)


def test_strategy_single_resets_connections_to_a_dead_address_at_once(bed):
    """Aerospike picks a published address at random; under `single` only the primary address is
    steered, so a pick of the dead link's address must fail at once to send it to another one."""
    host = bed.node("n1")
    model = nat_rules.build(bed.plan, "n1", NODE_LINKS, ports=PORTS, spread="primary", watchdog=True)
    nat_apply.converge(host, nat_rules.node_rules(model, "nftables"), persist=True)
    config = json.loads(bed.run("n1", "cat %s" % CONFIG).stdout)
    config.update(nat_rules.watchdog_config(model))
    host.write(CONFIG, json.dumps(config), 0o644)
    bed.run("n1", "systemctl restart %s" % UNIT)
    server = bed.background("n2", "python3 %s serve 3001" % PROBE_IN_NODE)  # says where we arrived
    bed.wait_listening("n2", 3001)
    wait_for_up(bed)
    dead = addr(bed, "n2", "fab1")
    before = connect(bed, dead)
    assert before[:2] == ["ok", dead], before                  # unsteered, on its own link
    broken = break_fab1(bed)
    try:
        assert wait_for(lambda: status(bed)["peers"]["n2"]["fab1"]["state"] == "down", 3.0)
        reset = [connect(bed, dead) for dummy in range(3)]
        assert all(row[0] == "ConnectionRefusedError" and float(row[1]) < 0.1 for row in reset), reset
        steered = [connect(bed, addr(bed, "n2", "fab0")) for dummy in range(3)]
        assert all(row[:2] == ["ok", addr(bed, "n2", "fab0")] for row in steered), steered
        assert bed.run("n1", "nft list set ip clusterfabric_multilink dead").stdout.count("%s . 300" % dead) == 2
    finally:
        repair_fab1(bed, broken, back=lambda: connect(bed, dead)[:2] == ["ok", dead])
    assert "elements" not in bed.run("n1", "nft list set ip clusterfabric_multilink dead").stdout
    bed.stop("n2", server)


def test_strategy_native_removes_the_watchdog(bed, tmp_path):
    rc, tasks, stats = playbook(bed, tmp_path, fabric_strategy="native")
    assert rc == 0, tasks
    paths = ["/etc/systemd/system/" + UNIT, CONFIG, "/usr/local/lib/clusterfabric-multilink", STATUS]
    for host in bed.hosts:
        assert bed.run(host, "systemctl is-active %s; true" % UNIT).stdout.strip() in ("inactive", "unknown")
        left = bed.run(host, "for p in %s; do test -e $p && echo $p; done; nft list tables; true"
                       % " ".join(paths)).stdout
        assert left == "", left
    rc, tasks, stats = playbook(bed, tmp_path, fabric_strategy="native")
    assert rc == 0 and all(stats[host]["changed"] == 0 for host in bed.hosts), stats
