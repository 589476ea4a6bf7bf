# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Link loss under a write load: the real Aerospike server while one fabric link fails and returns.

Two nodes (podman test bed, tests/lib/testbed) on two fabric links limited by tbf to RATE_MBIT
each, plus an unshaped management network for the client and the service port. The benchmark
writes its own inventory (build/linkloss/inventory-VARIANT.json) and converges it with the
product's playbooks/site.yml, once per strategy on a fresh cluster:

  native    every fabric address published, no NAT, no watchdog (Aerospike picks an address per socket)
  balanced  every address published, NAT rotation over the links, the link watchdog (the nat role's default)
  mptcp     every address published, no NAT, the servers wrapped to open Multipath TCP sockets (a
            subflow per link), the mptcp role's link watchdog re-adding a returning link's endpoint
  mptcp_placed  mptcp with fabric_mptcp_anchor_subnet: each connection's first subflow placed on
            the links in turn (docs/mptcp.md#placing-each-connection-fabric_mptcp_anchor_subnet)

A variant adds settings of the server's fabric { } context (through aerospike_network), e.g.
``balanced/keepalive-probes=3``: the fabric's TCP keepalive (keepalive-time 1 s, keepalive-intvl
1 s, keepalive-probes 10 by default) is what ends connections on a dead link. VARIANTS run by
default. On that cluster, per failure kind of link FAILED_LINK (testbed Cluster.failure):

  carrier   node1's interface on the link goes down (`ip link set DEV down`), then up;
  silent    node2 drops every packet on its side of the link (nft), carrier up on both; then not.

Each failure starts from fresh fabric connections (both servers restarted one after the other:
connections that left the link in an earlier failure do not come back by themselves), with a
burst (BURST_S of unpaced BURST_RECORD_BYTES writes from BURST_THREADS threads: the throughput
with both links; it also grows the sockets' send buffers as real traffic does). Then a client
(testbed.aerospike.Workload over the management network) writes WRITE_RATE records of
RECORD_BYTES per second (replication factor 2, so every write crosses the fabric; far below what
one link carries, so a healthy cluster is never the bottleneck) from THREADS threads, 1 s timeout
per write, no retries, no catching up on missed slots; the link works for BASELINE_S, fails for
DOWN_S and is watched for AFTER_S after the repair; a second burst follows. Recorded all along:
every write (success or error) by the client; the statistics of both nodes through the info
protocol every POLL_S (cluster_size, cluster_key, cluster_integrity, migrate_partitions_remaining);
in each node every SAMPLE_S the links' byte counters and the TCP sockets per link and port
(the test bed's node tool, testbed.traffic.start_sampler: fabric 3001 and heartbeat 3002, opened/accepted,
retransmitting, keepalive probing; a NAT-steered connection counts on the link it rides); Server.fabric_connections
before, during and after (``ss``: the socket's own addresses, i.e. for a connection the NAT split
steered, the link Aerospike dialed); the send buffers before; the server's log (periodic lines
left out) and, with the watchdog, its journal.

Figures per variant and kind (linkloss.json, top-level ``results``):

  failed_writes         client writes that failed (by error) over the run; failed_writes_window_s:
                        first and last failure, seconds from the failure; during_failure: ok/failed
  longest_stall_s       longest time without a successful write
  cluster_size_during   min/max cluster_size seen on either node from the failure to the repair;
                        ``cluster_changes`` counts new cluster_keys (a split and a merge are 2)
  migrations            whether migrate_partitions_remaining rose above 0 (or the namespace's
                        migrate_tx_partitions_initial moved)
  failed_link_sockets   fabric connections on the failed link (and in all) before, at the end of
                        the failure and at the end of the run; failed_link_sockets_closed_s: when
                        the last of them had closed, seconds from the failure
  back_to_full_speed_s  seconds from the repair until the end of the first WINDOW_S window in which
                        the repaired link carries at least SHARE_FRACTION of the share of the fabric
                        bytes it carried before the failure (tx of both nodes) while the client
                        writes at least RATE_FRACTION of the target rate; null when that did not
                        happen within AFTER_S (the connections did not come back to the link) or
                        the link carried under MIN_BASELINE_SHARE before

`make bench-linkloss` (python benchmarks/linkloss.py) writes build/reports/linkloss.json and
prints a table. Containers cfm-ll-node1/2, networks cfm-ll-*, addresses in 198.19.176.0/22 only.
Without a server binary in the node image it says so in one line and writes a report marked
skipped.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(ROOT, "build", "reports", "linkloss.json")
WORKDIR = os.path.join(ROOT, "build", "linkloss")
SITE = os.path.join(ROOT, "playbooks", "site.yml")

PREFIX = "cfm-ll"
GROUP = "linkloss"
LINKS = [{"name": "fab0", "subnet": "198.19.176.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.19.177.0/24", "device": "eth1"}]
MGMT_SUBNET = "198.19.178.0/24"
NODES = {"node1": (1, "198.19.178.11"), "node2": (2, "198.19.178.12")}
NODE, PEER = "node1", "node2"
FAILED_LINK = "fab1"
FABRIC_PORT, HEARTBEAT_PORT = 3001, 3002
NAMESPACE = "bench"
STRATEGIES = ("native", "balanced", "mptcp", "mptcp_placed")
# mptcp_placed: mptcp with the anchors of fabric_mptcp_anchor_subnet (docs/mptcp.md)
ANCHOR_SUBNET = "198.19.179.0/24"
VARIANTS = ("native", "balanced", "balanced/keepalive-probes=3", "mptcp")
KINDS = ("carrier", "silent")

RATE_MBIT = 50
WRITE_RATE = 200
RECORD_BYTES = 10000
THREADS = 128
TIMEOUT_MS = 1000
BASELINE_S, DOWN_S, AFTER_S = 6.0, 15.0, 20.0
SAMPLE_S = 0.25
POLL_S = 0.25
WINDOW_S = 1.0
STEP_S = 0.25
SHARE_FRACTION = 0.8
# Below this share of the fabric bytes before the failure the link carried (next to) nothing:
# no time back to full speed is computed.
MIN_BASELINE_SHARE = 0.05
RATE_FRACTION = 0.9
BURST_S, BURST_RECORD_BYTES, BURST_THREADS = 3.0, 50000, 16
LOG_LINES = 80
# Server log lines printed every 10 s whatever happens (the ticker and what it calls).
PERIODIC_SOURCES = ("ticker.c", "hist.c", "drv_mem.c")


# ---------------------------------------------------------------------------- the inventory
def parse_variant(spec):
    """'balanced' or 'balanced/keepalive-probes=3,keepalive-time=1' -> (strategy, {fabric setting: int}):
    a strategy, optionally with settings of the server's fabric { } context (aerospike_network)."""
    strategy, dummy, rest = spec.partition("/")
    if strategy not in STRATEGIES:
        raise ValueError("%r: the strategy must be one of %s" % (spec, ", ".join(STRATEGIES)))
    fabric = {}
    for item in [part for part in rest.split(",") if part]:
        name, equals, value = item.partition("=")
        if not equals or not re.fullmatch(r"[a-z][a-z-]*", name) or not value.isdigit():
            raise ValueError("%r: %r is not a fabric setting NAME=NUMBER" % (spec, item))
        fabric[name] = int(value)
    return strategy, fabric


def variant_slug(spec):
    """A file-name-safe name of a variant ('balanced/keepalive-probes=3' -> 'balanced-keepalive-probes-3')."""
    return re.sub(r"[^a-z0-9]+", "-", spec.lower()).strip("-")


def group_vars(spec):
    """Group variables of the benchmark's inventory (docs/testbed.md contract) for a strategy or
    variant (parse_variant)."""
    strategy, fabric = parse_variant(spec)
    variables = {
        "ansible_connection": "containers.podman.podman",
        "ansible_python_interpreter": "/usr/bin/python3",
        "fabric_ports": [FABRIC_PORT],
        "fabric_strategy": "mptcp" if strategy == "mptcp_placed" else strategy,
        "fabric_links": [dict(link) for link in LINKS],
        "fabric_links_backend": "networkd",
        "aerospike_version": "8.1",
        "aerospike_heartbeat_port": HEARTBEAT_PORT,
        "aerospike_service_addresses": ["{{ testbed_mgmt_address }}"],
        "aerospike_restart": True,
        "aerospike_restart_wait": "cluster",
        "aerospike_namespaces": [{"name": NAMESPACE, "replication-factor": 2,
                                  "storage-engine": {"type": "memory", "data-size": "2G"}}],
        "testbed_prefix": PREFIX,
        "testbed_mgmt_subnet": MGMT_SUBNET,
        "testbed_rate_mbit": RATE_MBIT,
        # blackhole_timeout: the mptcp role wants 0, and /proc/sys is read-only in the containers
        "testbed_sysctls": {"net.ipv4.conf.all.rp_filter": 1, "net.ipv4.conf.default.rp_filter": 1,
                            "net.mptcp.blackhole_timeout": 0},
    }
    if strategy == "mptcp_placed":
        variables["fabric_mptcp_anchor_subnet"] = ANCHOR_SUBNET
    if fabric:
        variables["aerospike_network"] = {"fabric": fabric}
    return variables


def host_vars():
    return dict((host, {"fabric_node_id": node_id, "ansible_host": "%s-%s" % (PREFIX, host),
                        "testbed_mgmt_address": address})
                for host, (node_id, address) in NODES.items())


# ---------------------------------------------------------------------------- pure analysis
def counter_at(samples, stamp, link, index=0):
    """A link's cumulative byte counter (index 0 tx, 1 rx) at ``stamp``, linear between samples;
    None outside the samples."""
    if not samples or stamp < samples[0]["t"] or stamp > samples[-1]["t"]:
        return None
    for before, after in zip(samples, samples[1:]):
        if before["t"] <= stamp <= after["t"]:
            low, high = before["bytes"][link][index], after["bytes"][link][index]
            span = after["t"] - before["t"]
            return low + (high - low) * ((stamp - before["t"]) / span if span else 1.0)
    return float(samples[-1]["bytes"][link][index])


def window_bytes(samples_by_host, link, start, end, index=0):
    """Bytes a link's counter (tx by default) moved in [start, end], summed over the hosts; None
    when a host has no samples around the window."""
    total = 0.0
    for samples in samples_by_host.values():
        low, high = counter_at(samples, start, link, index), counter_at(samples, end, link, index)
        if low is None or high is None:
            return None
        total += high - low
    return total


def link_share(samples_by_host, link, links, start, end, minimum=1000):
    """``link``'s share of the bytes sent over all ``links`` in [start, end]; None when unknown or
    fewer than ``minimum`` bytes moved."""
    moved = dict((name, window_bytes(samples_by_host, name, start, end)) for name in links)
    if any(value is None for value in moved.values()):
        return None
    total = sum(moved.values())
    return moved[link] / total if total >= minimum else None


def write_rate(workload, start, end):
    """Successful writes per second of a Workload.run result in wall-clock [start, end] (whole
    intervals only; None when the window holds none)."""
    interval = workload["interval_s"]
    first = int(round((start - workload["started_at"]) / interval))
    last = int(round((end - workload["started_at"]) / interval))
    buckets = workload["writes_per_interval"][max(0, first):max(0, last)]
    return sum(buckets) / (len(buckets) * interval) if buckets else None


def writes_between(workload, start, end):
    """(successful, failed) writes of a Workload.run result in the intervals that lie in wall-clock [start, end]."""
    interval = workload["interval_s"]
    first = max(0, int(round((start - workload["started_at"]) / interval)))
    last = max(0, int(round((end - workload["started_at"]) / interval)))
    return (sum(workload["writes_per_interval"][first:last]),
            sum(workload.get("failed_per_interval", [])[first:last]))


def send_buffers(text):
    """Send buffer sizes (skmem tb, bytes) of the sockets in `ss -tmn` output: {count, min, median, max}."""
    sizes = sorted(int(value) for value in re.findall(r"\btb(\d+)", text))
    if not sizes:
        return {"count": 0}
    return {"count": len(sizes), "min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]}


def back_to_full_speed(samples_by_host, workload, link, links, repair, end, baseline_share, rate,
                       window=WINDOW_S, step=STEP_S, share_fraction=SHARE_FRACTION, rate_fraction=RATE_FRACTION):
    """Seconds from ``repair`` to the end of the first window after it in which ``link`` carries at
    least share_fraction x baseline_share of the bytes and the writes reach rate_fraction x rate;
    None when no window until ``end`` does (see the module docstring)."""
    if baseline_share is None or baseline_share < MIN_BASELINE_SHARE:
        return None
    start = repair
    while start + window <= end + 1e-9:
        share = link_share(samples_by_host, link, links, start, start + window)
        done = write_rate(workload, start, start + window)
        if share is not None and share >= share_fraction * baseline_share and done is not None \
                and done >= rate_fraction * rate:
            return round(start + window - repair, 3)
        start += step
    return None


def throughput_series(samples_by_host, links, origin, start, end, step=0.5):
    """{link: [Mbit/s sent (both nodes) per step]} from ``start`` to ``end``, and the times
    relative to ``origin``."""
    times, series = [], dict((name, []) for name in links)
    at = start
    while at + step <= end + 1e-9:
        times.append(round(at - origin, 3))
        for name in links:
            moved = window_bytes(samples_by_host, name, at, at + step)
            series[name].append(None if moved is None else round(moved * 8 / 1e6 / step, 2))
        at += step
    return {"t": times, "mbit": series}


def socket_timeline(samples, link, port, origin):
    """The sampler's sockets of one host, link and port, as change points:
    [[t - origin, out, in, retrans, probing], ...] (one entry whenever a figure changes)."""
    out = []
    for sample in samples:
        entry = sample["sockets"].get(link, {}).get(str(port))
        if entry is None:
            continue
        row = [entry["out"], entry["in"], entry["retrans"], entry.get("probing", 0)]
        if not out or out[-1][1:] != row:
            out.append([round(sample["t"] - origin, 3)] + row)
    return out


def sockets_at(samples, link, port, stamp):
    """The sampler's socket entry of one host, link and port in the last sample before ``stamp``."""
    chosen = None
    for sample in samples:
        if sample["t"] > stamp:
            break
        chosen = sample["sockets"].get(link, {}).get(str(port))
    return chosen


def link_sockets(samples_by_host, links, port, stamp):
    """{link: connections} at ``stamp``: the sockets of ``port`` each host opened, per link they
    ride (every connection counted once, by the node that opened it)."""
    out = {}
    for name in links:
        total = 0
        for samples in samples_by_host.values():
            entry = sockets_at(samples, name, port, stamp)
            total += entry["out"] if entry else 0
        out[name] = total
    return out


def failure_window(workload, origin):
    """[first, last] failed write of a Workload.run result, seconds from ``origin`` (wall clock);
    None without failures."""
    stamps = [workload["started_at"] + t for t, dummy in workload["failures"]]
    if not stamps:
        return None
    return [round(min(stamps) - origin, 3), round(max(stamps) - origin, 3)]


def unstuck_after(samples_by_host, link, port, repair, end):
    """Seconds from ``repair`` until no socket of ``port`` on ``link`` retransmits on any host (and
    none does up to ``end``); 0.0 when none did at the repair; None when some still do at ``end``."""
    last_stuck = None
    seen_after = False
    for samples in samples_by_host.values():
        for sample in samples:
            if sample["t"] < repair or sample["t"] > end:
                continue
            seen_after = True
            if sample["sockets"].get(link, {}).get(str(port), {}).get("retrans"):
                last_stuck = max(last_stuck or 0.0, sample["t"])
    if not seen_after:
        return None
    if last_stuck is None:
        return 0.0
    latest = max(s["t"] for samples in samples_by_host.values() for s in samples if s["t"] <= end)
    if last_stuck >= latest:
        return None
    later = [s["t"] for samples in samples_by_host.values() for s in samples if last_stuck < s["t"] <= end]
    return round(min(later) - repair, 3) if later else None


def closed_after(samples_by_host, link, port, failure, repair):
    """Seconds from ``failure`` until no connection of ``port`` on ``link`` was left on any host
    (all of them closed while the link was down); None when some were still there at ``repair``
    or there were none at the failure."""
    if not any((sockets_at(samples, link, port, failure) or {}).get("out", 0) +
               (sockets_at(samples, link, port, failure) or {}).get("in", 0) for samples in samples_by_host.values()):
        return None
    gone = None
    for samples in samples_by_host.values():
        entries = [(s["t"], s["sockets"].get(link, {}).get(str(port))) for s in samples if failure <= s["t"] <= repair]
        if not entries:
            return None
        first_empty = None
        for stamp, entry in entries:
            empty = not entry or entry["out"] + entry["in"] == 0
            if empty and first_empty is None:
                first_empty = stamp
            elif not empty:
                first_empty = None
        if first_empty is None:
            return None
        gone = max(gone or 0.0, first_empty)
    return round(gone - failure, 3) if gone is not None else None


def max_stuck(samples_by_host, link, port, start, end):
    """Most sockets of ``port`` on ``link`` retransmitting at once on any one host in [start, end]."""
    best = 0
    for samples in samples_by_host.values():
        for sample in samples:
            if start <= sample["t"] <= end:
                best = max(best, sample["sockets"].get(link, {}).get(str(port), {}).get("retrans", 0))
    return best


def cluster_view(polls, start, end):
    """What the info polls in [start, end] showed: cluster_size min/max (over both nodes), per
    host, the cluster_keys seen, samples without integrity, polls that failed."""
    inside = [p for p in polls if start <= p["t"] <= end]
    sizes = [p["cluster_size"] for p in inside if p.get("cluster_size") is not None]
    hosts = {}
    for poll in inside:
        entry = hosts.setdefault(poll["host"], {"sizes": [], "errors": 0})
        if poll.get("cluster_size") is None:
            entry["errors"] += 1
        else:
            entry["sizes"].append(poll["cluster_size"])
    keys = []
    for poll in inside:
        key = poll.get("cluster_key")
        if key and key not in keys:
            keys.append(key)
    return {"min": min(sizes) if sizes else None, "max": max(sizes) if sizes else None,
            "per_host": dict((host, {"min": min(e["sizes"]) if e["sizes"] else None,
                                     "max": max(e["sizes"]) if e["sizes"] else None, "failed_polls": e["errors"]})
                             for host, e in sorted(hosts.items())),
            "cluster_keys": keys, "polls": len(inside),
            "integrity_false": len([p for p in inside if p.get("cluster_integrity") is False])}


def cluster_changes(polls, start, end):
    """[[t - start, host, cluster_size, cluster_key]] whenever a host's key or size changes in [start, end]."""
    last, out = {}, []
    for poll in polls:
        if not start <= poll["t"] <= end or poll.get("cluster_size") is None:
            continue
        now = (poll["cluster_size"], poll.get("cluster_key"))
        if last.get(poll["host"]) != now:
            if poll["host"] in last:
                out.append([round(poll["t"] - start, 3), poll["host"], now[0], now[1]])
            last[poll["host"]] = now
    return out


def migrate_deltas(before, after):
    """The namespace's numeric migrate_* statistics that changed: {name: after - before}."""
    out = {}
    for name, value in after.items():
        if not name.startswith("migrate_") or name not in before:
            continue
        try:
            delta = float(value) - float(before[name])
        except ValueError:
            continue
        if delta:
            out[name] = int(delta) if delta == int(delta) else round(delta, 3)
    return out


def parse_journal(text, origin):
    """`journalctl -o short-unix` lines -> [[t - origin, message]]; the server's periodic lines
    (ticker, histograms, storage stripes: PERIODIC_SOURCES) left out."""
    out = []
    for line in text.splitlines():
        stamp, dummy, rest = line.partition(" ")
        try:
            value = float(stamp)
        except ValueError:
            continue
        message = rest.partition(": ")[2] or rest
        if any("(%s:" % source in message for source in PERIODIC_SOURCES):
            continue
        out.append([round(value - origin, 3), message.strip()])
    return out


def watchdog_times(lines, failure, repair):
    """From the watchdog's journal ([[t - failure, message]]): seconds from the failure to its
    first rule change and from the repair to its first rule change after it (None: none)."""
    changes = [t for t, message in lines if message.startswith("rules applied") and "(change)" in message]
    out_at = [t for t in changes if 0 <= t < repair - failure]
    back_at = [t for t in changes if t >= repair - failure]
    return {"lane_out_s": round(out_at[0], 3) if out_at else None,
            "lane_back_s": round(back_at[0] - (repair - failure), 3) if back_at else None,
            "held_down": any("held down" in message for dummy, message in lines)}


def result_row(strategy, kind, run):
    """The headline figures of one run (``results`` in the report, one table row)."""
    per_link = run["sockets"]["fabric_per_link"]
    return {"strategy": strategy, "kind": kind, "failed_writes": run["workload"]["failed"],
            "failed_by_error": run["workload"]["failed_by_error"], "writes": run["workload"]["writes"],
            "failed_writes_window_s": run["failed_writes_window_s"],
            "longest_stall_s": run["workload"]["longest_stall_s"],
            "during_failure": run["writes_during_failure"],
            "cluster_size_during": {"min": run["cluster"]["during"]["min"], "max": run["cluster"]["during"]["max"]},
            "cluster_changes": max(0, len(run["cluster"]["whole_run"]["cluster_keys"]) - 1),
            "migrations": run["migrations"]["triggered"],
            "failed_link_sockets": dict((phase, {"link": counts.get(FAILED_LINK, 0), "all": sum(counts.values())})
                                        for phase, counts in per_link.items()),
            "failed_link_sockets_closed_s": run["sockets"]["closed_on_failed_link_s"],
            "heartbeat_connections": run["sockets"]["heartbeat_per_link"],
            "back_to_full_speed_s": run["back_to_full_speed_s"],
            "burst_before_mbit": (run.get("burst_before") or {}).get("payload_mbit"),
            "burst_after_mbit": (run.get("burst_after") or {}).get("payload_mbit")}


def results_mapping(rows):
    """{strategy: {kind: figures}} of the result rows (the report's ``results``)."""
    out = {}
    for row in rows:
        figures = dict((key, value) for key, value in row.items() if key not in ("strategy", "kind"))
        out.setdefault(row["strategy"], {})[row["kind"]] = figures
    return out


def _cell(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def table(rows, after_s=AFTER_S):
    """A text table of the result rows."""
    header = ["strategy", "kind", "failed/writes", "errors", "failing s", "ok/failed while down", "stall s",
              "size min-max", "cluster changes", "migrations", "%s sockets before/down/end" % FAILED_LINK,
              "dead sockets gone s", "full speed s", "burst Mbit/s before/after"]
    lines = [header]
    for row in rows:
        errors = ", ".join("%s %d" % (k, v) for k, v in sorted(row["failed_by_error"].items())) or "-"
        size = row["cluster_size_during"]
        window = row["failed_writes_window_s"]
        sockets = row["failed_link_sockets"]
        lines.append([row["strategy"], row["kind"], "%d/%d" % (row["failed_writes"], row["writes"]), errors,
                      "%.1f-%.1f" % tuple(window) if window else "-",
                      "%d/%d" % (row["during_failure"]["ok"], row["during_failure"]["failed"]),
                      _cell(row["longest_stall_s"]), "%s-%s" % (_cell(size["min"]), _cell(size["max"])),
                      _cell(row["cluster_changes"]), _cell(row["migrations"]),
                      "/".join("%d" % sockets[phase]["link"] for phase in ("before", "during", "end")
                               if phase in sockets) + " of %d" % sockets.get("before", {}).get("all", 0),
                      _cell(row["failed_link_sockets_closed_s"]),
                      _cell(row["back_to_full_speed_s"]) if row["back_to_full_speed_s"] is not None
                      else "> %g" % after_s,
                      "%s/%s" % (_cell(row["burst_before_mbit"], 1), _cell(row["burst_after_mbit"], 1))])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


# ---------------------------------------------------------------------------- the live part
class Poller(object):
    """Polls both nodes' statistics through the info protocol every ``interval`` s in a thread."""

    def __init__(self, server, hosts, interval=POLL_S):
        self.server = server
        self.hosts = hosts
        self.interval = interval
        self.polls = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop)
        self.thread.daemon = True

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join()
        return self.polls

    def loop(self):
        while not self.stop_event.is_set():
            started = time.time()
            for host in self.hosts:
                poll = {"t": round(time.time(), 4), "host": host}
                try:
                    stats = self.server.statistics(host, timeout=1.0)
                    poll.update(cluster_size=int(stats.get("cluster_size", 0)), cluster_key=stats.get("cluster_key"),
                                cluster_integrity=stats.get("cluster_integrity") == "true",
                                migrate_remaining=int(stats.get("migrate_partitions_remaining", -1)))
                except Exception as exc:  # pylint: disable=broad-except
                    poll.update(cluster_size=None, error=str(exc)[:200])
                self.polls.append(poll)
            self.stop_event.wait(max(0.0, self.interval - (time.time() - started)))


def ansible_playbook(inventory, playbook, log_path):
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    with open(log_path, "w") as log:
        result = subprocess.run([tool if os.path.exists(tool) else "ansible-playbook", "-i", inventory, playbook],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=900, check=False)
    return result.returncode


def timed(cluster, host, command):
    """Run ``command`` in ``host``; returns the node's wall clock just before it ran."""
    out = cluster.run(host, "date +%%s.%%N && %s" % command).stdout
    return float(out.split()[0])


def namespace_stats(server, host):
    from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info  # noqa  pylint: disable=import-outside-toplevel
    return aerospike_info.pairs(server.info(host, ["namespace/%s" % NAMESPACE]).get("namespace/%s" % NAMESPACE, ""))


def journal(cluster, host, unit, since, origin):
    text = cluster.run(host, "journalctl -u %s --no-pager -o short-unix --since @%d" % (unit, int(since)),
                       check=False).stdout
    return parse_journal(text, origin)


def burst(workload, seconds=BURST_S):
    result = workload.run(seconds=seconds)
    return dict((key, result[key]) for key in ("writes", "failed", "failed_by_error", "seconds", "writes_per_s",
                                               "payload_mbit", "record_bytes", "threads", "longest_stall_s"))


def wait_settled(server, timeout=90):
    """Cluster of 2 with integrity and no migrations pending on both nodes; seconds waited."""
    started = time.time()
    server.wait_cluster(timeout=timeout)
    while time.time() - started < timeout:
        if all(value == 0 for value in server.migrations_remaining().values()):
            break
        time.sleep(0.5)
    return round(time.time() - started, 2)


def fresh_start(server, hosts):
    """Stop every server (memory namespace: the data goes, so no migrations follow), start them
    one after the other, each once the ones before it run; seconds until the cluster is whole."""
    started = time.time()
    server.stop(hosts)
    for index, host in enumerate(hosts):
        server.start([host])
        server.wait({"cluster_size": index + 1}, hosts[:index + 1])
    server.wait_cluster()
    return round(time.time() - started, 2)


def wait_watchdog_up(cluster, timeout=30):
    """Until every path of every node's watchdog is up (balanced, mptcp); its status files."""
    deadline = time.time() + timeout
    status = {}
    while time.time() < deadline:
        status = {}
        for host in cluster.hosts:
            text = cluster.run(host, "cat /run/clusterfabric/linkwatch.json 2>/dev/null; true").stdout
            status[host] = json.loads(text) if text.strip() else None
        if all(s and all(e["state"] == "up" for links in s["peers"].values() for e in links.values())
               for s in status.values()):
            return status
        time.sleep(0.5)
    raise RuntimeError("the watchdogs do not see every path up within %d s: %s" % (timeout, json.dumps(status)))


def run_kind(cluster, server, steady, burster, strategy, kind, links, timing):
    """One failure of FAILED_LINK under the steady write load; returns its raw records and figures."""
    from testbed import traffic  # pylint: disable=import-outside-toplevel
    baseline_s, down_s, after_s = timing
    link_names = [link["name"] for link in links]
    total = baseline_s + down_s + after_s
    tag = "%s-%s" % (variant_slug(strategy), kind)
    sample_file = "/tmp/cfm-ll-%s.jsonl" % tag
    for host in cluster.hosts:
        cluster.run(host, "rm -f %s" % sample_file)
        traffic.start_sampler(cluster, host, sample_file, SAMPLE_S, total + 30, (FABRIC_PORT, HEARTBEAT_PORT))
    ns_before = dict((host, namespace_stats(server, host)) for host in cluster.hosts)
    poller = Poller(server, cluster.hosts).start()
    time.sleep(0.5)
    holder = {}
    stop = threading.Event()
    # The load runs until AFTER_S past the repair, however long the steps in between take.
    loader = threading.Thread(target=lambda: holder.update(
        result=steady.run(rate=WRITE_RATE, catch_up=False, stop=stop)))
    loader.daemon = True
    t0 = time.time()
    loader.start()
    time.sleep(1.0)
    connections = {"before": dict((host, server.fabric_connections(host)) for host in cluster.hosts)}
    buffers = dict((h, send_buffers(cluster.run(h, "ss -tmnH state established '( sport = :%d or dport = :%d )'"
                                                % (FABRIC_PORT, FABRIC_PORT)).stdout)) for h in cluster.hosts)
    host, fail_command, repair_command = cluster.failure(kind, NODE, PEER, FAILED_LINK)
    time.sleep(max(0.0, baseline_s - (time.time() - t0)))
    failure = timed(cluster, host, fail_command)
    time.sleep(max(0.0, failure + down_s / 2 - time.time()))
    connections["during"] = dict((h, server.fabric_connections(h)) for h in cluster.hosts)
    time.sleep(max(0.0, failure + down_s - time.time()))
    repair = timed(cluster, host, repair_command)
    qdisc = cluster.run(host, "tc qdisc show dev %s" % cluster.topo.device(FAILED_LINK)).stdout
    reshaped = "tbf" not in qdisc
    if reshaped:
        cluster.shape(host)
    time.sleep(max(0.0, repair + after_s - time.time()))
    stop.set()
    loader.join()
    workload = holder["result"]
    end = workload["started_at"] + workload["seconds"]
    connections["after"] = dict((h, server.fabric_connections(h)) for h in cluster.hosts)
    polls = poller.stop()
    time.sleep(0.3)
    samples = dict((h, traffic.read_samples(cluster, h, sample_file)) for h in cluster.hosts)
    settle_s = wait_settled(server)
    ns_after = dict((h, namespace_stats(server, h)) for h in cluster.hosts)
    logs = dict((h, journal(cluster, h, "aerospike", t0 - 1, failure)[-LOG_LINES:]) for h in cluster.hosts)
    run = {"times": {"workload_start": workload["started_at"], "failure": failure, "repair": repair, "end": end,
                     "down_s": round(repair - failure, 3)},
           "failure": {"kind": kind, "link": FAILED_LINK, "host": host, "break": fail_command, "repair": repair_command,
                       "tbf_reapplied": reshaped},
           "fabric_connections": connections, "fabric_send_buffers_before": buffers, "server_log": logs,
           "settle_after_s": settle_s}
    during = writes_between(workload, failure, repair)
    run["writes_during_failure"] = {"ok": during[0], "failed": during[1]}
    run["failed_writes_window_s"] = failure_window(workload, failure)
    baseline_share = link_share(samples, FAILED_LINK, link_names, max(t0, failure - 4.0), failure)
    run["baseline_share"] = None if baseline_share is None else round(baseline_share, 4)
    run["back_to_full_speed_s"] = back_to_full_speed(samples, workload, FAILED_LINK, link_names, repair, end,
                                                     baseline_share, WRITE_RATE)
    run["cluster"] = {"during": cluster_view(polls, failure, repair), "whole_run": cluster_view(polls, t0, end + 1),
                      "changes": cluster_changes(polls, t0, end + 1)}
    migrating = [p for p in polls if (p.get("migrate_remaining") or 0) > 0]
    run["migrations"] = {
        "triggered": bool(migrating) or any(migrate_deltas(ns_before[h], ns_after[h]).get("migrate_tx_partitions_initial")
                                            for h in cluster.hosts),
        "remaining_max": max([p["migrate_remaining"] for p in migrating] or [0]),
        "first_seen_s": round(migrating[0]["t"] - failure, 3) if migrating else None,
        "namespace_deltas": dict((h, migrate_deltas(ns_before[h], ns_after[h])) for h in cluster.hosts)}
    phases = (("before", failure - 0.01), ("during", repair - 0.01), ("end", end))
    run["sockets"] = {
        "fabric_per_link": dict((phase, link_sockets(samples, link_names, FABRIC_PORT, stamp)) for phase, stamp in phases),
        "heartbeat_per_link": dict((phase, link_sockets(samples, link_names, HEARTBEAT_PORT, stamp))
                                   for phase, stamp in phases),
        "closed_on_failed_link_s": closed_after(samples, FAILED_LINK, FABRIC_PORT, failure, repair),
        "stuck_max_during": max_stuck(samples, FAILED_LINK, FABRIC_PORT, failure, repair),
        "unstuck_after_repair_s": unstuck_after(samples, FAILED_LINK, FABRIC_PORT, repair, end),
        "at": dict((h, dict((phase, dict(("%s:%d" % (name, port), sockets_at(samples[h], name, port, stamp))
                                         for name in link_names for port in (FABRIC_PORT, HEARTBEAT_PORT)))
                            for phase, stamp in phases))
                   for h in cluster.hosts),
        "timeline": dict((h, dict(("%s:%d" % (name, port), socket_timeline(samples[h], name, port, failure))
                                  for name in link_names for port in (FABRIC_PORT, HEARTBEAT_PORT)))
                         for h in cluster.hosts)}
    run["throughput"] = throughput_series(samples, link_names, failure, t0 + 0.5, end - 0.5)
    wl = dict(workload)
    wl["failures"] = [[round(t + workload["started_at"] - failure, 3), name] for t, name in workload["failures"]]
    run["workload"] = wl
    run["cluster"]["polls"] = [[round(p["t"] - failure, 3), p["host"], p.get("cluster_size"), p.get("cluster_key"),
                                p.get("migrate_remaining")] for p in polls]
    if parse_variant(strategy)[0] != "native":
        lines = dict((h, journal(cluster, h, "clusterfabric-linkwatch", t0 - 1, failure)) for h in cluster.hosts)
        run["watchdog"] = dict((h, dict(watchdog_times(lines[h], failure, repair), journal=lines[h][-40:]))
                               for h in cluster.hosts)
    run["burst_after"] = burst(burster)
    return run


def run_strategy(strategy, image, kinds, timing):
    """A fresh cluster converged by site.yml for ``strategy``; every failure kind in turn."""
    from testbed import inventory as inv  # pylint: disable=import-outside-toplevel
    from testbed.aerospike import Server, Workload  # pylint: disable=import-outside-toplevel
    from testbed import traffic  # pylint: disable=import-outside-toplevel
    from testbed.cluster import Cluster  # pylint: disable=import-outside-toplevel
    os.makedirs(WORKDIR, exist_ok=True)
    path = inv.write(os.path.join(WORKDIR, "inventory-%s.json" % variant_slug(strategy)), GROUP, host_vars(),
                     group_vars(strategy))
    cluster = Cluster(inv.topology(path))
    out = {"inventory": os.path.relpath(path, ROOT), "kinds": {}}
    started = time.time()
    cluster.up(image)
    try:
        out["up_s"] = round(time.time() - started, 1)
        log = os.path.join(WORKDIR, "site-%s.log" % variant_slug(strategy))
        started = time.time()
        code = ansible_playbook(path, SITE, log)
        out["site_yml_s"] = round(time.time() - started, 1)
        if code != 0:
            with open(log) as handle:
                raise RuntimeError("site.yml failed for %s (%d); the end of %s:\n%s"
                                   % (strategy, code, log, handle.read()[-3000:]))
        server = Server(cluster)
        out["settle_s"] = wait_settled(server)
        out["fabric_conf"] = cluster.run(NODE, "sed -n '/^network/,/^}/p' /etc/aerospike/aerospike.conf").stdout
        network = server.info(NODE, ["get-config:context=network"]).get("get-config:context=network", "")
        out["fabric_keepalive"] = dict((key, value) for key, value in (item.partition("=")[::2]
                                                                       for item in network.split(";"))
                                       if key.startswith("fabric.keepalive"))
        traffic.install(cluster)
        for kind in kinds:
            # Every failure starts from fresh fabric connections (connections that moved off the
            # link in an earlier failure do not come back by themselves) and fresh clients.
            restart_s = fresh_start(server, cluster.hosts)
            wait_settled(server)
            if parse_variant(strategy)[0] != "native":
                wait_watchdog_up(cluster)
            print("linkloss: %s / %s ..." % (strategy, kind), flush=True)
            steady = Workload(cluster, NAMESPACE, record_bytes=RECORD_BYTES, threads=THREADS, timeout_ms=TIMEOUT_MS,
                              set_name="steady")
            burster = Workload(cluster, NAMESPACE, record_bytes=BURST_RECORD_BYTES, threads=BURST_THREADS,
                               timeout_ms=TIMEOUT_MS, set_name="burst")
            try:
                before = burst(burster)
                out["kinds"][kind] = run_kind(cluster, server, steady, burster, strategy, kind, cluster.topo.links,
                                              timing)
                out["kinds"][kind].update(burst_before=before, restart_s=restart_s)
            finally:
                steady.close()
                burster.close()
    finally:
        cluster.down()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--out", default=REPORT)
    parser.add_argument("--strategies", nargs="+", default=list(VARIANTS), metavar="STRATEGY[/NAME=N,...]",
                        help="strategies, or variants with fabric settings (balanced/keepalive-probes=3)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--timing", default="%g,%g,%g" % (BASELINE_S, DOWN_S, AFTER_S),
                        help="baseline,down,after seconds (default %(default)s)")
    parser.add_argument("--command", default="make bench-linkloss")
    args = parser.parse_args(argv)
    from testbed import aerospike as tb_aerospike  # pylint: disable=import-outside-toplevel
    from testbed import podman as pm  # pylint: disable=import-outside-toplevel
    if os.geteuid() != 0:
        sys.exit("linkloss.py needs root and podman (docs/testbed.md)")
    strategies = list(args.strategies)
    for spec in strategies:
        parse_variant(spec)
    kinds = [k for k in args.kinds.split(",") if k]
    timing = tuple(float(v) for v in args.timing.split(","))
    started = time.time()
    image = pm.node_image()
    ok, build = tb_aerospike.available(image)
    report = {"command": args.command, "written": None, "settings": {
        "links": LINKS, "rate_mbit": RATE_MBIT, "failed_link": FAILED_LINK, "write_rate": WRITE_RATE,
        "record_bytes": RECORD_BYTES, "threads": THREADS, "timeout_ms": TIMEOUT_MS, "max_retries": 0,
        "baseline_s": timing[0], "down_s": timing[1], "after_s": timing[2], "sample_s": SAMPLE_S, "poll_s": POLL_S,
        "window_s": WINDOW_S, "share_fraction": SHARE_FRACTION, "rate_fraction": RATE_FRACTION,
        "burst": {"seconds": BURST_S, "record_bytes": BURST_RECORD_BYTES, "threads": BURST_THREADS}},
        "nproc": os.cpu_count()}
    if not ok:
        print("linkloss: skipped: %s" % build)
        report.update(skipped=build, strategies={}, results={})
    else:
        report["server"] = build
        report["strategies"] = {}
        for strategy in strategies:
            report["strategies"][strategy] = run_strategy(strategy, image, kinds, timing)
        rows = [result_row(s, k, run) for s, data in report["strategies"].items() for k, run in data["kinds"].items()]
        report["results"] = results_mapping(rows)
        report["table"] = table(rows, timing[2])
        print(report["table"])
    report["seconds"] = round(time.time() - started, 1)
    report["loadavg_end"] = os.getloadavg()
    report["written"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1, sort_keys=True)
        handle.write("\n")
    print("linkloss: %.0f s; written to %s" % (report["seconds"], os.path.relpath(args.out, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
