# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the link watchdog on a live two-node cluster: failover, failback, balance after.

Two nodes n1, n2 of the test bed (tests/lib/testbed) on two links of 200 Mbit/s (tbf), fabric
ports 3001 (new-connection load and the watchdog's probes) and 3002 (bulk), strategy balanced,
the NAT rules and the watchdog deployed by the nat role. For each failure kind, under steady load
from n1 to n2 (4 bulk TCP streams of the test bed's node tool to port 3002, plus a connect loop of
RATE new connections/s to n2's primary address and RATE_OTHER/s to its link-1 address, as
Aerospike's random address picks would):

  link_down  the test bed's carrier failure: `ip link set <link-1 device> down` inside n1, then up;
  peer_drop  the test bed's silent failure: n2 drops everything on its link-1 device (an nft table
             of its own, prerouting and postrouting), so n1's carrier stays up; then it is deleted.

Rule changes are timestamped by `nft monitor` running inside each node; the failure and the
repair by the command's start time inside the node (containers share the host's clock). Figures:

  detection_s             failure -> n1's rule for n2 without the link-1 lane (goal <= 0.5, must <= 1)
  failed_after_detection  connects to n2's primary address started after that change that failed (must 0)
  failback_s              repair -> n1's rule with both lanes again (must <= 1)
  share_after_failback    busiest link's share of n1's tx bytes in a fresh run of 4 streams (must 45-55 %)

plus n2's detection and failback, failures before detection, what happened to connects to the
dead link's address, and rule changes nobody asked for (false alarms under load).

Run `make scenario S=failover` (Molecule: site.yml converges, verify runs this on the
scenario's cluster: --inventory INVENTORY), or `python benchmarks/failover.py` (a test bed cluster
of its own, containers cfm-lw-bench-*, the nat role only; --quick: shorter phases).
Writes build/reports/failover.json (--out). Only 198.19.64.0/18 addresses are used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shlex
import sys
import time

from testbed import cluster as tb_cluster
from testbed import inventory as tb_inventory
from testbed import traffic
from testbed.podman import ROOT, TestbedError

# The benchmarks' in-node helper: the connect load, nft monitor and timed actions (benchmarks/nat_probe.py).
HELPER = os.path.join(ROOT, "benchmarks", "nat_probe.py")
HELPER_IN_NODE = "/usr/local/bin/nat_probe.py"
# Standalone runs; molecule/failover uses 198.19.66-67, the live test 198.19.64-65, verify's 198.19.68-69.
LINKS = [{"name": "fab0", "subnet": "198.19.70.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.19.71.0/24", "device": "eth1"}]
PREFIX = "cfm-lw-bench"
GROUP = "failover"
NODES = {"n1": 1, "n2": 2}
NODE, PEER = "n1", "n2"
STRICT = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}
CONNECT_PORT, BULK_PORT = 3001, 3002
PORTS = [CONNECT_PORT, BULK_PORT]
RATE, RATE_OTHER = 300, 50
# A connect may take the kernel's first two SYN retransmissions (1 s, 3 s): one SYN lost in the
# congested queue of the link that is left must not count as a failover failure.
CONNECT_TIMEOUT = 3.5
STREAMS = 4
SHARE_SECONDS = 4
KINDS = ("link_down", "peer_drop")
HOLD_DOWN_S = 5.0
REPORT = os.path.join(ROOT, "build", "reports", "failover.json")
MUST = {"detection_s": 1.0, "failed_after_detection": 0, "failback_s": 1.0, "share_after_failback": (0.45, 0.55)}
GOAL_DETECTION_S = 0.5
KIND_FAILURES = {"link_down": "carrier", "peer_drop": "silent"}  # the test bed's failure kinds
QUICK = {"steady": 1.0, "down": 2.0, "after": 2.0, "share_seconds": 3}
NAT_PLAY = """- name: nat role with the link watchdog
  hosts: all
  gather_facts: false
  roles:
    - clusterfabric.multilink.nat
"""


# ---------------------------------------------------------------------------- the bed
def group_vars(links=None):
    """What the failover measurements expect of the cluster (as molecule/failover has it)."""
    return {"fabric_links": links or LINKS, "fabric_ports": PORTS, "fabric_strategy": "balanced",
            "fabric_nat_install_packages": False, "testbed_rate_mbit": 200, "testbed_sysctls": STRICT}


def inventory_path(prefix):
    path = os.path.join(ROOT, "build", "failover", prefix, "inventory.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def start(prefix=PREFIX, links=None):
    """A test bed cluster of its own, up (not deployed yet)."""
    return tb_cluster.start(tb_inventory.write_cluster(inventory_path(prefix), GROUP, prefix, NODES, group_vars(links)))


def attach(inventory):
    """The converged test bed cluster of ``inventory`` that has the hosts n1 and n2."""
    for cluster in tb_cluster.clusters(inventory):
        if set(NODES) <= set(cluster.hosts):
            return cluster
    raise TestbedError("inventory %s has no cluster with hosts %s" % (inventory, ", ".join(sorted(NODES))))


def deploy(bed):
    """The nat role (rules + watchdog) on every node, through ansible-playbook."""
    play = os.path.join(os.path.dirname(bed.inventory), "nat.yml")
    with open(play, "w") as handle:
        handle.write(NAT_PLAY)
    result = tb_inventory.ansible("ansible-playbook", bed.inventory, play)
    if result.returncode != 0:
        raise TestbedError("the nat role failed:\n%s" % result.stdout[-4000:])
    return result


def install_helpers(bed):
    for host in bed.hosts:
        bed.copy(host, HELPER, HELPER_IN_NODE)
    traffic.install(bed)


def wait_for_file(bed, host, path, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = bed.run(host, "cat %s 2>/dev/null; true" % path).stdout
        if out.strip():
            return json.loads(out)
        time.sleep(0.2)
    raise TestbedError("%s: %s did not appear in %d s" % (host, path, timeout))


def start_servers(bed, peer=PEER):
    """The node tool's sink on the connect port and on the bulk port of the peer."""
    for port in PORTS:
        traffic.start_sink(bed, peer, port)


# ---------------------------------------------------------------------------- one failure
def failure_commands(bed, kind):
    """(host, fail command, repair command) of a failure kind on link 1 (the test bed's failures)."""
    return bed.failure(KIND_FAILURES[kind], NODE, PEER, bed.topo.links[1]["name"])


def rule_events(lines, chain):
    """[(time, addresses)] of the rules nft monitor saw added to ``chain``."""
    events = []
    for line in lines:
        stamp, dummy, text = line.partition(" ")
        if text.startswith("add rule ") and " %s " % chain in text:
            addresses = [word.rstrip(",") for word in text.split() if word.count(".") == 3
                         and word.rstrip(",").replace(".", "").isdigit()]
            events.append((float(stamp), addresses))
    return events


def first_change(events, after, wanted):
    for stamp, addresses in events:
        if stamp >= after and sorted(set(addresses)) == sorted(wanted):
            return stamp
    return None


def analyse(bed, kind, fail, repair, monitors, load):
    """Figures of one failure from the raw records (see the module docstring)."""
    link0, link1 = bed.topo.links[0]["name"], bed.topo.links[1]["name"]
    figures = {"kind": kind}
    for host, peer, key in ((NODE, PEER, ""), (PEER, NODE, "peer_")):
        chain = "peer_%s_%d" % (peer, CONNECT_PORT)
        events = rule_events(monitors[host], chain)
        down = first_change(events, fail["before"], [bed.plan[peer][link0][0]])
        back = first_change(events, repair["before"], [bed.plan[peer][link0][0], bed.plan[peer][link1][0]])
        figures[key + "detection_s"] = round(down - fail["before"], 4) if down else None
        figures[key + "failback_s"] = round(back - repair["before"], 4) if back else None
        if host == PEER:
            peer_restored = back
        else:
            detected, restored = down, back
            settled = (back or repair["before"]) + 0.5
            figures["rule_changes"] = len(events)
            figures["unexplained_rule_changes"] = len([s for s, dummy in events
                                                       if s < fail["before"] or s > settled])
    records = load["records"]
    primary = [r for r in records if r[0] == 0]
    other = [r for r in records if r[0] == 1]
    after = detected if detected is not None else float("inf")
    figures["failed_after_detection"] = len([r for r in primary if r[1] >= after and not r[3]])
    figures["failures"] = [{"start_after_failure_s": round(r[1] - fail["before"], 4), "took_s": round(r[2] - r[1], 4),
                            "error": r[4], "port": r[5] if len(r) > 5 else None} for r in primary if not r[3]][:60]
    figures["connects_after_detection"] = len([r for r in primary if r[1] >= after])
    figures["failed_before_detection"] = len([r for r in primary if fail["before"] <= r[1] < after and not r[3]])
    figures["failed_before_failure"] = len([r for r in primary if r[1] < fail["before"] and not r[3]])
    span = max(r[1] for r in records) - min(r[1] for r in records) if records else 0
    figures["connects_per_s"] = round(len(primary) / span, 1) if span else 0
    dead = [r for r in other if r[1] >= after and (restored is None or r[1] < repair["before"])]
    figures["dead_address_after_detection"] = {
        "target": load["targets"][1] if len(load["targets"]) > 1 else None,
        "connects": len(dead), "connected": len([r for r in dead if r[3]]),
        "failed_at_once": len([r for r in dead if not r[3] and r[4] != "timeout" and r[2] - r[1] < 0.05]),
        "hung": len([r for r in dead if r[4] == "timeout"]),
        "errors": sorted(set(r[4] for r in dead if r[4])),
    }
    figures["times"] = {"failure": fail["before"], "detected": detected, "repair": repair["before"],
                        "restored": restored, "peer_restored": peer_restored}
    return figures


def run_kind(bed, kind, steady=1.5, down=2.5, after=3.0, rate=RATE, rate_other=RATE_OTHER,
             share_seconds=SHARE_SECONDS):
    """One failure and repair under load; returns the figures (share_after_failback included)."""
    seconds = steady + down + after
    files = dict((name, "/tmp/cfm-lw-%s-%s.json" % (kind, name)) for name in ("load", "fail", "repair"))
    monitor_file = "/tmp/cfm-lw-%s-monitor.log" % kind
    for host in bed.hosts:
        bed.run(host, "rm -f /tmp/cfm-lw-%s-*" % kind)
    monitors = dict((host, bed.background(host, "python3 %s monitor %s" % (HELPER_IN_NODE, monitor_file)))
                    for host in bed.hosts)
    start_servers(bed)
    time.sleep(0.5)  # nft monitor subscribed
    link0, link1 = bed.topo.links[0]["name"], bed.topo.links[1]["name"]
    primary = "%s:%d" % (bed.plan[PEER][link0][0], CONNECT_PORT)
    other = "%s:%d" % (bed.plan[PEER][link1][0], CONNECT_PORT)
    bulk = traffic.start_streams(bed, NODE, bed.plan[PEER][link0][0], BULK_PORT, STREAMS)
    bed.background(NODE, "python3 %s load %s %s %s %s@%d %s@%d" % (
        HELPER_IN_NODE, files["load"], seconds, CONNECT_TIMEOUT, primary, rate, other, rate_other))
    host, fail_command, repair_command = failure_commands(bed, kind)
    time.sleep(steady)
    bed.run(host, "python3 %s act %s %s" % (HELPER_IN_NODE, files["fail"], shlex.quote(fail_command)))
    time.sleep(down)
    bed.run(host, "python3 %s act %s %s" % (HELPER_IN_NODE, files["repair"], shlex.quote(repair_command)))
    fail = wait_for_file(bed, host, files["fail"], 10)
    repair = wait_for_file(bed, host, files["repair"], 10)
    for record in (fail, repair):
        if record["rc"] != 0:
            raise TestbedError("%s on %s failed: %s" % (kind, host, record["output"]))
    load = wait_for_file(bed, NODE, files["load"], seconds + CONNECT_TIMEOUT + 30)
    time.sleep(0.3)
    lines = {}
    for name, pid in monitors.items():
        bed.stop(name, pid)
        lines[name] = bed.run(name, "cat %s" % monitor_file).stdout.splitlines()
    traffic.stop(bed, NODE, bulk)
    figures = analyse(bed, kind, fail, repair, lines, load)
    if figures["failed_after_detection"]:
        # Evidence for a report: n1's conntrack entries of the failed connects' source ports.
        after = figures["times"]["detected"]
        ports = sorted(set(r[5] for r in load["records"] if r[0] == 0 and not r[3] and r[1] >= after
                           and len(r) > 5 and r[5]))
        pattern = "|".join("sport=%d " % port for port in ports[:50])
        figures["conntrack_of_failures"] = bed.run(
            NODE, "grep -E '%s' /proc/net/nf_conntrack; true" % pattern).stdout.splitlines()[:50] if ports else []
    figures["share"] = share(bed, share_seconds)
    figures["share_after_failback"] = figures["share"]["busiest_share"]
    if kind == "link_down":
        bed.shape(NODE)  # tbf stays across down/up; set again in case a kernel drops it
    return figures


def share(bed, seconds=SHARE_SECONDS):
    """A fresh run of STREAMS streams (the node tool's) from n1 to n2's primary address, bulk
    port: tx bytes per link from the kernel's counters over the traffic window."""
    start_servers(bed)
    run = traffic.streams(bed, NODE, bed.plan[PEER][bed.topo.links[0]["name"]][0], BULK_PORT, count=STREAMS,
                          seconds=seconds)
    window = run["window"]
    sent = dict((name, window["after"][name][0] - window["before"][name][0]) for name in window["after"])
    return {"mbit": round(sum(sent.values()) * 8 / 1e6 / window["seconds"], 1),
            "tx_bytes": sent, "busiest_share": round(max(sent.values()) / float(sum(sent.values())), 4)}


def wait_for_up(bed, timeout=15):
    """Until n1's watchdog has every path up (after a repair, before the next failure)."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = traffic.watchdog_status(bed, NODE)
        if status and "peers" in status and all(
                entry["state"] == "up" for links in status["peers"].values() for entry in links.values()):
            return status
        time.sleep(0.2)
    raise TestbedError("n1's watchdog does not see every path up: %s" % json.dumps(status))


def violations(figures):
    """The must bounds a failure's figures break (empty: all met)."""
    out = []
    if figures["detection_s"] is None or figures["detection_s"] > MUST["detection_s"]:
        out.append("detection_s %s > %s" % (figures["detection_s"], MUST["detection_s"]))
    if figures["failed_after_detection"] != MUST["failed_after_detection"]:
        out.append("failed_after_detection %d != 0" % figures["failed_after_detection"])
    if figures["failback_s"] is None or figures["failback_s"] > MUST["failback_s"]:
        out.append("failback_s %s > %s" % (figures["failback_s"], MUST["failback_s"]))
    low, high = MUST["share_after_failback"]
    if not low <= figures["share_after_failback"] <= high:
        out.append("share_after_failback %.4f outside %.2f-%.2f" % (figures["share_after_failback"], low, high))
    if figures["dead_address_after_detection"]["hung"]:
        out.append("%d connects to the dead link's address hung after detection"
                   % figures["dead_address_after_detection"]["hung"])
    return out


def measure(bed, kinds=KINDS, **timing):
    """Every failure kind in turn on a deployed bed; returns the report."""
    install_helpers(bed)
    status = wait_for_up(bed)
    results = {}
    for index, kind in enumerate(kinds):
        if index:
            # The next failure of the same path must not count as a flap of the last one.
            times = results[kinds[index - 1]]["times"]
            rest = max(times["restored"] or time.time(), times["peer_restored"] or time.time())
            time.sleep(max(0.0, rest + HOLD_DOWN_S + 0.5 - time.time()))
        wait_for_up(bed)
        results[kind] = run_kind(bed, kind, **timing)
        results[kind]["violations"] = violations(results[kind])
    return {
        "kinds": results, "settings": status["settings"],
        "load": {"bulk_streams": STREAMS, "bulk_port": BULK_PORT, "connect_port": CONNECT_PORT,
                 "connects_per_s_primary": RATE, "connects_per_s_link1_address": RATE_OTHER,
                 "connect_timeout_s": CONNECT_TIMEOUT},
        "must": {"detection_s": "<= 1 (goal <= 0.5)", "failed_after_detection": 0, "failback_s": "<= 1",
                 "share_after_failback": "0.45-0.55"},
        "passed": not any(r["violations"] for r in results.values()),
        "nproc": os.cpu_count(), "loadavg": os.getloadavg(),
    }


def summary(report):
    lines = []
    for kind, figures in report["kinds"].items():
        dead = figures["dead_address_after_detection"]
        lines.append(
            "%-9s detection %.3f s (n2 %s s), failed after detection %d of %d, failback %.3f s (n2 %s s), "
            "share after failback %.1f %%, failed before detection %d, link-1 address connects after "
            "detection: %d connected, %d failed at once, %d hung; unexplained rule changes %d%s"
            % (kind, figures["detection_s"] or -1, figures["peer_detection_s"], figures["failed_after_detection"],
               figures["connects_after_detection"], figures["failback_s"] or -1, figures["peer_failback_s"],
               100 * figures["share_after_failback"], figures["failed_before_detection"], dead["connected"],
               dead["failed_at_once"], dead["hung"], figures["unexplained_rule_changes"],
               "; VIOLATES " + ", ".join(figures["violations"]) if figures["violations"] else ""))
    return "\n".join(lines)


def write_report(report, path, command):
    report = dict(report, command=command, written=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("-i", "--inventory", help="measure the converged test bed cluster of this inventory (hosts n1, n2)")
    parser.add_argument("--quick", action="store_true", help="shorter phases: %s" % ", ".join(
        "%s %s s" % item for item in sorted(QUICK.items())))
    parser.add_argument("--out", default=REPORT)
    parser.add_argument("--command", default="python benchmarks/failover.py")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("failover.py needs root and podman (see docs/watchdog.md)")
    own = not args.inventory
    bed = start() if own else attach(args.inventory)
    try:
        if own:
            deploy(bed)
        report = measure(bed, **(QUICK if args.quick else {}))
    finally:
        if own and not args.keep:
            bed.down()
    print(summary(report))
    write_report(report, args.out, args.command)
    print("written to %s" % os.path.relpath(args.out, ROOT))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
