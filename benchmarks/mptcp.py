# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fabric_strategy mptcp against balanced NAT, side by side in one run on a live test bed.

Two test bed clusters of two nodes each (tests/lib/testbed), every link 200 Mbit/s (tbf),
converged together by playbooks/site.yml (roles nat and mptcp; the links are the test bed's):

  nat    a1 -> a2, fabric_strategy balanced: NAT rotation of plain TCP over the links, watchdog;
  mptcp  m1 -> m2, fabric_strategy mptcp: signal endpoints and limits from the mptcp role, its
         link watchdog (endpoint re-add); the traffic opens Multipath TCP sockets itself
         (IPPROTO_MPTCP, as the mptcpize library makes a wrapped daemon do).

Measured, alternating between the two clusters so that load from elsewhere hits both alike:

  connections  1, 2 and 8 bulk connections (the test bed's node tool) for SECONDS to the peer's
               first fabric address, port 3001: aggregate Mbit/s of the links (kernel counters),
               ratio to one link, busiest link's share; plus one plain TCP connection with no
               rules (m1 -> m2, one link) as the reference;
  unequal      the same for 1 and 8 connections with the links at 200 + 50 Mbit/s;
  rate (P3)    new connections per second (connect, close; benchmarks/nat_probe.py rate) with no
               rules (plain TCP, m1 -> m2), MPTCP (m1 -> m2) and balanced NAT (a1 -> a2), median
               of RUNS runs of short alternating slices;
  cpu          CPU seconds per GB carried, from the 8-connection runs: both nodes' containers
               (cgroup CPU usage: their processes and the kernel's network work done in their
               context), the sender process alone, and the whole machine (/proc/stat, which
               counts whatever else runs on the shared machine too: an upper bound);
  linkloss     mptcp only: 2 MPTCP connections m1 -> m2 for STEADY + DOWN + BACK s while the
               second link fails (carrier: m1's device down; silent: m2 drops everything on it,
               the carrier stays up) and comes back; goodput from m2's MPTCP sockets (ss -Mni
               rcv_nxt every 0.1 s, so retransmissions into a dead link do not count):
               connections broken (must 0), time until goodput >= 90 % of one link after the
               failure (goal <= 2 s), time until it is >= 1.9x one link after the repair (goal
               <= 3 s: the watchdog re-adds the link's endpoint).

Run `make bench-mptcp` (or `python benchmarks/mptcp.py` as root; --quick: shorter phases,
--keep: leave the containers cfm-mb-* up). Writes build/reports/mptcp.json (--out).
Only the test subnets 198.19.100.0/24 - 198.19.103.0/24 are used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shlex
import statistics
import sys
import threading
import time

from testbed import cluster as tb_cluster
from testbed import inventory as tb_inventory
from testbed import traffic
from testbed.podman import ROOT, TestbedError

PROBE = os.path.join(ROOT, "benchmarks", "nat_probe.py")
PROBE_IN_NODE = "/usr/local/bin/nat_probe.py"
REPORT = os.path.join(ROOT, "build", "reports", "mptcp.json")
RATE_MBIT = 200
UNEQUAL = (200, 50)
# 3001: the fabric port (bulk connections, the watchdogs' probes); 3002: P3's NAT and MPTCP
# accept-and-close sinks (a fabric port: the NAT rules rotate it); 3003: the one-link reference's
# sink; 3004: P3's plain TCP sink (no rules)
PORT, RATE_PORT, PLAIN_PORT, NONE_PORT = 3001, 3002, 3003, 3004
PORTS = [PORT, RATE_PORT]
# Strict reverse-path filtering (MPTCP needs no policy routing); /proc/sys is read-only in the
# containers, so the mptcp role's blackhole_timeout = 0 is set where the namespace is made.
SYSCTLS = {"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1",
           "net.mptcp.blackhole_timeout": "0"}
# cluster key -> (group, container prefix, hosts {name: node id}, strategy, link subnets)
CLUSTERS = {
    "nat": ("mbnat", "cfm-mb-nat", {"a1": 1, "a2": 2}, "balanced", ("198.19.100.0/24", "198.19.101.0/24")),
    "mptcp": ("mbmp", "cfm-mb-mp", {"m1": 1, "m2": 2}, "mptcp", ("198.19.102.0/24", "198.19.103.0/24")),
}
STRATEGIES = ("nat", "mptcp")
CONNECTIONS = (1, 2, 8)
SECONDS = 4
RUNS, SLICES, SLICE_SECONDS = 3, 4, 0.4
STEADY, DOWN, BACK = 2.0, 5.0, 6.0
LOSS_CONNECTIONS = 2
KINDS = ("carrier", "silent")
SAMPLE_S = 0.1
WINDOW_S = 0.5
GOALS = {"one_connection_ratio": 1.9, "eight_busiest_share": 0.52, "broken": 0, "recovered_s": 2.0,
         "restored_s": 3.0, "recovered_fraction": 0.9, "restored_ratio": 1.9}
QUICK = {"seconds": 3, "runs": 2, "slices": 2, "steady": 1.5, "down": 4.0, "back": 5.0}
SS_SAMPLER = ("while :; do echo \"T $(date +%%s.%%N)\"; ss -HMni state established '( sport = :%d )'; "
              "sleep %s; done > %s")


# ---------------------------------------------------------------------------- the bed
def inventory_data(rate=RATE_MBIT):
    """The bed's inventory: one group per cluster (CLUSTERS), roles nat and mptcp through site.yml."""
    children = {}
    for group, prefix, nodes, strategy, subnets in CLUSTERS.values():
        links = [{"name": "fab%d" % index, "subnet": subnet, "device": "eth%d" % index}
                 for index, subnet in enumerate(subnets)]
        hosts = dict((host, {"fabric_node_id": number, "ansible_host": "%s-%s" % (prefix, host)})
                     for host, number in nodes.items())
        variables = dict(tb_inventory.CONNECTION, fabric_cluster_group=group, testbed_prefix=prefix,
                         fabric_links=links, fabric_ports=PORTS, fabric_strategy=strategy,
                         fabric_roles=["nat", "mptcp"], fabric_nat_install_packages=False,
                         fabric_mptcp_install_packages=False, fabric_mptcp_services=[],
                         testbed_rate_mbit=rate, testbed_sysctls=SYSCTLS)
        children[group] = {"hosts": hosts, "vars": variables}
    return {"all": {"children": children}}


def write_inventory(path, rate=RATE_MBIT):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(inventory_data(rate), handle, indent=2, sort_keys=True)
    return path


def start(path, up=True):
    """{cluster key: Cluster} of the bed's inventory; ``up``: (re)created first."""
    beds = {}
    for key, (group, dummy_prefix, dummy_nodes, dummy_strategy, dummy_subnets) in CLUSTERS.items():
        bed = tb_cluster.clusters(path, group)[0]
        beds[key] = bed.up() if up else bed
    return beds


def converge(beds):
    """playbooks/site.yml on both clusters at once (one run); the ansible output tail on failure."""
    path = beds["nat"].inventory
    started = time.time()
    result = tb_inventory.ansible("ansible-playbook", path, "playbooks/site.yml")
    if result.returncode != 0:
        raise TestbedError("playbooks/site.yml failed:\n%s" % result.stdout[-5000:])
    return round(time.time() - started, 1)


def prepare(beds):
    """Helpers in every node; the fabric port's sink on every node (plain TCP for nat, MPTCP for
    mptcp: the watchdogs probe it too)."""
    for key, bed in beds.items():
        traffic.install(bed)
        for host in bed.hosts:
            bed.copy(host, PROBE, PROBE_IN_NODE)
            traffic.start_sink(bed, host, PORT, mptcp=key == "mptcp")
    bed = beds["mptcp"]
    traffic.start_sink(bed, bed.hosts[1], PLAIN_PORT)


def sender_peer(bed):
    return bed.hosts[0], bed.hosts[1]


def first_address(bed, host):
    return bed.plan[host][bed.topo.links[0]["name"]][0]


def mptcp_state(bed):
    """Per node: the endpoints, limits, MPTCP sysctls and MPJoin counters (what the role set)."""
    out = {}
    for host in bed.hosts:
        out[host] = {
            "endpoints": bed.run(host, "ip mptcp endpoint show", check=False).stdout.strip().splitlines(),
            "limits": bed.run(host, "ip mptcp limits show", check=False).stdout.strip(),
            "sysctl": bed.run(host, "cat /proc/sys/net/mptcp/enabled /proc/sys/net/mptcp/blackhole_timeout 2>/dev/null; true",
                              check=False).stdout.split(),
            "nstat": nstat(bed, host),
        }
    return out


def nstat(bed, host):
    """{counter: value} of the MPTCP join and add-address counters of ``host`` (absolute)."""
    out = {}
    for line in bed.run(host, "nstat -as 2>/dev/null | grep -E 'MPTcpExt(MPJoin|AddAddr|MPCapable|MPFastclose|MPRst|RmAddr|RmSubflow|Subflow)'; true",
                        check=False).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].isdigit():
            out[fields[0]] = int(fields[1])
    return out


# ---------------------------------------------------------------------------- figures
CGROUP_CPU = ("cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null "
              "|| awk '$1 == \"usage_usec\" {print $2 * 1000}' /sys/fs/cgroup/cpu.stat")


def container_cpu(bed, host):
    """CPU seconds ``host``'s container has used (cgroup), or None."""
    text = bed.run(host, CGROUP_CPU, check=False).stdout.strip()
    return int(float(text)) * 1e-9 if text.replace(".", "", 1).isdigit() else None


def carried(run, receiver_cpu=None):
    """{mbit, tx_bytes {link: bytes}, busiest_share, seconds, cpu} of a traffic.streams() result;
    ``receiver_cpu``: the receiving container's CPU seconds over the run (read around it)."""
    window = run["window"]
    sent = dict((name, window["after"][name][0] - window["before"][name][0]) for name in window["after"])
    total = float(sum(sent.values()))
    busy = window["cpu_after"][0] - window["cpu_before"][0]
    process = window["process_cpu_after"] - window["process_cpu_before"]
    ticks = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
    containers = None
    if window.get("cgroup_cpu_before") is not None and window.get("cgroup_cpu_after") is not None \
            and receiver_cpu is not None:
        containers = window["cgroup_cpu_after"] - window["cgroup_cpu_before"] + receiver_cpu
    return {"mbit": round(total * 8 / 1e6 / window["seconds"], 1), "tx_bytes": sent, "seconds": window["seconds"],
            "busiest_share": round(max(sent.values()) / total, 4) if total else None,
            "broken": len([error for error in run.get("errors") or [] if error]),
            "cpu": {"machine_s": round(busy / ticks, 3), "sender_s": round(process, 3),
                    "containers_s": round(containers, 3) if containers is not None else None,
                    "containers_s_per_gb": round(containers / (total / 1e9), 3) if containers is not None and total else None,
                    "machine_s_per_gb": round(busy / ticks / (total / 1e9), 3) if total else None,
                    "sender_s_per_gb": round(process / (total / 1e9), 3) if total else None}}


def measure_streams(bed, count, seconds, mptcp, port=PORT):
    host, peer = sender_peer(bed)
    before = container_cpu(bed, peer)
    run = traffic.streams(bed, host, first_address(bed, peer), port, count=count, seconds=seconds, mptcp=mptcp)
    after = container_cpu(bed, peer)
    return carried(run, after - before if before is not None and after is not None else None)


def measure_connections(beds, link_mbit, counts=CONNECTIONS, seconds=SECONDS):
    """{count: {nat: figures, mptcp: figures}} and the one-link reference (1 plain TCP, no rules)."""
    table = {}
    for index, count in enumerate(counts):
        row = {}
        order = STRATEGIES if index % 2 == 0 else STRATEGIES[::-1]
        for key in order:
            row[key] = measure_streams(beds[key], count, seconds, mptcp=key == "mptcp")
            row[key]["ratio_to_one_link"] = round(row[key]["mbit"] / float(link_mbit), 4)
        table[str(count)] = row
    reference = measure_streams(beds["mptcp"], 1, seconds, mptcp=False, port=PLAIN_PORT)
    return {"link_mbit": link_mbit, "seconds": seconds, "rows": table, "one_tcp_connection_no_rules": reference}


def shape_all(beds, rates):
    """tbf of every node's links at ``rates`` {link: Mbit/s} (None: the links' own rate)."""
    for bed in beds.values():
        for host in bed.hosts:
            bed.shape(host, rates)


def measure_unequal(beds, seconds=SECONDS, rates=UNEQUAL):
    names = [link["name"] for link in beds["mptcp"].topo.links]
    shape_all(beds, dict(zip(names, rates)))
    try:
        rows = {}
        for index, count in enumerate((1, 8)):
            row = {}
            for key in (STRATEGIES if index % 2 == 0 else STRATEGIES[::-1]):
                row[key] = measure_streams(beds[key], count, seconds, mptcp=key == "mptcp")
            rows[str(count)] = row
    finally:
        shape_all(beds, None)
    return {"link_mbit": dict(zip(names, rates)), "seconds": seconds, "rows": rows, "pick": pick(rows, rates)}


def pick(rows, rates):
    """Which strategy carries more on unequal links, for one and for many connections."""
    out = {}
    for count, row in rows.items():
        best = max(STRATEGIES, key=lambda key: row[key]["mbit"])
        out[count] = {"strategy": best, "mbit": row[best]["mbit"],
                      "of_sum_of_links": round(row[best]["mbit"] / float(sum(rates)), 4)}
    return out


def rate_slice(bed, host, target, seconds, mptcp):
    command = "python3 %s rate %s %s%s" % (PROBE_IN_NODE, seconds, target, " mptcp" if mptcp else "")
    result = json.loads(bed.run(host, command).stdout)
    if result["failed"]:
        raise TestbedError("%s: %d of %d connections failed: %s"
                           % (host, result["failed"], result["failed"] + result["connections"], result["errors"]))
    return result


def measure_rate(beds, runs=RUNS, slices=SLICES, seconds=SLICE_SECONDS):
    """P3: new connections/s with no rules (plain TCP), MPTCP and balanced NAT; median of runs."""
    mp, nat = beds["mptcp"], beds["nat"]
    mp_host, mp_peer = sender_peer(mp)
    nat_host, nat_peer = sender_peer(nat)
    sinks = []
    for bed, peer, port, mptcp in ((mp, mp_peer, RATE_PORT, True), (nat, nat_peer, RATE_PORT, False),
                                   (mp, mp_peer, NONE_PORT, False)):
        sinks.append((bed, peer, bed.background(peer, "python3 %s sink %d%s" % (PROBE_IN_NODE, port,
                                                                                " mptcp" if mptcp else ""))))
        bed.wait_listening(peer, port)
    configs = {
        "none": (mp, mp_host, "%s:%d" % (first_address(mp, mp_peer), NONE_PORT), False),
        "mptcp": (mp, mp_host, "%s:%d" % (first_address(mp, mp_peer), RATE_PORT), True),
        "nat": (nat, nat_host, "%s:%d" % (first_address(nat, nat_peer), RATE_PORT), False),
    }
    samples = dict((name, []) for name in configs)
    try:
        for dummy in range(runs):
            count = dict((name, 0) for name in configs)
            spent = dict((name, 0.0) for name in configs)
            order = list(configs)
            for dummy_slice in range(slices):
                order = order[1:] + order[:1]
                for name in order:
                    bed, host, target, mptcp = configs[name]
                    result = rate_slice(bed, host, target, seconds, mptcp)
                    count[name] += result["connections"]
                    spent[name] += result["seconds"]
            for name in configs:
                samples[name].append(count[name] / spent[name])
    finally:
        for bed, peer, pid in sinks:
            bed.stop(peer, pid)
    medians = dict((name, statistics.median(values)) for name, values in samples.items())
    return {"runs": runs, "slices_per_run": slices, "slice_seconds": seconds,
            "per_second": dict((name, round(value)) for name, value in medians.items()),
            "samples": dict((name, [round(v) for v in values]) for name, values in samples.items()),
            "ratio_to_none": dict((name, round(medians[name] / medians["none"], 4)) for name in medians)}


def cpu_figures(connections):
    """CPU per GB carried, from the 8-connection runs (both strategies fill both links there)."""
    row = connections["rows"].get("8") or connections["rows"][max(connections["rows"], key=int)]
    out = dict((key, row[key]["cpu"]) for key in STRATEGIES)
    for measure in ("containers_s_per_gb", "machine_s_per_gb", "sender_s_per_gb"):
        if out["nat"].get(measure) and out["mptcp"].get(measure):
            out["mptcp_vs_nat_" + measure] = round(out["mptcp"][measure] / out["nat"][measure], 3)
    out["connections"] = 8
    return out


# ---------------------------------------------------------------------------- link loss
def parse_ss_samples(text, port=PORT):
    """[(time, {connection: rcv_nxt}, {connection: extra subflows})] of the receiver's `ss -HMni`
    loop output (SS_SAMPLER): "T <epoch>" lines, then per MPTCP socket an address line and an
    info line with rcv_nxt (hex, the data-level sequence: every byte the connection delivered,
    whatever subflow carried it) and subflows (the subflows besides the first)."""
    samples = []
    current = None
    key = None
    for line in text.splitlines():
        if line.startswith("T "):
            try:
                current = (float(line.split()[1]), {}, {})
            except (IndexError, ValueError):
                current = None
                continue
            samples.append(current)
            key = None
            continue
        if current is None:
            continue
        fields = line.split()
        if not line[:1].isspace() and len(fields) >= 4 and fields[-2].endswith(":%d" % port):
            key = fields[-1]
            continue
        if key is not None:
            current[2][key] = 0
            for field in fields:
                if field.startswith("rcv_nxt:"):
                    current[1][key] = int(field.split(":", 1)[1], 16)
                elif field.startswith("subflows:") and field[9:].isdigit():
                    current[2][key] = int(field[9:])
            key = None
    return samples


def goodput(samples):
    """[(start, end, Mbit/s)] between consecutive samples: bytes delivered by connections present in both."""
    out = []
    for (t0, first, dummy), (t1, second, dummy_subflows) in zip(samples, samples[1:]):
        if t1 <= t0:
            continue
        delivered = sum((second[key] - first[key]) % (1 << 64) for key in second if key in first)
        out.append((t0, t1, delivered * 8 / 1e6 / (t1 - t0)))
    return out


def window_rate(series, start, width):
    """Mean Mbit/s of ``series`` over [start, start + width] (intervals weighted by their overlap)."""
    total = spent = 0.0
    for t0, t1, mbit in series:
        overlap = min(t1, start + width) - max(t0, start)
        if overlap > 0:
            total += mbit * overlap
            spent += overlap
    return total / spent if spent >= width * 0.8 else None


def time_to_reach(series, after, threshold, width=WINDOW_S, until=None):
    """Seconds from ``after`` to the first sample start from which the goodput over the next
    ``width`` s is >= ``threshold`` Mbit/s (None: not before ``until`` or the end)."""
    for t0, dummy_t1, dummy in series:
        if t0 < after:
            continue
        if until is not None and t0 >= until:
            break
        rate = window_rate(series, t0, width)
        if rate is not None and rate >= threshold:
            return round(t0 - after, 3)
    return None


def subflows_at(samples, stamp):
    """{connection: extra subflows} in the last sample at or before ``stamp`` (None: no sample)."""
    found = None
    for t, dummy, subflows in samples:
        if t > stamp:
            break
        found = subflows
    return found


def loss_figures(series, fail, repair, end, link_mbit):
    """The link-loss figures of one failure from the goodput series and the action times.

    "One link" is half the goodput of the 1.5 s before the failure (both links full; goodput
    is payload, some 5 % below the links' tbf rate, which counts headers too), or the links' rate
    ``link_mbit`` when there is no such figure."""
    before = window_rate(series, fail - 1.5, 1.5)
    one_link = before / 2 if before else float(link_mbit)
    down = [mbit for t0, t1, mbit in series if fail + 2.5 <= t0 and t1 <= repair]
    after = [mbit for t0, t1, mbit in series if repair + 3.5 <= t0 and t1 <= end]
    stall = [t1 - t0 for t0, t1, mbit in series if fail <= t0 < repair and mbit < 0.1 * one_link]
    return {
        "mbit_before": round(before, 1) if before is not None else None,
        "before_vs_link_rate": round(before / float(link_mbit), 3) if before is not None else None,
        "one_link_mbit": round(one_link, 1),
        "recovered_s": time_to_reach(series, fail, GOALS["recovered_fraction"] * one_link, until=repair),
        "mbit_one_link": round(statistics.mean(down), 1) if down else None,
        "stalled_s": round(sum(stall), 2),
        "restored_s": time_to_reach(series, repair, GOALS["restored_ratio"] * one_link),
        "mbit_after": round(statistics.mean(after), 1) if after else None,
    }


def run_loss(bed, kind, steady=STEADY, down=DOWN, back=BACK, connections=LOSS_CONNECTIONS):
    """One failure of the second link under MPTCP load; the figures (see the module docstring)."""
    host, peer = sender_peer(bed)
    link = bed.topo.links[1]["name"]
    act_host, fail_command, repair_command = bed.failure(kind, host, peer, link)
    files = dict((name, "/tmp/cfm-mb-%s-%s" % (kind, name)) for name in ("ss", "fail", "repair"))
    for node in bed.hosts:
        bed.run(node, "rm -f /tmp/cfm-mb-%s-*" % kind)
    joins_before = nstat(bed, host)
    sampler = bed.background(peer, SS_SAMPLER % (PORT, SAMPLE_S, files["ss"]))
    seconds = steady + down + back
    result = {}

    def load():
        try:
            result["run"] = traffic.streams(bed, host, first_address(bed, peer), PORT, count=connections,
                                            seconds=seconds, mptcp=True)
        except TestbedError as exc:
            result["error"] = str(exc)

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(steady + 0.5)  # the streams' connections and their subflows are up
    bed.run(act_host, "python3 %s act %s %s" % (PROBE_IN_NODE, files["fail"], shlex.quote(fail_command)))
    time.sleep(down)
    bed.run(act_host, "python3 %s act %s %s" % (PROBE_IN_NODE, files["repair"], shlex.quote(repair_command)))
    worker.join(seconds + 180)
    bed.stop(peer, sampler)
    if kind == "carrier":
        bed.shape(host)  # tbf stays across down/up; set again in case a kernel drops it
    fail = json.loads(bed.run(act_host, "cat %s" % files["fail"]).stdout)
    repair = json.loads(bed.run(act_host, "cat %s" % files["repair"]).stdout)
    for record in (fail, repair):
        if record["rc"] != 0:
            raise TestbedError("%s on %s failed: %s" % (kind, act_host, record["output"]))
    samples = parse_ss_samples(bed.run(peer, "cat %s" % files["ss"]).stdout)
    series = goodput(samples)
    run = result.get("run")
    end = run["window"]["end"] if run else (series[-1][1] if series else repair["before"])
    link_mbit = bed.topo.links[0]["rate_mbit"]
    figures = loss_figures(series, fail["before"], repair["before"], end, link_mbit)
    joins_after = nstat(bed, host)
    figures.update({
        "kind": kind, "connections": connections, "acted_on": act_host, "link": link, "fail_command": fail_command,
        "broken": len([error for error in (run or {}).get("errors") or [] if error]) if run else connections,
        "errors": (run or {}).get("errors") or [result.get("error")],
        "mbit_over_run": carried(run)["mbit"] if run else None,
        # the receiver's view: extra subflows per connection (1 = one per link)
        "subflows": dict((name, subflows_at(samples, stamp)) for name, stamp in (
            ("before_failure", fail["before"] - 0.2), ("before_repair", repair["before"] - 0.2), ("at_end", end - 0.3))),
        "joins": dict((name, joins_after.get(name, 0) - joins_before.get(name, 0)) for name in joins_after
                      if joins_after.get(name, 0) != joins_before.get(name, 0)),
        "series": [[round(t0 - fail["before"], 2), round(mbit, 1)] for t0, dummy, mbit in series],
        "times": {"fail": fail["before"], "repair": repair["before"], "end": end},
    })
    figures["violations"] = loss_violations(figures)
    return figures


def loss_violations(figures):
    out = []
    if figures["broken"] != GOALS["broken"]:
        out.append("%d connections broken" % figures["broken"])
    if figures["recovered_s"] is None or figures["recovered_s"] > GOALS["recovered_s"]:
        out.append("recovered_s %s > %s" % (figures["recovered_s"], GOALS["recovered_s"]))
    if figures["restored_s"] is None or figures["restored_s"] > GOALS["restored_s"]:
        out.append("restored_s %s > %s" % (figures["restored_s"], GOALS["restored_s"]))
    return out


def wait_watchdog_up(bed, timeout=20):
    """Until every node's watchdog sees every path up (None without a watchdog)."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        ready = True
        for host in bed.hosts:
            status = traffic.watchdog_status(bed, host)
            if not status or "peers" not in status:
                return status
            if not all(entry.get("state") == "up" for links in status["peers"].values() for entry in links.values()):
                ready = False
        if ready:
            return status
        time.sleep(0.3)
    raise TestbedError("the watchdog does not see every path up: %s" % json.dumps(status))


def measure_linkloss(bed, kinds=KINDS, **timing):
    out = {}
    for index, kind in enumerate(kinds):
        if index:
            time.sleep(6.0)  # past the watchdog's hold-down of the last repair
        status = wait_watchdog_up(bed)
        out[kind] = run_loss(bed, kind, **timing)
        out[kind]["watchdog_before"] = status.get("settings") if isinstance(status, dict) else status
    return out


# ---------------------------------------------------------------------------- report
def summarise(report):
    conn, lines = report["connections"], []
    link = conn["link_mbit"]
    lines.append("%d s per run, links %d Mbit/s; 1 plain TCP connection, no rules: %.1f Mbit/s"
                 % (conn["seconds"], link, conn["one_tcp_connection_no_rules"]["mbit"]))
    for count, row in sorted(conn["rows"].items(), key=lambda item: int(item[0])):
        lines.append("  %s connection(s): " % count + "; ".join(
            "%s %.1f Mbit/s (%.2fx one link, busiest link %.1f %%)"
            % (key, row[key]["mbit"], row[key]["ratio_to_one_link"], 100 * row[key]["busiest_share"])
            for key in STRATEGIES))
    unequal = report.get("unequal")
    if unequal:
        lines.append("unequal links %s:" % "+".join("%d" % v for v in unequal["link_mbit"].values()))
        for count, row in sorted(unequal["rows"].items(), key=lambda item: int(item[0])):
            lines.append("  %s connection(s): nat %.1f, mptcp %.1f Mbit/s: pick %s"
                         % (count, row["nat"]["mbit"], row["mptcp"]["mbit"], unequal["pick"][count]["strategy"]))
    rate = report.get("rate")
    if rate:
        per, ratio = rate["per_second"], rate["ratio_to_none"]
        lines.append("P3 new connections/s (median of %d runs): no rules %d; mptcp %d (%.3fx); nat %d (%.3fx)"
                     % (rate["runs"], per["none"], per["mptcp"], ratio["mptcp"], per["nat"], ratio["nat"]))
    cpu = report.get("cpu")
    if cpu:
        lines.append("CPU s per GB (8 connections): both nodes' containers nat %s, mptcp %s; sender process nat %s, "
                     "mptcp %s; whole machine nat %s, mptcp %s"
                     % tuple(cpu[key].get(measure) for measure in ("containers_s_per_gb", "sender_s_per_gb",
                                                                   "machine_s_per_gb") for key in STRATEGIES))
    for kind, figures in (report.get("linkloss") or {}).items():
        lines.append("link loss %-7s broken %d, >= 90 %% of one link after %s s (%s Mbit/s on one link), "
                     ">= 1.9x after the repair in %s s (%s Mbit/s after)%s"
                     % (kind, figures["broken"], figures["recovered_s"], figures["mbit_one_link"],
                        figures["restored_s"], figures["mbit_after"],
                        "; VIOLATES " + ", ".join(figures["violations"]) if figures["violations"] else ""))
    return "\n".join(lines)


def checks(report):
    """The issue's must-show bounds this report breaks (empty: all met)."""
    out = []
    rows = report["connections"]["rows"]
    if "1" in rows and rows["1"]["mptcp"]["ratio_to_one_link"] < GOALS["one_connection_ratio"]:
        out.append("mptcp one connection %.2fx < %.1fx" % (rows["1"]["mptcp"]["ratio_to_one_link"],
                                                           GOALS["one_connection_ratio"]))
    if "8" in rows and rows["8"]["mptcp"]["busiest_share"] > GOALS["eight_busiest_share"]:
        out.append("mptcp eight connections busiest link %.1f %% > 52 %%" % (100 * rows["8"]["mptcp"]["busiest_share"]))
    for kind, figures in (report.get("linkloss") or {}).items():
        out.extend("%s: %s" % (kind, text) for text in figures["violations"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases: %s" % ", ".join(
        "%s %s" % item for item in sorted(QUICK.items())))
    parser.add_argument("--only", help="comma-separated parts: connections, unequal, rate, linkloss (default: all)")
    parser.add_argument("--reuse", action="store_true", help="measure the running cfm-mb-* bed (no up, no converge)")
    parser.add_argument("--keep", action="store_true", help="leave the containers cfm-mb-* running")
    parser.add_argument("--out", default=REPORT)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("mptcp.py needs root and podman (see docs/performance.md)")
    parts = set((args.only or "connections,unequal,rate,linkloss").split(","))
    timing = QUICK if args.quick else {"seconds": SECONDS, "runs": RUNS, "slices": SLICES, "steady": STEADY,
                                       "down": DOWN, "back": BACK}
    path = write_inventory(os.path.join(ROOT, "build", "cfm-mb", "inventory.json"))
    beds = start(path, up=not args.reuse)
    report = {"command": "python benchmarks/mptcp.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
              "quick": args.quick, "nproc": os.cpu_count()}
    try:
        if not args.reuse:
            report["converge_s"] = converge(beds)
        prepare(beds)
        report["mptcp_state"] = mptcp_state(beds["mptcp"])
        if "connections" in parts:
            report["connections"] = measure_connections(beds, RATE_MBIT, seconds=timing["seconds"])
            report["cpu"] = cpu_figures(report["connections"])
        if "unequal" in parts:
            report["unequal"] = measure_unequal(beds, seconds=timing["seconds"])
        if "rate" in parts:
            report["rate"] = measure_rate(beds, runs=timing["runs"], slices=timing["slices"])
        if "linkloss" in parts:
            report["linkloss"] = measure_linkloss(beds["mptcp"], steady=timing["steady"], down=timing["down"],
                                                  back=timing["back"])
        report["mptcp_state_after"] = mptcp_state(beds["mptcp"])
    finally:
        if not args.keep:
            for bed in beds.values():
                bed.down()
    report.update(loadavg=os.getloadavg(), written=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if "connections" in report:
        report["violations"] = checks(report)
        print(summarise(report))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print("written to %s" % os.path.relpath(args.out, ROOT))
    return 1 if report.get("violations") else 0


if __name__ == "__main__":
    sys.exit(main())
