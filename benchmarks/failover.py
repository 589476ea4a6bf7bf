# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the link watchdog on a live two-node cluster: failover, failback, balance after.

Two nodes n1, n2 on two links of 200 Mbit/s (tbf), fabric ports 3001 (new-connection load and
the watchdog's probes) and 3002 (bulk), strategy balanced, the NAT rules and the watchdog
deployed by the nat role. For each failure kind, under steady load from n1 to n2 (iperf3 -P 4
to port 3002 plus a connect loop of RATE new connections/s to n2's primary address and
RATE_OTHER/s to its link-1 address, as Aerospike's random address picks would):

  link_down  `ip link set <link-1 device> down` inside n1, then up again;
  peer_drop  n2 drops everything on its link-1 device (an nft table of its own, prerouting and
             postrouting), so n1's carrier stays up; then the table is deleted.

Rule changes are timestamped by `nft monitor` running inside each node; the failure and the
repair by the command's start time inside the node (containers share the host's clock). Figures:

  detection_s             failure -> n1's rule for n2 without the link-1 lane (goal <= 0.5, must <= 1)
  failed_after_detection  connects to n2's primary address started after that change that failed (must 0)
  failback_s              repair -> n1's rule with both lanes again (must <= 1)
  share_after_failback    busiest link's share of n1's tx bytes in a fresh iperf3 -P 4 run (must 45-55 %)

plus n2's detection and failback, failures before detection, what happened to connects to the
dead link's address, and rule changes nobody asked for (false alarms under load).

Run `make scenario S=failover` (Molecule: site.yml converges, verify runs this with --attach),
or `python benchmarks/failover.py` (own containers cfm-lw-bench-*, the nat role only). Writes
build/reports/failover.json (--out). Only 198.19.64.0/18 addresses are used.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from collection_path import ensure_importable  # noqa: E402  pylint: disable=wrong-import-position

ensure_importable()
from podman_cluster import PodmanCluster, podman_env  # noqa: E402  pylint: disable=wrong-import-position
import nat_split  # noqa: E402  pylint: disable=wrong-import-position

HELPER = os.path.join(ROOT, "benchmarks", "failover_load.py")
HELPER_IN_NODE = "/usr/local/bin/failover_load.py"
# Standalone runs; molecule/failover uses 198.19.66-67, the live test 198.19.64-65.
LINKS = [{"name": "fab0", "subnet": "198.19.68.0/24"}, {"name": "fab1", "subnet": "198.19.69.0/24"}]
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
DROP_TABLE = "cfm_lw_drop"
NAT_PLAY = """- name: nat role with the link watchdog
  hosts: all
  gather_facts: false
  roles:
    - clusterfabric.multilink.nat
"""


# ---------------------------------------------------------------------------- the bed
def group_vars(**extra):
    """What the failover measurements expect of the cluster (also in molecule/failover)."""
    variables = {"fabric_ports": PORTS, "fabric_strategy": "balanced", "fabric_nat_install_packages": False}
    variables.update(extra)
    return variables


def ansible_playbook(inventory, play, *args):
    """Run ansible-playbook from this venv; returns the CompletedProcess (output in stdout)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                           play] + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=900, check=False)


def deploy(bed, workdir, **extra):
    """The nat role (rules + watchdog) on every node, through ansible-playbook."""
    os.makedirs(workdir, exist_ok=True)
    inventory = bed.write_inventory(os.path.join(workdir, "inventory.json"), "failover", group_vars(**extra))
    play = os.path.join(workdir, "nat.yml")
    with open(play, "w") as handle:
        handle.write(NAT_PLAY)
    result = ansible_playbook(inventory, play)
    if result.returncode != 0:
        raise RuntimeError("the nat role failed:\n%s" % result.stdout[-4000:])
    return result


def install_helpers(bed):
    nat_split.install_probe(bed)
    for host in bed.hosts:
        subprocess.run(["podman", "cp", HELPER, "%s:%s" % (bed.container(host), HELPER_IN_NODE)],
                       env=podman_env(), check=True)


def background(bed, host, command):
    """Start a command in a node, detached; returns its pid (to end exactly that process)."""
    out = bed.run(host, "setsid %s >/dev/null 2>&1 </dev/null & echo $!" % command).stdout
    return int(out.strip().splitlines()[-1])


def wait_for_file(bed, host, path, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = bed.run(host, "cat %s 2>/dev/null; true" % path).stdout
        if out.strip():
            return json.loads(out)
        time.sleep(0.2)
    raise RuntimeError("%s: %s did not appear in %d s" % (host, path, timeout))


def start_servers(bed, peer=PEER):
    """A sink on the connect port (accept, close) and iperf3 on the bulk port of the peer."""
    bed.run(peer, "pkill -x iperf3; pkill -f 'nat_probe[.]py sink'; true")
    bed.run(peer, "iperf3 -s -D -p %d" % BULK_PORT)
    bed.run(peer, "setsid python3 %s sink %d >/dev/null 2>&1 </dev/null &" % (nat_split.PROBE_IN_NODE, CONNECT_PORT))
    for port in PORTS:
        nat_split._wait_listening(bed, peer, port)  # pylint: disable=protected-access


# ---------------------------------------------------------------------------- one failure
def failure_commands(bed, kind):
    """(host, fail command, repair command) of a failure kind on link 1."""
    link = bed.links[1]["name"]
    if kind == "link_down":
        device = nat_split.devices(bed, NODE)[link]
        return NODE, "ip link set %s down" % device, "ip link set %s up" % device
    if kind == "peer_drop":
        device = nat_split.devices(bed, PEER)[link]
        table = ("add table inet {t}; "
                 "add chain inet {t} pre {{ type filter hook prerouting priority -300; policy accept; }}; "
                 "add rule inet {t} pre iifname \"{d}\" drop; "
                 "add chain inet {t} post {{ type filter hook postrouting priority 300; policy accept; }}; "
                 "add rule inet {t} post oifname \"{d}\" drop").format(t=DROP_TABLE, d=device)
        return PEER, "nft '%s'" % table, "nft delete table inet %s" % DROP_TABLE
    raise ValueError(kind)


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
    link0, link1 = bed.links[0]["name"], bed.links[1]["name"]
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
    monitors = dict((host, background(bed, host, "python3 %s monitor %s" % (HELPER_IN_NODE, monitor_file)))
                    for host in bed.hosts)
    start_servers(bed)
    time.sleep(0.5)  # nft monitor subscribed
    primary = "%s:%d" % (bed.plan[PEER][bed.links[0]["name"]][0], CONNECT_PORT)
    other = "%s:%d" % (bed.plan[PEER][bed.links[1]["name"]][0], CONNECT_PORT)
    bulk = background(bed, NODE, "iperf3 -c %s -p %d -P %d -t %d" % (
        bed.plan[PEER][bed.links[0]["name"]][0], BULK_PORT, STREAMS, int(seconds) + 1))
    background(bed, NODE, "python3 %s load %s %s %s %s@%d %s@%d" % (
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
            raise RuntimeError("%s on %s failed: %s" % (kind, host, record["output"]))
    load = wait_for_file(bed, NODE, files["load"], seconds + CONNECT_TIMEOUT + 30)
    time.sleep(0.3)
    lines = {}
    for name, pid in monitors.items():
        bed.run(name, "kill %d; true" % pid)
        lines[name] = bed.run(name, "cat %s" % monitor_file).stdout.splitlines()
    bed.run(NODE, "kill %d 2>/dev/null; true" % bulk)
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
    """A fresh iperf3 -P STREAMS run from n1 to n2's primary address, bulk port: tx bytes per link."""
    start_servers(bed)
    target = bed.plan[PEER][bed.links[0]["name"]][0]
    before = nat_split.counters(bed, NODE)
    out = bed.run(NODE, "iperf3 -J -c %s -p %d -P %d -t %d" % (target, BULK_PORT, STREAMS, seconds),
                  timeout=seconds + 60).stdout
    after = nat_split.counters(bed, NODE)
    sent = dict((name, after[name] - before[name]) for name in after)
    return {"mbit": round(json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6, 1),
            "tx_bytes": sent, "busiest_share": round(max(sent.values()) / float(sum(sent.values())), 4)}


def wait_for_up(bed, timeout=15):
    """Until n1's watchdog has every path up (after a repair, before the next failure)."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = json.loads(bed.run(NODE, "cat /run/clusterfabric/linkwatch.json").stdout)
        if all(entry["state"] == "up" for links in status["peers"].values() for entry in links.values()):
            return status
        time.sleep(0.2)
    raise RuntimeError("n1's watchdog does not see every path up: %s" % json.dumps(status))


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
        "load": {"iperf3_streams": STREAMS, "bulk_port": BULK_PORT, "connect_port": CONNECT_PORT,
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
    parser.add_argument("--attach", metavar="PREFIX",
                        help="measure existing, converged containers PREFIX-n1/-n2 (Molecule verify)")
    parser.add_argument("--links", help="JSON list of the links (name, subnet) of the attached cluster")
    parser.add_argument("--out", default=REPORT)
    parser.add_argument("--command", default="python benchmarks/failover.py")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("failover.py needs root and podman (see docs/watchdog.md)")
    links = json.loads(args.links) if args.links else LINKS
    bed = PodmanCluster(args.attach or "cfm-lw-bench", links, NODES, sysctls=STRICT)
    if not args.attach:
        bed.up()
    try:
        if not args.attach:
            deploy(bed, os.path.join(ROOT, "build", "failover"))
        report = measure(bed)
    finally:
        if not args.attach and not args.keep:
            bed.down()
    print(summary(report))
    write_report(report, args.out, args.command)
    print("written to %s" % os.path.relpath(args.out, ROOT))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
