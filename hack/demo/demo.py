# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo` after `python -m testbed up`: the real Aerospike server on the two demo nodes,
its fabric traffic measured per link by the product's own playbooks/verify.yml (docs/demo.md).

Per phase, side by side in one run:

  single    fabric_strategy single with the nat role left out: one published fabric address per
            node and no NAT rules, so every fabric connection rides the first link;
  native    every fabric address published, no NAT (fabric_strategy native): the server picks a
            peer address per socket;
  balanced  the inventory's strategy: every address published, the NAT rules rotate the
            connections over the links, the link watchdog runs.

With --strategy mptcp (`make demo STRATEGY=mptcp`) the phases are single, balanced and last
mptcp: fabric_strategy mptcp, no NAT rules, a signal endpoint per link address and the servers
wrapped by the mptcp role's drop-in (mptcpize's LD_PRELOAD library), so every fabric connection
has a subflow per link; the cluster is left in that state. The summary compares the last phase
with single.

Each phase converges the nodes with playbooks/site.yml, restarts both servers (stop both,
then start both: fabric connections live as long as the servers, so they must be opened under
the phase's rules) and waits until each node sees a cluster of 2 through the info protocol,
then a client writes records with replication factor 2 over the management network while
playbooks/verify.yml samples the fabric links' kernel counters and asks each node's server
(cluster size, migrations pending, fabric connections per link from ss). Every per-link figure
in build/demo/report.json comes from verify.yml's report.

Without a server in the node image, the same phases run 8 plain TCP streams from node1 to
node2's first-link address on the fabric port instead, labelled as such.

    python hack/demo/demo.py -i hack/demo/inventory --rate-mbit 50 --seconds 10 --out build/demo
    python hack/demo/demo.py -i hack/demo/inventory --strategy mptcp
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

from ansible_collections.clusterfabric.multilink.plugins.module_utils import throughput_plot
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import throughput

from testbed import aerospike as tba
from testbed import traffic
from testbed.cluster import Cluster
from testbed.inventory import topology
from testbed.podman import TestbedError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
NAT_TABLE = "clusterfabric_multilink"
STREAMS = 8
BUSIEST_LIMIT = 0.52
# phase name, what it is, extra arguments of site.yml
PHASES = [
    ("single", "one link: fabric_strategy single (one published fabric address) with the nat role left out "
               "(no NAT rules)", ["-e", "fabric_strategy=single", "-e", '{"fabric_roles": ["links", "aerospike"]}']),
    ("native", "every fabric address published, no NAT (fabric_strategy native): the server picks a peer "
               "address per socket", ["-e", "fabric_strategy=native"]),
    ("balanced", "the inventory's strategy (%s): every address published, NAT rotation over the links, "
                 "link watchdog", []),
]
# --strategy mptcp: single and balanced NAT as above, then Multipath TCP (the phase left up)
MPTCP_PHASES = PHASES[:1] + [
    ("balanced", "fabric_strategy balanced: every address published, NAT rotation over the links, link watchdog",
     ["-e", "fabric_strategy=balanced"]),
    ("mptcp", "fabric_strategy mptcp: no NAT rules, a signal endpoint per link address, the servers wrapped to open "
              "Multipath TCP sockets (a subflow per link), link watchdog re-adding endpoints",
     ["-e", "fabric_strategy=mptcp"]),
]


class DemoError(Exception):
    pass


def say(text):
    print("demo: %s" % text)
    sys.stdout.flush()


def env():
    out = dict(os.environ)
    out.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, "build", "collections"))
    out.setdefault("CONTAINERS_CONF", os.path.join(ROOT, "hack", "containers.conf"))
    out.update(ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_CALLBACK_RESULT_FORMAT="yaml")
    return out


def playbook(args, log):
    """ansible-playbook ARGS, its output in ``log``; (seconds, command). DemoError with the end
    of the output when it fails."""
    command = [os.path.join(BIN, "ansible-playbook")] + args
    start = time.monotonic()
    with open(log, "w") as handle:
        result = subprocess.run(command, cwd=ROOT, env=env(), stdout=handle, stderr=subprocess.STDOUT,
                                universal_newlines=True, check=False)
    seconds = time.monotonic() - start
    shown = " ".join(arg if re.match(r"^[\w./=:-]+$", arg) else "'%s'" % arg for arg in ["ansible-playbook"] + args)
    if result.returncode != 0:
        with open(log) as handle:
            tail = handle.read()[-3000:]
        raise DemoError("%s failed (%d), see %s:\n%s" % (shown, result.returncode, log, tail))
    return round(seconds, 1), shown


# ---------------------------------------------------------------------------- pure parts
def window_rate(workload, window):
    """The workload's writes/s and payload Mbit/s over verify's sampling window (from its
    per-interval counts and wall-clock start); None when they do not cover the window."""
    if not window or not workload.get("started_at") or not workload.get("writes_per_interval"):
        return None
    interval = workload["interval_s"]
    first = int(max(0.0, window["start"] - workload["started_at"]) / interval + 0.999)
    last = int((window["end"] - workload["started_at"]) / interval)
    buckets = workload["writes_per_interval"][first:last]
    if len(buckets) < 2:
        return None
    seconds = len(buckets) * interval
    writes = sum(buckets)
    failed = sum((workload.get("failed_per_interval") or [])[first:last])
    return {"seconds": seconds, "writes": writes, "failed": failed, "writes_per_s": round(writes / seconds, 1),
            "payload_mbit": round(writes * workload["record_bytes"] * 8 / 1e6 / seconds, 1)}


def phase_figures(cluster, hosts, rate_mbit):
    """Per link and node what verify.yml measured and what the servers said."""
    links = {}
    for link in cluster["links"]:
        totals = cluster["totals"][link]
        per_node = dict((host, cluster["nodes"][host]["links"][link]) for host in hosts)
        links[link] = {
            "tx_bytes": totals.get("tx_bytes"), "rx_bytes": totals.get("rx_bytes"),
            "mbit": _round(totals.get("tx_mbit")), "share": _round(totals.get("share"), 4),
            "tx_mbit": dict((host, _round(figures.get("tx_mbit"))) for host, figures in per_node.items()),
            "load": dict((host, _round((figures.get("tx_mbit") or 0.0) / rate_mbit[link], 3) if rate_mbit.get(link) else None)
                         for host, figures in per_node.items()),
        }
    connections, servers = {}, {}
    for host in hosts:
        view = cluster["nodes"][host].get("server") or {}
        connections[host] = view.get("connections")
        servers[host] = dict((key, view.get(key)) for key in (
            "state", "head", "cluster_size", "migrations_pending", "server_fabric_connections", "moved", "nat_view"))
    aggregate = sum(figures["mbit"] or 0.0 for figures in links.values())
    return {"window_s": _round(cluster["window"]["seconds"], 2) if cluster.get("window") else None,
            "links": links, "aggregate_mbit": round(aggregate, 1),
            "busiest_link": cluster.get("busiest"), "busiest_share": _round(cluster.get("share"), 4),
            "fabric_connections": connections, "connections_per_link": cluster.get("connections"),
            "server": servers,
            "watchdog": dict((host, cluster["nodes"][host]["watchdog"]["head"]) for host in hosts)}


def _round(value, digits=1):
    return None if value is None else round(value, digits)


def phases_for(strategy):
    """The demo's phases for ``strategy`` (None or the inventory's: single, native, balanced)."""
    return MPTCP_PHASES if strategy == "mptcp" else PHASES


def summary(phases, limit=BUSIEST_LIMIT, top="balanced"):
    """Top-level figures: ratio (``top`` phase's aggregate / single aggregate) and busiest_share
    (``top`` phase: balanced, or mptcp with --strategy mptcp)."""
    single, balanced = phases.get("single"), phases.get(top)
    ratio = None
    if single and balanced and single["aggregate_mbit"]:
        ratio = round(balanced["aggregate_mbit"] / single["aggregate_mbit"], 3)
    share = balanced["busiest_share"] if balanced else None
    return {"ratio": ratio, "busiest_share": share, "busiest_limit": limit, "phase": top,
            "busiest_holds": None if share is None else share <= limit}


def table(report):
    """The phases side by side as text."""
    hosts = report["hosts"]
    head = ["phase", "link"] + ["%s tx" % host for host in hosts] + ["Mbit/s", "share", "load"] + \
        ["%s out/in" % host for host in hosts]
    rows = [head]
    for name, phase in report["phases"].items():
        for link, figures in phase["links"].items():
            loads = [value for value in figures["load"].values() if value is not None]
            conns = []
            for host in hosts:
                pair = (phase["fabric_connections"].get(host) or {}).get(link)
                conns.append("%s/%s" % (pair["out"], pair["in"]) if pair else "-")
            rows.append([name, link] + [_cell(figures["tx_mbit"][host]) for host in hosts]
                        + [_cell(figures["mbit"]), "%.1f %%" % (figures["share"] * 100) if figures["share"] is not None else "-",
                           "%.0f %%" % (max(loads) * 100) if loads else "-"] + conns)
        rows.append([name, "all"] + [""] * len(hosts) + [_cell(phase["aggregate_mbit"]), "", ""] + [""] * len(hosts))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    for name, phase in report["phases"].items():
        work = phase.get("workload") or {}
        if report["mode"] == "aerospike":
            during = work.get("window") or work
            lines.append("%-8s workload: %s writes/s, %s Mbit/s payload, %s failed (%s; whole run: %s failed in %s s); "
                         "cluster size %s" % (
                             name, during.get("writes_per_s"), during.get("payload_mbit"), during.get("failed"),
                             "during the window" if work.get("window") else "whole run", work.get("failed"),
                             work.get("seconds"),
                             "/".join(str((phase["server"].get(host) or {}).get("cluster_size")) for host in hosts)))
        else:
            lines.append("%-8s traffic: %s" % (name, work.get("kind")))
    lines.append("load: Mbit/s a node sent on the link / the link's rate (%s Mbit/s); out/in: fabric connections "
                 "the node opened / accepted on the link (ss, after NAT)" % report["rate_mbit"])
    top = report["summary"]
    if top["ratio"] is not None:
        name = top.get("phase", "balanced")
        lines.append("aggregate ratio %s/single: %.3fx; busiest link in %s: %.1f %% (limit %.0f %%: %s)" % (
            name, top["ratio"], name, top["busiest_share"] * 100, top["busiest_limit"] * 100,
            "holds" if top["busiest_holds"] else "DOES NOT HOLD"))
    return "\n".join(lines)


def _cell(value):
    return "-" if value is None else "%.1f" % value


# ---------------------------------------------------------------------------- the run
class Demo(object):
    def __init__(self, args):
        self.args = args
        self.topo = topology(args.inventory)
        self.cluster = Cluster(self.topo)
        self.hosts = self.cluster.hosts
        self.out = args.out
        self.available, self.build = tba.available()
        if args.plain_tcp and self.available:
            self.available, self.build = False, "--plain-tcp given (the image has Aerospike %s, left stopped)" % self.build
        self.mode = "aerospike" if self.available else "plain-tcp"
        self.rates = dict((link["name"], float(args.rate_mbit)) for link in self.topo.links)
        self.strategy = args.strategy or self.topo.strategy
        self.phases = phases_for(args.strategy)

    def path(self, name):
        return os.path.join(self.out, name)

    # ------------------------------------------------------------------ nodes
    def shape(self):
        """tbf at --rate-mbit on every fabric link, then read back what the kernel has."""
        seen = {}
        for host in self.hosts:
            self.cluster.shape(host, self.rates)
            seen[host] = {}
            for link in self.topo.links:
                text = self.cluster.run(host, "tc qdisc show dev %s root" % link["device"]).stdout
                match = re.search(r"\brate (\d+(?:\.\d+)?)([KMG]?)bit", text)
                factor = {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}[match.group(2)] if match else None
                seen[host][link["name"]] = round(float(match.group(1)) * factor, 3) if match else None
                if seen[host][link["name"]] != self.rates[link["name"]]:
                    raise DemoError("%s: tbf on %s shows %r, wanted %s Mbit/s" % (host, link["device"], text, self.rates[link["name"]]))
        return seen

    def nat_table(self, host):
        return NAT_TABLE in self.cluster.run(host, "nft list tables", check=False).stdout

    def check_rules(self, name):
        tables = dict((host, self.nat_table(host)) for host in self.hosts)
        want = name == "balanced"
        wrong = [host for host, present in tables.items() if present != want]
        if wrong:
            raise DemoError("phase %s: the NAT table %s is %s on %s (start from `python -m testbed up`, as make demo does)"
                            % (name, NAT_TABLE, "missing" if want else "there", ", ".join(wrong)))
        return tables

    def endpoints(self, name):
        """{host: MPTCP endpoint lines}: one signal endpoint per fabric link in the mptcp phase, none
        of the role's before it."""
        out = dict((host, [line for line in self.cluster.run(host, "ip mptcp endpoint show", check=False).stdout.splitlines()
                           if line.strip()]) for host in self.hosts)
        if name == "mptcp":
            short = [host for host, lines in out.items() if len([entry for entry in lines if " signal" in entry]) < len(self.topo.links)]
            if short:
                raise DemoError("phase mptcp: %s have fewer signal endpoints than links: %s" % (", ".join(short), out))
        return out

    # ------------------------------------------------------------------ one phase
    def converge(self, name, extra):
        if not self.available:
            # an image with a server (--plain-tcp) keeps it stopped: the streams use its port
            extra = extra + ["-e", "aerospike_restart=false"]
        seconds, shown = playbook(["-i", self.args.inventory, "playbooks/site.yml"] + extra,
                                  self.path("%s-site.log" % name))
        say("%s: %s (%.0f s)" % (name, shown, seconds))
        return {"command": shown, "seconds": seconds}

    def restart(self, name, server):
        """Stop both servers, then start both, then wait for the cluster: every fabric connection
        is opened anew, under this phase's rules, by servers that all listen already."""
        start = time.monotonic()
        server.stop()
        server.start()
        stats = server.wait_cluster(timeout=120)
        seconds = round(time.monotonic() - start, 1)
        sizes = dict((host, int(stats[host]["cluster_size"])) for host in self.hosts)
        # the new cluster's (empty) partitions settle first: no migration traffic in the window
        server.wait({"migrate_partitions_remaining": 0}, timeout=120)
        settled = round(time.monotonic() - start, 1)
        say("%s: both servers restarted, cluster_size %s (info protocol) after %.1f s, no migrations left after %.1f s"
            % (name, "/".join(str(sizes[h]) for h in self.hosts), seconds, settled))
        return {"seconds": seconds, "cluster_size": sizes, "migrations_done_s": settled}

    def client(self):
        """The workload's client; a server that just formed its cluster may refuse the first
        connect for a moment, so a few tries."""
        for attempt in range(20):
            try:
                return tba.Workload(self.cluster, self.args.namespace, record_bytes=self.args.record_bytes,
                                    threads=self.args.threads)
            except Exception as exc:  # pylint: disable=broad-except  # the client's own exception classes
                if attempt == 19:
                    raise DemoError("the aerospike client could not connect: %s" % (exc,))
                time.sleep(0.5)
        return None

    def verify(self, name):
        report = self.path("verify-%s.json" % name)
        if os.path.exists(report):
            os.remove(report)
        seconds, shown = playbook(["-i", self.args.inventory, "playbooks/verify.yml",
                                   "-e", "verify_seconds=%s" % self.args.seconds, "-e", "verify_interval=0.5",
                                   "-e", "verify_report=%s" % os.path.abspath(report)],
                                  self.path("verify-%s.log" % name))
        with open(report) as handle:
            data = json.load(handle)
        return data, {"command": shown, "seconds": seconds, "report": os.path.relpath(report, ROOT)}

    def load_aerospike(self, name):
        """Run the workload while verify.yml samples; (verify report, verify run, workload figures)."""
        workload = self.client()
        stop = threading.Event()
        result = {}

        def run():
            result.update(workload.run(stop=stop))

        thread = threading.Thread(target=run)
        thread.start()
        try:
            time.sleep(self.args.warmup)
            data, run_info = self.verify(name)
        finally:
            stop.set()
            thread.join()
            workload.close()
        cluster = data["clusters"][self.topo.cluster]
        keep = ("writes", "failed", "failed_by_error", "seconds", "writes_per_s", "payload_mbit", "record_bytes",
                "threads", "longest_stall_s")
        figures = dict((key, result.get(key)) for key in keep)
        figures["replication_factor"] = self.replication_factor()
        figures["window"] = window_rate(result, cluster.get("window"))
        return data, run_info, figures

    def load_tcp(self, name):
        sender, receiver = self.hosts[0], self.hosts[1]
        address = self.topo.address(receiver, self.topo.links[0]["name"])
        mptcp = name == "mptcp"
        pid = traffic.start_streams(self.cluster, sender, address, self.topo.port, STREAMS, mptcp=mptcp)
        try:
            time.sleep(self.args.warmup)
            data, run_info = self.verify(name)
        finally:
            traffic.stop(self.cluster, sender, pid)
        kind = "plain %s, not Aerospike: %d bulk streams %s -> %s:%d (%s's %s address)" % (
            "Multipath TCP" if mptcp else "TCP", STREAMS, sender, address, self.topo.port, receiver,
            self.topo.links[0]["name"])
        return data, run_info, {"kind": kind}

    def replication_factor(self):
        for namespace in self.topo.vars.get("aerospike_namespaces") or []:
            if namespace.get("name") == self.args.namespace:
                return namespace.get("replication-factor")
        return None

    # ------------------------------------------------------------------ all of it
    def run(self):
        os.makedirs(self.out, exist_ok=True)
        if self.available:
            say("Aerospike %s in the node image: the real server, %d client threads writing %d-byte records" % (
                self.build, self.args.threads, self.args.record_bytes))
        else:
            say("%s: plain TCP demo instead (%d streams over the same links, measured by verify.yml)"
                % (self.build, STREAMS))
        rates = self.shape()
        say("links limited by tbf to %s Mbit/s each (read back from the nodes)" % self.args.rate_mbit)
        server = tba.Server(self.cluster) if self.available else None
        if not self.available:
            # an MPTCP listener takes the plain TCP streams of the other phases too
            traffic.start_sink(self.cluster, self.hosts[1], self.topo.port, mptcp=self.strategy == "mptcp")
        phases, clusters = {}, {}
        for name, what, extra in self.phases:
            if "%s" in what:
                what = what % self.topo.strategy
            phase = {"what": what, "converge": self.converge(name, extra), "nat_table": self.check_rules(name)}
            if self.strategy == "mptcp":
                phase["mptcp_endpoints"] = self.endpoints(name)
            if server:
                if not phases:
                    # the role's restart handler started the servers and waited for the cluster;
                    # the demo asks them once more itself
                    sizes = dict((host, server.statistics(host).get("cluster_size")) for host in self.hosts)
                    if any(size != str(len(self.hosts)) for size in sizes.values()):
                        raise DemoError("after site.yml the servers report cluster_size %s, want %d" % (sizes, len(self.hosts)))
                    phase["cluster_size_after_site"] = dict((h, int(s)) for h, s in sizes.items())
                    say("%s: site.yml started the servers, cluster_size %s (info protocol)" % (
                        name, "/".join(sizes[h] for h in self.hosts)))
                phase["restart"] = self.restart(name, server)
                data, run_info, work = self.load_aerospike(name)
            else:
                data, run_info, work = self.load_tcp(name)
            cluster = data["clusters"][self.topo.cluster]
            if cluster.get("missing") or not cluster.get("window"):
                raise DemoError("%s: verify.yml did not sample every node at the same ticks: %s" % (name, cluster.get("notes")))
            phase.update(phase_figures(cluster, self.hosts, self.rates))
            phase["verify"] = run_info
            phase["workload"] = work
            phases[name] = phase
            clusters[name] = cluster
            print(throughput.format_report(data))
            say("%s: %.1f Mbit/s of fabric, busiest %s %.1f %%" % (
                name, phase["aggregate_mbit"], phase["busiest_link"], (phase["busiest_share"] or 0) * 100))
        report = {"mode": self.mode, "server": self.build if self.available else None, "strategy": self.strategy,
                  "mode_note": None if self.available else "%s; plain TCP streams, not Aerospike" % self.build,
                  "inventory": self.args.inventory, "cluster": self.topo.cluster, "hosts": self.hosts,
                  "rate_mbit": self.args.rate_mbit, "tbf_mbit": rates, "seconds": self.args.seconds,
                  "phases": phases}
        report["summary"] = summary(phases, top="mptcp" if self.strategy == "mptcp" else "balanced")
        report["ratio"] = report["summary"]["ratio"]
        report["busiest_share"] = report["summary"]["busiest_share"]
        with open(self.path("report.json"), "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
            handle.write("\n")
        png = throughput_plot.render_phases(
            [(name, clusters[name]) for name in phases],
            title="make demo: %s, %d nodes, %s links of %s Mbit/s" % (
                "Aerospike %s, replication factor 2" % self.build if self.available else "plain TCP (no Aerospike server)",
                len(self.hosts), len(self.topo.links), self.args.rate_mbit),
            limit_mbit=2 * float(self.args.rate_mbit), limit_label="link rate x 2 directions")
        with open(self.path("split.png"), "wb") as handle:
            handle.write(png)
        print(table(report))
        say("wrote %s and %s; the cluster stays up (make demo-down removes it)"
            % (os.path.relpath(self.path("report.json"), ROOT), os.path.relpath(self.path("split.png"), ROOT)))
        return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hack/demo/demo.py", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("-i", "--inventory", default="hack/demo/inventory")
    parser.add_argument("--rate-mbit", type=float, default=50.0, help="tbf rate of every fabric link")
    parser.add_argument("--seconds", type=float, default=10.0, help="verify.yml's sampling window per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before verify.yml starts")
    parser.add_argument("--threads", type=int, default=32, help="client threads")
    parser.add_argument("--record-bytes", type=int, default=50000)
    parser.add_argument("--namespace", default="demo")
    parser.add_argument("--out", default="build/demo")
    parser.add_argument("--strategy", choices=("balanced", "mptcp"),
                        help="mptcp: the phases single, balanced, mptcp (left up); default: single, native, "
                             "and the inventory's strategy")
    parser.add_argument("--plain-tcp", action="store_true",
                        help="run the fallback without a server (plain TCP streams) even when the image has one")
    args = parser.parse_args(argv)
    if args.rate_mbit == int(args.rate_mbit):
        args.rate_mbit = int(args.rate_mbit)
    try:
        Demo(args).run()
    except (DemoError, TestbedError) as exc:
        print("demo: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
