# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real Aerospike server's fabric in a converged container cluster: cluster, sockets, split.

Used by the verify step of the scenarios that run the server (native, single, ipv6,
multi_address) when the node image carries one (testbed.aerospike.available()). Against the
inventory the playbooks use, with the test bed package (tests/lib/testbed):

  1. the info protocol, over the management network: every node must see ``cluster_size``
     equal to the number of hosts, with ``cluster_integrity``; ``endpoints`` gives the fabric
     addresses each node publishes and those it learned from its peer;
  2. every node's established fabric sockets (``ss``), per link and per lane (address);
  3. a write workload (testbed.aerospike.Workload over the management network; replication
     factor 2, so every write's replica crosses the fabric) runs while the product's own
     ``playbooks/verify.yml`` samples the kernel counters of every fabric link on every node
     (``-e verify_report=...``); its report gives the split;
  4. the sockets again, after the window.

The split and its checks come from verify.yml's report (kernel counters of both nodes, both
directions), the sockets from ``ss`` in the nodes; nothing is taken from the workload's own
claims except its write rate, reported beside the fabric's. Checks (``--check-*``) are written
into the report with their limit and value; the command exits 1 when one fails, after writing
the report and printing the table.

About the sockets: a socket's addresses are the ones the server used. For a connection a node
opened and its NAT rules steered to another lane, the opener's socket still shows the address
it dialed; the peer's accepted ('in') socket shows the lane it arrived on. So the lanes a node's
connections really use are its peer's 'in' sockets from it, and that is what the per-lane
checks count.

    python molecule/shared/server_split.py measure -i molecule/ipv6/inventory \\
        --out build/reports/ipv6.json --check-busiest 0.52 --check-every-lane fab0,fab1
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERIFY_PLAYBOOK = os.path.join(ROOT, "playbooks", "verify.yml")
DEFAULT_CHANNELS = (("rw", 8), ("bulk", 2), ("ctrl", 1), ("meta", 1))
WATCHDOG_STATUS = "/run/clusterfabric/linkwatch.json"


class SplitError(Exception):
    pass


# ============================================================================ pure parts
def parse_endpoints(text):
    """The info ``endpoints`` answer -> {'published': [addresses], 'peers': {node id: [addresses]}}
    for the fabric (what this node publishes, what it learned each peer publishes)."""
    fields = dict(item.split("=", 1) for item in text.split(";") if "=" in item)
    published = [a for a in fields.get("fabric.addresses", "").split(",") if a and a != "null"]
    peers = {}
    # fabric.peer=node-id=BB95...:endpoint=198.19.3.12:3001,198.19.4.12:3001:endpoint-tls=...
    raw = text.split("fabric.peer=", 1)[1].split(";", 1)[0] if "fabric.peer=" in text else ""
    for chunk in raw.split("node-id=")[1:]:
        node, dummy, rest = chunk.partition(":endpoint=")
        endpoints = rest.split(":endpoint-tls=")[0]
        addresses = []
        for endpoint in endpoints.split(","):
            address = endpoint.rsplit(":", 1)[0].strip("[]")
            if address:
                addresses.append(address)
        peers[node.strip()] = addresses
    return {"published": published, "peers": peers}


def expected_sockets(fabric):
    """Sockets a node opens to each peer: the sum of the channel-*-fds of its fabric stanza
    (``fabric``: the parsed network.fabric of aerospike.conf; server defaults otherwise)."""
    return sum(int(fabric.get("channel-%s-fds" % name, default)) for name, default in DEFAULT_CHANNELS)


def lane_table(sockets, lanes):
    """Per lane (address) of one node: {address: {'link': name, 'in': n, 'out': n}} from its
    sockets; ``lanes``: [(link, address)] in plan order. Sockets on no lane go under 'other'."""
    table = dict((address, {"link": link, "in": 0, "out": 0}) for link, address in lanes)
    other = {"in": 0, "out": 0, "addresses": []}
    for sock in sockets:
        entry = table.get(sock["local"])
        if entry is None:
            other[sock["direction"]] += 1
            if sock["local"] not in other["addresses"]:
                other["addresses"].append(sock["local"])
        else:
            entry[sock["direction"]] += 1
    return table, other


def link_totals(table, links):
    """{link: {'in': n, 'out': n}} summed over the lanes of ``table`` (lane_table)."""
    totals = dict((link, {"in": 0, "out": 0}) for link in links)
    for entry in table.values():
        for direction in ("in", "out"):
            totals[entry["link"]][direction] += entry[direction]
    return totals


def dialed(sockets, links_of):
    """{link: n} of the addresses a node's opened ('out') sockets dialed; ``links_of``: {address: link}."""
    counts = {}
    for sock in sockets:
        if sock["direction"] == "out":
            link = links_of.get(sock["remote"], "other")
            counts[link] = counts.get(link, 0) + 1
    return counts


def window_rate(chunks, start, end, record_bytes):
    """Writes/s and payload Mbit/s of the workload inside [start, end] (epoch seconds), from its
    chunks ({'start', 'end', 'writes'}), each counted in proportion to its overlap."""
    writes = 0.0
    for chunk in chunks:
        span = chunk["end"] - chunk["start"]
        overlap = min(end, chunk["end"]) - max(start, chunk["start"])
        if span > 0 and overlap > 0:
            writes += chunk["writes"] * overlap / span
    seconds = end - start
    if seconds <= 0:
        return {"writes_per_s": 0.0, "payload_mbit": 0.0}
    return {"writes_per_s": round(writes / seconds, 1),
            "payload_mbit": round(writes * record_bytes * 8 / 1e6 / seconds, 1)}


def _check(name, value, limit, ok, **extra):
    out = {"check": name, "value": value, "limit": limit, "ok": bool(ok)}
    out.update(extra)
    return out


def check_cluster(stats, hosts):
    """Every host sees a cluster of all ``hosts``, with integrity (info statistics)."""
    sizes = dict((host, int(stats.get(host, {}).get("cluster_size", 0) or 0)) for host in hosts)
    integrity = dict((host, stats.get(host, {}).get("cluster_integrity") == "true") for host in hosts)
    return _check("cluster_size on every node == %d, with integrity (info protocol)" % len(hosts),
                  sizes, len(hosts), all(size == len(hosts) for size in sizes.values()) and all(integrity.values()),
                  integrity=integrity)


def check_replicas(cluster, workload_mbit, minimum):
    """The fabric carried the workload's replicas: the links' tx Mbit/s (both nodes, every link,
    from verify.yml) at least ``minimum`` times the workload's payload Mbit/s in the window."""
    fabric = round(sum((figures or {}).get("tx_mbit") or 0.0 for figures in cluster["totals"].values()), 1)
    value = round(fabric / workload_mbit, 3) if workload_mbit else 0.0
    return _check("fabric tx Mbit/s / workload payload Mbit/s >= %s (the replicas ride the fabric links)" % minimum,
                  value, minimum, value >= minimum, fabric_mbit=fabric, payload_mbit=workload_mbit)


def check_busiest(cluster, maximum):
    """The busiest link's share of the cluster's fabric bytes (verify.yml: tx + rx, both nodes)."""
    share = cluster.get("share")
    return _check("busiest link (%s) share of the fabric bytes <= %s" % (cluster.get("busiest"), maximum),
                  share, maximum, share is not None and share <= maximum)


def check_link_share(cluster, link, minimum):
    share = ((cluster["totals"].get(link) or {}).get("share"))
    return _check("%s share of the fabric bytes >= %s" % (link, minimum), share, minimum,
                  share is not None and share >= minimum)


def check_sockets_on(nodes, links):
    """Every established fabric socket of every node is on one of ``links``."""
    off = {}
    for host, node in nodes.items():
        count = sum(entry["in"] + entry["out"] for entry in node["lanes"].values() if entry["link"] not in links)
        count += node["other"]["in"] + node["other"]["out"]
        if count:
            off[host] = count
    return _check("every fabric socket on %s" % ", ".join(links), off or 0, 0, not off)


def check_every_lane(nodes, links):
    """Every lane (address) of ``links`` on every node accepted at least one fabric connection
    (its peer's connections reach every lane; see the module's note on sockets)."""
    empty = ["%s %s" % (host, address) for host, node in sorted(nodes.items())
             for address, entry in node["lanes"].items() if entry["link"] in links and entry["in"] == 0]
    counts = dict((host, dict((address, entry["in"]) for address, entry in node["lanes"].items()
                              if entry["link"] in links)) for host, node in nodes.items())
    return _check("every lane of %s accepted fabric connections" % ", ".join(links), empty or counts, ">= 1 each",
                  not empty, accepted=counts)


def check_sockets_complete(nodes, expected):
    """Each node opened and accepted the sockets its channels call for, all on fabric lanes:
    out == in == ``expected`` {host: sockets per peer} (one peer)."""
    seen = dict((host, {"out": sum(e["out"] for e in node["lanes"].values()) + node["other"]["out"],
                        "in": sum(e["in"] for e in node["lanes"].values()) + node["other"]["in"]})
                for host, node in nodes.items())
    ok = all(seen[host]["out"] == expected[host] and seen[host]["in"] == sum(v for h, v in expected.items() if h != host)
             for host in nodes)
    return _check("fabric sockets per node: out == its channels, in == the peer's (ss)", seen, expected, ok)


def check_follow_published(nodes, published):
    """Native (no NAT): every socket a node accepted is on an address it publishes, and every
    address a node dialed is one its peer publishes, link for link: the peer's 'in' per link
    equals the opener's 'dialed' per link."""
    problems = []
    hosts = sorted(nodes)
    for host in hosts:
        node = nodes[host]
        for address, entry in node["lanes"].items():
            if entry["in"] and address not in published[host]:
                problems.append("%s accepted on %s, which it does not publish" % (host, address))
        if node["other"]["in"]:
            problems.append("%s accepted %d on %s" % (host, node["other"]["in"], node["other"]["addresses"]))
        for peer in hosts:
            if peer == host:
                continue
            accepted = dict((link, figures["in"]) for link, figures in nodes[peer]["links"].items() if figures["in"])
            sent = dict((link, n) for link, n in node["dialed"].items() if n)
            if accepted != sent:
                problems.append("%s dialed %s, %s accepted %s" % (host, sent, peer, accepted))
    return _check("sockets follow the published addresses (accepted on published lanes; dialed == accepted per link)",
                  problems or "ok", "no mismatch", not problems)


def format_table(report):
    lines = []
    if report.get("server"):
        lines.append("Aerospike %s (the real server), cluster %s, strategy %s; workload: %s" % (
            report["server"], report["cluster"], report.get("strategy"), report.get("workload_label", "")))
    cluster = (report.get("verify") or {}).get("cluster") or {}
    window = cluster.get("window") or {}
    lines.append("split from playbooks/verify.yml (kernel counters of both nodes, tx + rx), window %.1f s; "
                 "fabric sockets from ss (accepted = the lane a connection arrived on):" % (window.get("seconds") or 0.0))
    hosts = sorted(report["sockets"])
    accepted = "  ".join("%s accepted" % host for host in hosts)
    header = "%-6s %-6s %11s %11s %8s   %s" % ("link", "family", "tx Mbit/s", "rx Mbit/s", "share", accepted)
    lines += [header, "-" * len(header)]
    for link in report["links"]:
        figures = cluster.get("totals", {}).get(link["name"]) or {}
        lines.append("%-6s %-6s %11s %11s %8s   %s" % (
            link["name"], link["family"], _num(figures.get("tx_mbit")), _num(figures.get("rx_mbit")),
            "%.1f %%" % (100 * figures["share"]) if figures.get("share") is not None else "-",
            "  ".join("%*d" % (len(host) + 9, report["sockets"][host]["links"][link["name"]]["in"]) for host in hosts)))
    for host in hosts:
        node = report["sockets"][host]
        lanes = ", ".join("%s %d" % (address, entry["in"]) for address, entry in node["lanes"].items())
        lines.append("%s: accepted per lane: %s; the server dialed per link: %s%s" % (
            host, lanes, json.dumps(node["dialed"], sort_keys=True),
            "; not on a lane: %s" % node["other"] if node["other"]["in"] + node["other"]["out"] else ""))
    work = report.get("workload") or {}
    if work:
        lines.append("workload: %s writes, %s failed, %.1f writes/s, %.1f Mbit/s payload over %.1f s "
                     "(in the window: %.1f Mbit/s); longest stall %.3f s" % (
                         work["writes"], work["failed"], work["writes_per_s"], work["payload_mbit"], work["seconds"],
                         report.get("window_workload", {}).get("payload_mbit", 0.0), work["longest_stall_s"]))
    for check in report.get("checks", []):
        lines.append("%s %s: %s" % ("PASS" if check["ok"] else "FAIL", check["check"], json.dumps(check["value"])))
    for finding in report.get("findings", []):
        lines.append("finding: %s" % finding)
    return "\n".join(lines)


def _num(value):
    return "-" if value is None else "%.1f" % value


def findings(report):
    """Plain statements about what was seen (not pass conditions)."""
    out = []
    cluster = (report.get("verify") or {}).get("cluster") or {}
    totals = cluster.get("totals") or {}
    shares = dict((link, (figures or {}).get("share")) for link, figures in totals.items())
    if shares and all(value is not None for value in shares.values()):
        busiest = max(shares, key=shares.get)
        out.append("busiest link %s carries %.1f %% of the fabric bytes (even over %d links: %.1f %%)" % (
            busiest, 100 * shares[busiest], len(shares), 100.0 / len(shares)))
    for host, node in sorted(report["sockets"].items()):
        counts = [node["links"][link["name"]]["in"] for link in report["links"]]
        out.append("%s accepted %s fabric sockets on %s" % (
            host, " + ".join(str(n) for n in counts), ", ".join(link["name"] for link in report["links"])))
    before, after = report.get("statistics_before") or {}, report.get("statistics") or {}
    for host in sorted(after):
        try:
            opened = int(after[host]["fabric_connections_opened"]) - int(before[host]["fabric_connections_opened"])
            closed = int(after[host]["fabric_connections_closed"]) - int(before[host]["fabric_connections_closed"])
        except (KeyError, ValueError):
            continue
        out.append("%s: fabric connections opened/closed while measuring: %d/%d (since start: %s/%s)" % (
            host, opened, closed, after[host]["fabric_connections_opened"], after[host]["fabric_connections_closed"]))
    for host, node in sorted((cluster.get("nodes") or {}).items()):
        view = node.get("server")
        if isinstance(view, dict) and view.get("head"):
            out.append("verify.yml's server view of %s: %s; %s" % (host, view["head"], "; ".join(view.get("details") or [])))
    return out


def check_watchdog(cluster, statuses, plan, hosts):
    """The link watchdog on every node: ok in verify.yml's report, and its rotation keeps every
    lane of the peer (the status file's rules.lanes per peer chain hold all the peer's planned
    addresses of the chain's family)."""
    problems = []
    for host in hosts:
        state = (((cluster.get("nodes") or {}).get(host) or {}).get("watchdog") or {}).get("state")
        if state != "ok":
            problems.append("%s: watchdog %s" % (host, state))
        lanes = ((statuses.get(host) or {}).get("rules") or {}).get("lanes") or {}
        if not lanes:
            problems.append("%s: the watchdog reports no lanes" % host)
        for chain, addresses in sorted(lanes.items()):
            family = 6 if chain.startswith("ip6 ") else 4
            wanted = set(a for peer in hosts if peer != host for link in plan[peer].values() for a in link
                         if (":" in a) == (family == 6))
            if set(addresses) != wanted:
                problems.append("%s: %s rotates over %s, not %s" % (host, chain, sorted(set(addresses)), sorted(wanted)))
    return _check("link watchdog ok on every node, every lane in its rotation", problems or "ok", "no problem",
                  not problems, lanes=dict((h, ((statuses.get(h) or {}).get("rules") or {}).get("lanes")) for h in hosts))


# ============================================================================ live
class Background(threading.Thread):
    """The workload in one-second chunks until stopped; each chunk's wall-clock span and figures."""

    def __init__(self, workload, chunk=1.0, rate=None):
        threading.Thread.__init__(self)
        if not hasattr(workload, "next_key"):
            raise SplitError("testbed.aerospike.Workload has no next_key any more: see Background.run")
        self.daemon = True
        self.workload = workload
        self.chunk = chunk
        self.rate = rate
        self.stop = threading.Event()
        self.chunks = []
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                # Every chunk rewrites the same keys (1, 2, ...): the namespace's memory stays
                # bounded however long verify.yml takes (new keys filled 1G in about 40 s of a
                # loaded machine, and the server then refuses writes: ServerFull). An overwrite
                # is replicated like a new record.
                self.workload.next_key = 0
                start = time.time()
                result = self.workload.run(seconds=self.chunk, rate=self.rate * self.chunk if self.rate else None)
                result.update(start=start, end=time.time())
                self.chunks.append(result)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = repr(exc)

    def summary(self):
        writes = sum(c["writes"] for c in self.chunks)
        failed = {}
        for chunk in self.chunks:
            for name, count in chunk["failed_by_error"].items():
                failed[name] = failed.get(name, 0) + count
        seconds = (self.chunks[-1]["end"] - self.chunks[0]["start"]) if self.chunks else 0.0
        record = self.workload.record_bytes
        return {"writes": writes, "failed": sum(failed.values()), "failed_by_error": failed,
                "seconds": round(seconds, 2), "writes_per_s": round(writes / seconds, 1) if seconds else 0.0,
                "payload_mbit": round(writes * record * 8 / 1e6 / seconds, 1) if seconds else 0.0,
                "record_bytes": record, "threads": self.workload.threads,
                "longest_stall_s": max([c["longest_stall_s"] for c in self.chunks] or [0.0]),
                "error": self.error,
                # per chunk: [start (s from the first), seconds, writes, failed]
                "chunks": [[round(c["start"] - self.chunks[0]["start"], 2), round(c["end"] - c["start"], 2),
                            c["writes"], c["failed"]] for c in self.chunks]}


def run_verify(inventory, report_path, seconds, interval):
    """playbooks/verify.yml against the inventory; (returncode, output)."""
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    command = [tool if os.path.exists(tool) else "ansible-playbook", "-i", inventory, VERIFY_PLAYBOOK,
               "-e", "verify_report=%s" % report_path, "-e", "verify_seconds=%s" % seconds,
               "-e", "verify_interval=%s" % interval]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            env=env, cwd=ROOT, check=False)
    return result.returncode, result.stdout, command


def watchdog_status(cluster, host):
    """The link watchdog's status file on ``host`` (None without a watchdog)."""
    text = cluster.run(host, "cat %s 2>/dev/null" % WATCHDOG_STATUS, check=False).stdout
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return {"unreadable": text[-300:]}


def lasting(first, second):
    """The sockets of ``second`` that ``first`` already had (same addresses and ports): what
    stays open, without the link watchdog's probes, which live for a millisecond."""
    def key(sock):
        return (sock["local"], sock.get("local_port"), sock["remote"], sock.get("remote_port"))
    seen = set(key(sock) for sock in first)
    return [sock for sock in second if key(sock) in seen]


def node_sockets(server, topo, host, peers_published):
    """One node's lasting sockets (in two snapshots 0.3 s apart): per lane, per link, dialed per
    link, and those on no lane."""
    lanes = [(link["name"], address) for link in topo.links for address in topo.plan[host][link["name"]]]
    first = server.fabric_sockets(host)
    time.sleep(0.3)
    sockets = lasting(first, server.fabric_sockets(host))
    table, other = lane_table(sockets, lanes)
    links_of = {}
    for peer in topo.hosts:
        if peer != host:
            for link in topo.links:
                for address in topo.plan[peer][link["name"]]:
                    links_of[address] = link["name"]
    for address in peers_published:
        links_of.setdefault(address, "unplanned")
    return {"lanes": table, "links": link_totals(table, [link["name"] for link in topo.links]),
            "dialed": dialed(sockets, links_of), "other": other}


def measure(args):
    # The test bed package (tests/lib/testbed, on .venv's path) and the collection.
    from testbed import aerospike as tb_aerospike  # pylint: disable=import-outside-toplevel
    from testbed.cluster import Cluster  # pylint: disable=import-outside-toplevel
    from testbed.inventory import topology  # pylint: disable=import-outside-toplevel
    from testbed.podman import TestbedError  # pylint: disable=import-outside-toplevel
    from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import (  # pylint: disable=import-outside-toplevel
        parse)

    try:
        topo = topology(args.inventory, args.cluster)
        found, build = tb_aerospike.available()
        if not found:
            raise SplitError(build)
        cluster = Cluster(topo)
        server = tb_aerospike.Server(cluster)
        hosts = cluster.hosts
        server.wait_cluster(timeout=args.cluster_timeout)
    except TestbedError as exc:
        raise SplitError(str(exc))
    stats = dict((host, server.statistics(host)) for host in hosts)
    endpoints = dict((host, parse_endpoints(server.info(host, ["endpoints"])["endpoints"])) for host in hosts)
    published = dict((host, endpoints[host]["published"]) for host in hosts)
    confs = dict((host, parse(cluster.run(host, "cat /etc/aerospike/aerospike.conf").stdout)) for host in hosts)
    channels = dict((host, expected_sockets(confs[host]["network"]["fabric"])) for host in hosts)
    namespaces = confs[hosts[0]].get("namespace") or []
    namespace = args.namespace or (namespaces[0]["name"] if namespaces else None)
    if not namespace:
        raise SplitError("%s: aerospike.conf has no namespace to write to" % hosts[0])

    def sockets_now():
        out = {}
        for host in hosts:
            peers = [a for peer_list in endpoints[host]["peers"].values() for a in peer_list]
            out[host] = node_sockets(server, topo, host, peers)
        return out

    before = sockets_now()
    workload = tb_aerospike.Workload(cluster, namespace, record_bytes=args.record_bytes, threads=args.threads)
    background = Background(workload, rate=args.rate or None)
    verify_path = args.verify_report or os.path.splitext(args.out)[0] + "-verify.json"
    if os.path.exists(verify_path):
        os.remove(verify_path)
    background.start()
    try:
        time.sleep(args.warmup)
        code, output, command = run_verify(args.inventory, verify_path, args.seconds, args.interval)
        after = sockets_now()
        stats_after = dict((host, server.statistics(host)) for host in hosts)
        statuses = dict((host, watchdog_status(cluster, host)) for host in hosts)
    finally:
        background.stop.set()
        background.join(timeout=30)
        workload.close()
    if code != 0 or not os.path.exists(verify_path):
        raise SplitError("playbooks/verify.yml failed (%d): %s" % (code, output[-3000:]))
    with open(verify_path) as handle:
        verify = json.load(handle)
    vcluster = verify["clusters"][topo.cluster]
    window = vcluster.get("window") or {}
    work = background.summary()
    in_window = window_rate(background.chunks, window.get("start", 0), window.get("end", 0), args.record_bytes) \
        if window else {"writes_per_s": 0.0, "payload_mbit": 0.0}

    report = {"scenario": args.scenario or topo.cluster, "cluster": topo.cluster, "server": build,
              "strategy": topo.strategy, "hosts": hosts, "port": topo.port,
              "links": [dict((key, link[key]) for key in ("name", "family", "subnet", "device", "rate_mbit"))
                        for link in topo.links],
              "plan": topo.plan, "published": published, "peer_published": dict((h, endpoints[h]["peers"]) for h in hosts),
              "channels_per_peer": channels,
              "statistics_before": dict((h, dict((k, v) for k, v in stats[h].items()
                                                 if k.startswith(("cluster_", "fabric_", "migrate_")))) for h in hosts),
              "statistics": dict((h, dict((k, v) for k, v in stats_after[h].items()
                                          if k.startswith(("cluster_", "fabric_", "migrate_")))) for h in hosts),
              "watchdog": statuses,
              "sockets_before": before, "sockets": after,
              "workload": work, "window_workload": in_window,
              "workload_label": "%d threads of %d-byte writes%s, replication factor 2, over the management network" % (
                  args.threads, args.record_bytes, " at %s writes/s" % args.rate if args.rate else ", unpaced"),
              "verify": {"command": " ".join(command), "report": os.path.relpath(verify_path, ROOT),
                         "cluster": vcluster},
              "load_average": list(os.getloadavg()), "nproc": os.cpu_count()}
    checks = [check_cluster(stats, hosts),
              check_replicas(vcluster, in_window["payload_mbit"], args.min_replica_ratio)]
    if args.check_complete:
        checks.append(check_sockets_complete(after, channels))
    if args.check_busiest is not None:
        checks.append(check_busiest(vcluster, args.check_busiest))
    for spec in args.check_link_share:
        link, dummy, minimum = spec.partition(":")
        checks.append(check_link_share(vcluster, link, float(minimum)))
    if args.check_sockets_on:
        checks.append(check_sockets_on(after, args.check_sockets_on.split(",")))
    if args.check_every_lane:
        checks.append(check_every_lane(after, args.check_every_lane.split(",")))
    if args.check_watchdog:
        checks.append(check_watchdog(vcluster, statuses, topo.plan, hosts))
    if args.check_published:
        checks.append(check_follow_published(after, published))
    if work["writes"] == 0 or work["error"]:
        checks.append(_check("the workload wrote", work["writes"], "> 0", False, error=work["error"]))
    report["checks"] = checks
    report["passed"] = all(check["ok"] for check in checks)
    report["findings"] = findings(report)
    directory = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print(format_table(report))
    print("report: %s (verify.yml's own: %s)" % (os.path.relpath(args.out), os.path.relpath(verify_path)))
    return 0 if report["passed"] else 1


def start(args):
    """Start the server on every node and wait for the cluster: 0 when it formed, 3 when a node's
    server would not run (its log's CRITICAL line is printed), 2 on other errors."""
    from testbed import aerospike as tb_aerospike  # pylint: disable=import-outside-toplevel
    from testbed.cluster import Cluster  # pylint: disable=import-outside-toplevel
    from testbed.inventory import topology  # pylint: disable=import-outside-toplevel
    from testbed.podman import TestbedError  # pylint: disable=import-outside-toplevel

    try:
        found, build = tb_aerospike.available()
        if not found:
            print("server_split: %s" % build)
            return 3
        cluster = Cluster(topology(args.inventory, args.cluster))
        server = tb_aerospike.Server(cluster)
        for host in cluster.hosts:
            cluster.run(host, "systemctl start %s" % tb_aerospike.SERVICE, check=False)
        deadline = time.monotonic() + args.timeout
        while True:
            refused = dict((host, cluster.run(host, "systemctl is-failed --quiet %s" % tb_aerospike.SERVICE,
                                              check=False).returncode == 0) for host in cluster.hosts)
            if any(refused.values()) or time.monotonic() > deadline:
                break
            try:
                server.wait_cluster(timeout=2)
                print("server_split: Aerospike %s runs on %s, cluster formed" % (build, ", ".join(cluster.hosts)))
                return 0
            except TestbedError:
                continue
        for host in [h for h, failed in sorted(refused.items()) if failed]:
            log = server.log(host, 60).splitlines()
            why = [line[line.index(" CRITICAL ") + 1:] for line in log if " CRITICAL " in line] or log[-1:]
            print("server_split: Aerospike %s would not run on %s: %s" % (build, host, why[-1].strip() if why else "?"))
        if any(refused.values()):
            return 3
        raise SplitError("Aerospike runs but formed no cluster within %s s" % args.timeout)
    except TestbedError as exc:
        raise SplitError(str(exc))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    cmd = sub.add_parser("measure", help="check the cluster, run the workload under verify.yml, check the report")
    cmd.add_argument("-i", "--inventory", required=True)
    cmd.add_argument("--cluster")
    cmd.add_argument("--out", required=True, help="report (JSON)")
    cmd.add_argument("--verify-report", help="verify.yml's report (default: <out>-verify.json)")
    cmd.add_argument("--scenario")
    cmd.add_argument("--namespace", help="default: the first namespace of aerospike.conf")
    cmd.add_argument("--seconds", type=float, default=6, help="verify.yml's sampling window")
    cmd.add_argument("--interval", type=float, default=0.5, help="verify.yml's sampling interval")
    cmd.add_argument("--warmup", type=float, default=1.0, help="seconds of workload before verify.yml starts")
    cmd.add_argument("--record-bytes", type=int, default=20000)
    cmd.add_argument("--threads", type=int, default=8)
    cmd.add_argument("--rate", type=float, default=0, help="writes/s in total (0: unpaced)")
    cmd.add_argument("--cluster-timeout", type=float, default=60)
    cmd.add_argument("--min-replica-ratio", type=float, default=0.5)
    cmd.add_argument("--check-complete", action="store_true",
                     help="each node opened its channels' sockets and accepted the peer's")
    cmd.add_argument("--check-busiest", type=float, help="busiest link's share <= this")
    cmd.add_argument("--check-link-share", action="append", default=[], metavar="LINK:MIN")
    cmd.add_argument("--check-sockets-on", metavar="LINK,LINK", help="every fabric socket on these links")
    cmd.add_argument("--check-every-lane", metavar="LINK,LINK", help="every lane of these links accepted sockets")
    cmd.add_argument("--check-watchdog", action="store_true",
                     help="the link watchdog is ok on every node and rotates over every lane of the peer")
    cmd.add_argument("--check-published", action="store_true",
                     help="native: sockets follow the published addresses (dialed == accepted per link)")
    cmd = sub.add_parser("start", help="start the server on every node; exit 3 when it would not run")
    cmd.add_argument("-i", "--inventory", required=True)
    cmd.add_argument("--cluster")
    cmd.add_argument("--timeout", type=float, default=60)
    cmd = sub.add_parser("show", help="print the table of a report")
    cmd.add_argument("report")
    args = parser.parse_args(argv)
    try:
        if args.command == "measure":
            return measure(args)
        if args.command == "start":
            return start(args)
        with open(args.report) as handle:
            print(format_table(json.load(handle)))
        return 0
    except SplitError as exc:
        print("server_split: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
