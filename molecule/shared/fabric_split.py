# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure how fabric traffic splits over the links of a container cluster.

Used by the verify step of every Molecule scenario and by `make demo`. It reads the same
inventory the playbooks use (ansible-inventory --list), finds the cluster's first two nodes
(lowest fabric_node_id: the sender, then the receiver) and their containers, and for each
phase:

  1. sets the NAT rules: ``off`` deletes the fabric_nat tables on every node, ``restore``
     restarts the boot unit clusterfabric-multilink-nat on every node (which reloads the
     persisted rules, and fails when there are none), ``keep`` leaves them as they are;
  2. runs traffic from the sender to the receiver's fabric port: N bulk TCP streams to the
     receiver's primary-link address (``streams``, fabric_node.py, like iperf3 -P N; ``iperf3``
     runs iperf3 itself), or the Aerospike fabric *emulation* of fabric_node.py to the
     addresses the receiver's aerospike.conf publishes; the receiver runs a sink that takes any
     connection, so the link watchdog's TCP probes of the fabric port disturb nothing;
  3. reads the byte counters of every link (tx and rx, both nodes) from the kernel, before and
     after, and on the sender every ``--interval`` seconds meanwhile.

The figures (aggregate Mbit/s, per-link bytes and share, ratio between phases) come from those
counters only, never from what the traffic generator says. Checks (``--check-*``) are written
into the report with the limit and the value; the command exits 1 when one fails, after
writing the report and printing the table.

    python molecule/shared/fabric_split.py measure -i INVENTORY --out build/reports/x.json \
        --phase baseline=off --phase spread=restore --check-ratio baseline:spread:1.9
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_TOOL_SOURCE = os.path.join(HERE, "fabric_node.py")
NODE_TOOL = "/usr/local/lib/clusterfabric-test/fabric_node.py"
NAT_UNIT = "clusterfabric-multilink-nat.service"
NFT_TABLES = ("ip clusterfabric_multilink", "ip6 clusterfabric_multilink")
AEROSPIKE_CONF = "/etc/aerospike/aerospike.conf"
WATCHDOG_STATUS = "/run/clusterfabric/linkwatch.json"
EMULATION_LABEL = ("emulation of the Aerospike >= 3.14 fabric connection pattern "
                   "(not an Aerospike server)")
RULES = ("off", "restore", "keep")
TRAFFIC = ("streams", "emulation", "iperf3")


class MeasureError(Exception):
    pass


# ============================================================================ pure parts
def counter_delta(before, after):
    """{dev: [tx, rx]} twice -> {dev: {'tx': bytes, 'rx': bytes}}."""
    return dict((dev, {"tx": after[dev][0] - before[dev][0], "rx": after[dev][1] - before[dev][1]})
                for dev in after)


def share(part, total):
    return round(part / float(total), 4) if total else 0.0


def mbit(byte_count, seconds):
    return round(byte_count * 8 / 1e6 / seconds, 1) if seconds > 0 else 0.0


def link_rows(links, sender, receiver, elapsed):
    """One row per link from the counter deltas of the sender and the receiver.

    ``sent`` (sender tx) carries the data; ``received`` (receiver rx) must match it;
    ``returned`` (receiver tx: ACKs) is the other direction. Shares are of the bytes sent.
    """
    total = sum(sender[link["device"]]["tx"] for link in links)
    rows = []
    for link in links:
        dev = link["device"]
        sent = sender[dev]["tx"]
        rows.append({"link": link["name"], "device": dev, "sent_bytes": sent,
                     "received_bytes": receiver[dev]["rx"], "returned_bytes": receiver[dev]["tx"],
                     "sender_rx_bytes": sender[dev]["rx"],
                     "share": share(sent, total), "mbit": mbit(sent, elapsed)})
    return with_load(links, rows)


def with_load(links, rows):
    """Add each row's ``load``: its Mbit/s as a fraction of the link's speed (None: unknown)."""
    for link, row in zip(links, rows):
        row["load"] = round(row["mbit"] / link["rate_mbit"], 3) if link.get("rate_mbit") else None
    return rows


def summarize(rows, elapsed):
    """Aggregate Mbit/s and the busiest link of a set of rows."""
    total = sum(row["sent_bytes"] for row in rows)
    busiest = max(rows, key=lambda row: row["sent_bytes"]) if rows else None
    return {"elapsed_s": round(elapsed, 3), "sent_bytes": total, "aggregate_mbit": mbit(total, elapsed),
            "busiest_link": busiest["link"] if busiest else None,
            "busiest_share": share(busiest["sent_bytes"], total) if busiest else 0.0}


def merge_runs(links, runs):
    """A phase's rows and summary over all its runs (bytes and time added up)."""
    elapsed = sum(run["elapsed_s"] for run in runs)
    rows = []
    for index, link in enumerate(links):
        row = {"link": link["name"], "device": link["device"]}
        for key in ("sent_bytes", "received_bytes", "returned_bytes", "sender_rx_bytes"):
            row[key] = sum(run["links"][index][key] for run in runs)
        rows.append(row)
    total = sum(row["sent_bytes"] for row in rows)
    for row in rows:
        row["share"] = share(row["sent_bytes"], total)
        row["mbit"] = mbit(row["sent_bytes"], elapsed)
    summary = summarize(rows, elapsed)
    # runs of one phase can differ (random picks): the worst run counts, not the average
    summary["worst_run_busiest_share"] = max(run["busiest_share"] for run in runs) if runs else 0.0
    return with_load(links, rows), summary


def series(samples, links):
    """Per-link Mbit/s between consecutive sender samples: {'t': [...], 'mbit': {link: [...]}}."""
    out = {"t": [], "mbit": dict((link["name"], []) for link in links)}
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if t1 <= t0:
            continue
        out["t"].append(round((t0 + t1) / 2.0, 3))
        for link in links:
            dev = link["device"]
            out["mbit"][link["name"]].append(mbit(c1[dev][0] - c0[dev][0], t1 - t0))
    return out


def weight_shares(links, weights):
    """Expected share of each link under fabric_nat_weights (a missing link weighs 1)."""
    values = dict((link["name"], int(weights.get(link["name"], 1))) for link in links)
    total = float(sum(values.values()))
    return dict((name, round(value / total, 4)) for name, value in values.items())


def pick_shares(links, peer_addresses, sockets, offered_mbit):
    """Expected share of each link from the emulation's picks and the links' speeds.

    ``peer_addresses``: {link: [receiver's addresses on it]}; ``sockets``: the emulation's
    sockets (kind, peer). Paced rw sockets offer offered_mbit / rw each, capped by the link's
    rate; unpaced ones fill every link they reach. Returns ({link: share}, {link: rw sockets}).
    """
    link_of = dict((address, name) for name, addresses in peer_addresses.items() for address in addresses)
    rw = [s for s in sockets if s["kind"] == "rw"]
    count = dict((link["name"], 0) for link in links)
    for sock in rw:
        count[link_of[sock["peer"]]] += 1
    want = {}
    for link in links:
        rate = link["rate_mbit"] or float("inf")
        if offered_mbit:
            want[link["name"]] = min(rate, count[link["name"]] * offered_mbit / float(len(rw)))
        else:
            want[link["name"]] = (link["rate_mbit"] or 1) if count[link["name"]] else 0
    total = sum(want.values())
    return dict((name, share(value, total)) for name, value in want.items()), count


def check_ratio(report, base, spread, minimum):
    phases = report["phases"]
    value = round(phases[spread]["aggregate_mbit"] / phases[base]["aggregate_mbit"], 4) \
        if phases[base]["aggregate_mbit"] else 0.0
    return {"check": "ratio %s/%s >= %s" % (spread, base, minimum), "value": value,
            "limit": minimum, "ok": value >= minimum}


def check_busiest(report, phase, maximum):
    """The busiest link's share in every run of the phase (the worst run counts)."""
    runs = report["phases"][phase]["runs"]
    value = max(run["busiest_share"] for run in runs)
    return {"check": "busiest link share in %s <= %s (worst of %d run%s)"
                     % (phase, maximum, len(runs), "" if len(runs) == 1 else "s"),
            "value": value, "limit": maximum, "ok": value <= maximum}


def check_shares(phase_name, rows, expected, tolerance, what):
    """Every link's share within ``tolerance`` of ``expected`` {link: share}."""
    worst = max(abs(row["share"] - expected[row["link"]]) for row in rows)
    return {"check": "shares in %s within %s of %s %s" % (phase_name, tolerance, what,
                                                          dict(sorted(expected.items()))),
            "value": round(worst, 4), "limit": tolerance, "ok": worst <= tolerance,
            "shares": dict((row["link"], row["share"]) for row in rows)}


def check_weights(report, phase, tolerance):
    expected = weight_shares(report["links"], report["weights"])
    return check_shares(phase, report["phases"][phase]["links"], expected, tolerance, "the weights")


def check_picks(report, phase, tolerance):
    """Each run's split against the split its socket picks predict (one check, worst run)."""
    worst = None
    for run in report["phases"][phase]["runs"]:
        result = check_shares("%s seed %s" % (phase, run["seed"]), run["links"], run["expected_shares"],
                              tolerance, "the picks")
        if worst is None or result["value"] > worst["value"]:
            worst = result
    worst["check"] = "every run of %s: shares within %s of what its socket picks predict (worst: %s)" % (
        phase, tolerance, worst["check"])
    return worst


def top_figures(report, base, spread):
    """ratio (aggregate spread / baseline) and busiest_share (spread) for the report's top level."""
    phases = report["phases"]
    if base in phases and spread in phases and phases[base]["aggregate_mbit"]:
        report["ratio"] = round(phases[spread]["aggregate_mbit"] / phases[base]["aggregate_mbit"], 4)
        report["busiest_share"] = phases[spread]["worst_run_busiest_share"]
        report["ratio_phases"] = [base, spread]
    return report


def traffic_label(traffic):
    if traffic["kind"] == "emulation":
        return "Aerospike fabric emulation, seeds %s" % ",".join(str(seed) for seed in traffic.get("seeds", []))
    paced = " at %s Mbit/s" % traffic["stream_mbit"] if traffic.get("stream_mbit") else ""
    text = "%d TCP streams%s, %s s" % (traffic.get("streams", 0), paced, traffic.get("seconds"))
    return "iperf3, " + text if traffic["kind"] == "iperf3" else text


def check_watchdog(report, phase):
    """The sender's link watchdog before and after the phase's traffic: every path up, and every
    peer chain rotating over all of the receiver's planned addresses of its family."""
    watch = report["phases"][phase].get("watchdog") or {}
    problems = []
    wanted = report.get("receiver_addresses") or []
    for when in ("before", "after"):
        status = watch.get(when)
        if not status:
            problems.append("%s: no watchdog status" % when)
            continue
        down = sorted(path for path, state in (status.get("paths") or {}).items() if state != "up")
        if down or not status.get("paths"):
            problems.append("%s: paths not up: %s" % (when, down or "none reported"))
        for chain, lanes in sorted((status.get("lanes") or {}).items()):
            family = [a for a in wanted if (":" in a) == chain.startswith("ip6 ")]
            if sorted(set(lanes)) != sorted(family):
                problems.append("%s: %s rotates over %s, not %s" % (when, chain, sorted(set(lanes)), sorted(family)))
        if not status.get("lanes"):
            problems.append("%s: no lanes" % when)
    return {"check": "link watchdog in %s: every path up, every lane in the rotation (before and after)" % phase,
            "value": problems or "ok", "limit": "no problem", "ok": not problems}


def format_table(report):
    """The per-link table of every phase, then the ratio and the checks."""
    lines = ["NOTE: %s" % note for note in report.get("notes", [])]
    if report.get("traffic", {}).get("kind") == "emulation":
        lines.append("traffic: " + EMULATION_LABEL)
    lines.append("%s -> %s, port %s; counters from the kernel (sender tx = bytes sent)"
                 % (report["sender"], report["receiver"], report["port"]))
    header = "%-10s %-8s %-6s %14s %14s %7s %9s %8s" % ("phase", "link", "dev", "bytes sent", "bytes received",
                                                        "share", "Mbit/s", "of link")
    lines.append(header)
    lines.append("-" * len(header))
    for name, phase in report["phases"].items():
        for row in phase["links"]:
            lines.append("%-10s %-8s %-6s %14d %14d %6.1f%% %9.1f %8s" % (
                name, row["link"], row["device"], row["sent_bytes"], row["received_bytes"],
                100 * row["share"], row["mbit"], "%.0f%%" % (100 * row["load"]) if row.get("load") is not None else "-"))
        lines.append("%-10s %-8s %-6s %14d %14s %7s %9.1f   NAT rules %s, %d run%s, %.1f s"
                     % (name, "all", "", phase["sent_bytes"], "", "", phase["aggregate_mbit"], phase["nat"],
                        len(phase["runs"]), "" if len(phase["runs"]) == 1 else "s", phase["elapsed_s"]))
        for when, status in sorted((phase.get("watchdog") or {}).items()):
            down = sorted(path for path, state in ((status or {}).get("paths") or {}).items() if state != "up")
            if down:
                lines.append("%-10s   link watchdog on %s %s the traffic: paths not up: %s (lanes %s)"
                             % ("", report["sender"], when, ", ".join(down), status.get("lanes")))
        for run in phase["runs"] if len(phase["runs"]) > 1 else []:
            lines.append("%-10s   seed %-6s busiest %-6s %5.1f%%  %8.1f Mbit/s  rw sockets per picked link %s"
                         % ("", run["seed"], run["busiest_link"], 100 * run["busiest_share"],
                            run["aggregate_mbit"], run.get("rw_per_link", "")))
    if "ratio" in report:
        lines.append("aggregate ratio %s/%s: %.3fx; busiest link in %s (worst run): %.1f%%" % (
            report["ratio_phases"][1], report["ratio_phases"][0], report["ratio"],
            report["ratio_phases"][1], 100 * report["busiest_share"]))
    for check in report.get("checks", []):
        lines.append("%s %s: %s" % ("PASS" if check["ok"] else "FAIL", check["check"], check["value"]))
    return "\n".join(lines)


def plot(report, path, phases=None, title=None):
    """PNG: per-link Mbit/s over time (sender tx counters), one panel per phase."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel

    names = phases or list(report["phases"])
    figure = Figure(figsize=(5.5 * len(names), 4.2))
    FigureCanvasAgg(figure)
    top = 0.0
    axes = []
    for index, name in enumerate(names):
        phase = report["phases"][name]
        ax = figure.add_subplot(1, len(names), index + 1, sharey=axes[0] if axes else None)
        axes.append(ax)
        offset = 0.0
        for run in phase["runs"]:
            times = [t + offset for t in run["series"]["t"]]
            total = [0.0] * len(times)
            for link in report["links"]:
                values = run["series"]["mbit"][link["name"]]
                ax.plot(times, values, label=link["name"] if offset == 0.0 else None,
                        color="C%d" % report["links"].index(link))
                total = [a + b for a, b in zip(total, values)]
            ax.plot(times, total, color="black", linestyle="--", label="all links" if offset == 0.0 else None)
            top = max([top] + total)
            offset += run.get("run_seconds", run["elapsed_s"])
        ax.set_title("%s (NAT rules %s): %.0f Mbit/s, busiest link %.0f%%"
                     % (name, phase["nat"], phase["aggregate_mbit"], 100 * phase["busiest_share"]), fontsize=10)
        ax.set_xlabel("seconds")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("Mbit/s sent per link (kernel tx counters)")
    axes[0].set_ylim(0, top * 1.15 + 1)
    axes[0].legend(loc="lower right", fontsize=8)
    rates = ", ".join("%s %s" % (link["name"], "%g" % link["rate_mbit"] if link.get("rate_mbit") else "?")
                      for link in report["links"])
    ratio = "; aggregate %s/%s %.2fx" % (report["ratio_phases"][1], report["ratio_phases"][0], report["ratio"]) \
        if "ratio" in report else ""
    figure.suptitle(title or "%s: %d links (%s Mbit/s), %s%s" % (
        report.get("scenario", ""), len(report["links"]), rates, traffic_label(report["traffic"]), ratio))
    figure.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    figure.savefig(path, dpi=100)
    return path


# ============================================================================ the test bed
def podman_env():
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", os.path.join(ROOT, "hack", "containers.conf"))
    return env


class Node(object):
    """A container reached with podman exec."""

    def __init__(self, name, container):
        self.name = name
        self.container = container

    def run(self, command, check=True, timeout=120):
        result = subprocess.run(["podman", "exec", self.container, "sh", "-c", command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                env=podman_env(), timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise MeasureError("%s: %r failed (%d): %s%s"
                               % (self.name, command, result.returncode, result.stdout, result.stderr))
        return result

    def json(self, command, timeout=120):
        out = self.run(command, timeout=timeout).stdout
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise MeasureError("%s: %r printed no JSON: %r" % (self.name, command, out[-500:]))

    def install_tool(self):
        self.run("mkdir -p %s" % os.path.dirname(NODE_TOOL))
        subprocess.run(["podman", "cp", NODE_TOOL_SOURCE, "%s:%s" % (self.container, NODE_TOOL)],
                       env=podman_env(), check=True)

    def counters(self, devices):
        return self.json("python3 %s counters %s" % (NODE_TOOL, " ".join(devices)))["counters"]


def load_inventory(inventory):
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"),
                             "-i", inventory, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, check=False)
    if result.returncode != 0:
        raise MeasureError("ansible-inventory -i %s failed: %s" % (inventory, result.stderr))
    return json.loads(result.stdout)


def _collection():
    """Make the collection importable (through build/collections, as the tests do)."""
    if os.path.join(ROOT, "tests") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
    from collection_path import ensure_importable  # pylint: disable=import-outside-toplevel,import-error
    ensure_importable()


def plan_addresses(nodes, links):
    """The collection's own planner: {host: {link: [address, ...]}}."""
    _collection()
    from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import (  # pylint: disable=import-outside-toplevel
        plan_addresses as plan)
    return plan(nodes, links)


def parse_conf(text):
    """aerospike.conf as data, with the collection's own parser."""
    _collection()
    from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import (  # pylint: disable=import-outside-toplevel
        parse)
    return parse(text)


def topology(data, cluster=None):
    """The test bed as the inventory describes it (see molecule/shared/README.md)."""
    hostvars = data.get("_meta", {}).get("hostvars", {})
    clusters = sorted(set(v["fabric_cluster_group"] for v in hostvars.values() if "fabric_cluster_group" in v))
    if cluster is None:
        if len(clusters) != 1:
            raise MeasureError("the inventory holds clusters %s: pick one with --cluster" % clusters)
        cluster = clusters[0]
    hosts = sorted((h for h, v in hostvars.items() if v.get("fabric_cluster_group") == cluster),
                   key=lambda h: int(hostvars[h]["fabric_node_id"]))
    if len(hosts) < 2:
        raise MeasureError("cluster %s needs two hosts, has %s" % (cluster, hosts))
    first = hostvars[hosts[0]]
    # rate_mbit: filled in from the nodes' tbf qdiscs (Bed.read_rates)
    links = [{"name": link["name"], "device": link["device"], "subnet": link["subnet"], "rate_mbit": None}
             for link in first["fabric_links"]]
    plan = plan_addresses(dict((h, int(hostvars[h]["fabric_node_id"])) for h in hosts), first["fabric_links"])
    return {"cluster": cluster, "sender": hosts[0], "receiver": hosts[1],
            "containers": dict((h, hostvars[h].get("ansible_host", h)) for h in hosts),
            "hosts": hosts, "links": links, "plan": plan,
            "port": int((first.get("fabric_ports") or [3001])[0]),
            "strategy": first.get("fabric_strategy", "balanced"),
            "weights": dict(first.get("fabric_nat_weights") or {})}


class Bed(object):
    def __init__(self, topo):
        self.topo = topo
        self.nodes = dict((h, Node(h, topo["containers"][h])) for h in topo["hosts"])
        self.sender = self.nodes[topo["sender"]]
        self.receiver = self.nodes[topo["receiver"]]
        self.devices = [link["device"] for link in topo["links"]]

    def prepare(self):
        for node in (self.sender, self.receiver):
            node.install_tool()
        self.read_rates()

    def read_rates(self):
        """Each link's speed as the sender's tbf qdisc really limits it (None: not shaped)."""
        for link in self.topo["links"]:
            shown = json.loads(self.sender.run("tc -j qdisc show dev %s" % link["device"]).stdout or "[]")
            rates = [q["options"]["rate"] for q in shown if q.get("kind") == "tbf" and q.get("root")]
            link["rate_mbit"] = round(rates[0] * 8 / 1e6, 1) if rates else None

    # ------------------------------------------------------------------ rules
    def set_rules(self, mode):
        if mode == "off":
            for node in self.nodes.values():
                node.run("; ".join("nft delete table %s 2>/dev/null" % table for table in NFT_TABLES) + "; true")
        elif mode == "restore":
            for node in self.nodes.values():
                node.run("systemctl restart %s" % NAT_UNIT)
        tables = self.sender.run("nft list tables").stdout
        present = "clusterfabric_multilink" in tables
        if mode == "off" and present or mode == "restore" and not present:
            raise MeasureError("%s: rules %s, but nft lists: %r" % (self.sender.name, mode, tables))
        return present

    # ------------------------------------------------------------------ servers
    def stop_server(self):
        self.receiver.run("pkill -x iperf3; pkill -f 'fabric_node[.]py sink'; "
                          "for i in $(seq 100); do ss -Hltn 'sport = :%d' | grep -q . || exit 0; sleep 0.1; done; "
                          "exit 1" % self.topo["port"])

    def start_server(self, kind):
        self.stop_server()
        if kind == "iperf3":
            self.receiver.run("iperf3 -s -D -p %d" % self.topo["port"])
        else:
            self.receiver.run("setsid python3 %s sink --port %d >/dev/null 2>&1 </dev/null &"
                              % (NODE_TOOL, self.topo["port"]))
        self.receiver.run("for i in $(seq 100); do ss -Hltn 'sport = :%d' | grep -q . && exit 0; sleep 0.1; done; "
                          "exit 1" % self.topo["port"])

    def published_addresses(self):
        """The receiver's fabric addresses as its aerospike.conf publishes them."""
        fabric = parse_conf(self.receiver.run("cat %s" % AEROSPIKE_CONF).stdout)["network"]["fabric"]
        addresses = fabric.get("address", [])
        return [addresses] if isinstance(addresses, str) else list(addresses)

    # ------------------------------------------------------------------ one run
    def run_traffic(self, options, seed=None, addresses=None):
        topo = self.topo
        primary = topo["plan"][topo["receiver"]][topo["links"][0]["name"]][0]
        if options["traffic"] == "streams":
            command = "python3 %s streams --address %s --port %d --count %d --seconds %s --stream-mbit %s" % (
                NODE_TOOL, primary, topo["port"], options["streams"], options["seconds"], options["stream_mbit"])
            command += " --devices %s" % ",".join(self.devices)
        elif options["traffic"] == "iperf3":
            command = "iperf3 -J -c %s -p %d -P %d -t %s" % (primary, topo["port"], options["streams"],
                                                             options["seconds"])
            if options["stream_mbit"]:
                command += " -b %sM" % options["stream_mbit"]
        else:
            command = "python3 %s emulate --addresses %s --port %d --seed %d --seconds %s --offered-mbit %s" % (
                NODE_TOOL, ",".join(addresses), topo["port"], seed, options["seconds"], options["offered_mbit"])
            command += " --devices %s" % ",".join(self.devices)
        failures = []
        while True:
            before = self.receiver.counters(self.devices)
            result = self.sender.json("python3 %s run --devices %s --interval %s -- %s" % (
                NODE_TOOL, ",".join(self.devices), options["interval"], command),
                timeout=float(options["seconds"]) + 120)
            after = self.receiver.counters(self.devices)
            if result["returncode"] == 0 and '"error"' not in result["stdout"][-2000:]:
                break
            failures.append("%s%s" % (result["stdout"][-300:], result["stderr"][-300:]))
            # iperf3 serves one test at a time: a stray connection to the port (such as the link
            # watchdog's TCP probe) at the wrong moment fails a test. Such a run is repeated
            # (and recorded in the report); a generator that keeps failing is an error.
            if options["traffic"] != "iperf3" or len(failures) > 2:
                raise MeasureError("%s: %s failed (%d): %s"
                                   % (self.sender.name, command, result["returncode"], " | ".join(failures)))
            self.start_server(options["traffic"])
        samples = result["samples"]
        claims = json.loads(result["stdout"])
        # Our generators frame the traffic with counter readings of their own (kernel counters,
        # read in the node right before the first byte and after the peer read the last one);
        # for iperf3 the whole run counts, start-up included.
        window = claims.get("window") or {"before": samples[0][1], "after": samples[-1][1],
                                          "seconds": result["elapsed"]}
        rows = link_rows(topo["links"], counter_delta(window["before"], window["after"]),
                         counter_delta(before, after), window["seconds"])
        run = {"seed": seed, "command": command, "links": rows, "series": series(samples, topo["links"]),
               "failed_attempts": failures, "run_seconds": result["elapsed"]}
        run.update(summarize(rows, window["seconds"]))
        if options["traffic"] == "iperf3":
            run["generator_claim_mbit"] = round(claims["end"]["sum_sent"]["bits_per_second"] / 1e6, 1)
        elif options["traffic"] == "streams":
            run["generator_claim_mbit"] = mbit(sum(claims["bytes_claimed"]), float(options["seconds"]))
        else:
            run["emulation"] = claims
            peers = dict((link["name"], topo["plan"][topo["receiver"]][link["name"]]) for link in topo["links"])
            run["expected_shares"], run["rw_per_link"] = pick_shares(
                topo["links"], peers, claims["sockets"], options["offered_mbit"])
        return run

    def watchdog(self):
        """What the sender's link watchdog (clusterfabric-linkwatch, if any) thinks: path states
        and the lanes it left in the peer chains. It takes lanes out of the rotation when their
        probes fail, so a split can only be judged together with this."""
        text = self.sender.run("cat %s 2>/dev/null" % WATCHDOG_STATUS, check=False).stdout
        if not text.strip():
            return None
        try:
            status = json.loads(text)
        except ValueError:
            return {"unreadable": text[-300:]}
        paths = dict(("%s/%s" % (peer, link), path.get("state"))
                     for peer, links in status.get("peers", {}).items() for link, path in links.items())
        return {"paths": paths, "lanes": status.get("rules", {}).get("lanes"),
                "rules_error": status.get("rules", {}).get("error"), "updated": status.get("updated")}

    def phase(self, name, rules, options):
        present = self.set_rules(rules)
        addresses = self.published_addresses() if options["traffic"] == "emulation" else None
        self.start_server(options["traffic"])
        watch = {"before": self.watchdog()}
        try:
            seeds = options["seeds"] if options["traffic"] == "emulation" else [None]
            runs = [self.run_traffic(options, seed, addresses) for seed in seeds]
        finally:
            self.stop_server()
        watch["after"] = self.watchdog()
        rows, summary = merge_runs(self.topo["links"], runs)
        phase = {"rules": rules, "nat": "on" if present else "off", "runs": runs, "links": rows}
        if watch["before"] or watch["after"]:
            phase["watchdog"] = watch
        if addresses is not None:
            phase["published_addresses"] = addresses
        phase.update(summary)
        print("phase %s (NAT rules %s): %.1f Mbit/s, busiest %s %.1f%%" % (
            name, phase["nat"], phase["aggregate_mbit"], phase["busiest_link"], 100 * phase["busiest_share"]))
        return phase


# ============================================================================ command line
def _pair(text, parts, what):
    values = text.split(":")
    if len(values) != parts:
        raise argparse.ArgumentTypeError("%s: want %s" % (text, what))
    return values


def measure(args):
    topo = topology(load_inventory(args.inventory), args.cluster)
    report = {}
    if args.append and os.path.exists(args.out):
        with open(args.out) as handle:
            report = json.load(handle)
    traffic = {"kind": args.traffic, "seconds": args.seconds, "interval": args.interval}
    if args.traffic in ("streams", "iperf3"):
        traffic.update(streams=args.streams, stream_mbit=args.stream_mbit)
    else:
        traffic.update(label=EMULATION_LABEL, seeds=args.seeds, offered_mbit=args.offered_mbit)
    report.update({"scenario": args.scenario or report.get("scenario") or topo["cluster"],
                   "cluster": topo["cluster"], "sender": topo["sender"], "receiver": topo["receiver"],
                   "port": topo["port"], "strategy": topo["strategy"], "weights": topo["weights"],
                   "links": topo["links"], "nproc": os.cpu_count()})
    for note in args.note:
        if note not in report.setdefault("notes", []):
            report["notes"].append(note)
    report["receiver_addresses"] = [a for link in topo["links"] for a in topo["plan"][topo["receiver"]][link["name"]]]
    report.setdefault("traffic", traffic)
    report.setdefault("traffic_by_phase", {})
    report.setdefault("phases", {})
    report.setdefault("checks", [])
    bed = Bed(topo)
    bed.prepare()
    options = {"traffic": args.traffic, "seconds": args.seconds, "streams": args.streams,
               "stream_mbit": args.stream_mbit, "offered_mbit": args.offered_mbit,
               "seeds": args.seeds, "interval": args.interval}
    for spec in args.phase:
        name, dummy, rules = spec.partition("=")
        if rules not in RULES:
            raise MeasureError("--phase %s: rules must be one of %s" % (spec, ", ".join(RULES)))
        report["phases"][name] = bed.phase(name, rules, options)
        report["traffic_by_phase"][name] = traffic
        report["load_average"] = list(os.getloadavg())
    checks = []
    for base, spread, minimum in args.check_ratio:
        checks.append(check_ratio(report, base, spread, float(minimum)))
    for name, maximum in args.check_busiest:
        checks.append(check_busiest(report, name, float(maximum)))
    for name, tolerance in args.check_weights:
        checks.append(check_weights(report, name, float(tolerance)))
    for name, tolerance in args.check_picks:
        checks.append(check_picks(report, name, float(tolerance)))
    for name in args.check_watchdog:
        checks.append(check_watchdog(report, name))
    report["checks"] = report["checks"] + checks
    report["passed"] = all(check["ok"] for check in report["checks"])
    base, dummy, spread = (args.ratio or "baseline:spread").partition(":")
    top_figures(report, base, spread)
    directory = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print(format_table(report))
    print("report: %s" % os.path.relpath(args.out))
    if args.plot:
        plot(report, args.plot, title=args.title)
        print("plot: %s" % os.path.relpath(args.plot))
    return 0 if report["passed"] else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    cmd = sub.add_parser("measure", help="run phases, write the report, check it")
    cmd.add_argument("-i", "--inventory", required=True)
    cmd.add_argument("--cluster")
    cmd.add_argument("--out", required=True, help="report (JSON)")
    cmd.add_argument("--scenario")
    cmd.add_argument("--append", action="store_true", help="add to the phases and checks of --out")
    cmd.add_argument("--phase", action="append", default=[], metavar="NAME=off|restore|keep")
    cmd.add_argument("--traffic", choices=TRAFFIC, default="streams")
    cmd.add_argument("--seconds", type=float, default=5)
    cmd.add_argument("--streams", type=int, default=8)
    cmd.add_argument("--stream-mbit", type=float, default=0, help="streams, iperf3: Mbit/s per stream (0: unpaced)")
    cmd.add_argument("--offered-mbit", type=float, default=0, help="emulation: rw sockets together (0: unpaced)")
    cmd.add_argument("--seeds", type=lambda text: [int(v) for v in text.split(",")], default=[1])
    cmd.add_argument("--interval", type=float, default=0.5)
    cmd.add_argument("--ratio", help="BASE:SPREAD phases of the top-level ratio (default baseline:spread)")
    cmd.add_argument("--check-ratio", action="append", default=[], metavar="BASE:SPREAD:MIN",
                     type=lambda text: _pair(text, 3, "BASE:SPREAD:MIN"))
    cmd.add_argument("--check-busiest", action="append", default=[], metavar="PHASE:MAX",
                     type=lambda text: _pair(text, 2, "PHASE:MAX"))
    cmd.add_argument("--check-weights", action="append", default=[], metavar="PHASE:TOLERANCE",
                     type=lambda text: _pair(text, 2, "PHASE:TOLERANCE"))
    cmd.add_argument("--check-picks", action="append", default=[], metavar="PHASE:TOLERANCE",
                     type=lambda text: _pair(text, 2, "PHASE:TOLERANCE"))
    cmd.add_argument("--check-watchdog", action="append", default=[], metavar="PHASE",
                     help="the sender's link watchdog: every path up and every lane rotated, before and after")
    cmd.add_argument("--note", action="append", default=[], help="a line for the report and the table (e.g. why a fallback)")
    cmd.add_argument("--plot", help="PNG of per-link throughput over time")
    cmd.add_argument("--title")
    cmd = sub.add_parser("show", help="print the table of a report (and plot it)")
    cmd.add_argument("report")
    cmd.add_argument("--plot")
    args = parser.parse_args(argv)
    try:
        if args.command == "measure":
            return measure(args)
        with open(args.report) as handle:
            report = json.load(handle)
        print(format_table(report))
        if args.plot:
            plot(report, args.plot)
        return 0
    except MeasureError as exc:
        print("fabric_split: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
