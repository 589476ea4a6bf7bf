# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fabric traffic splits over the links of a converged test bed cluster, measured through
the product's verify path: traffic from the test bed, ``playbooks/verify.yml`` samples the link
counters of every node (link_sample), the checks are computed on its report.

    python -m testbed measure run -i INVENTORY --out build/reports/x.json [traffic] [checks]
    python -m testbed measure start-server -i INVENTORY     # exit 3 when the server will not run
    python -m testbed measure show build/reports/x.json [--plot x.png]

Traffic (docs/molecule.md):

- ``--traffic server``: the real Aerospike server (testbed.aerospike) under a write workload
  (replication factor 2 over the management network, so every replica crosses the fabric) for
  one verify.yml window, phase ``server``; each node's lasting fabric sockets per lane (node
  tool) before and after, what the info protocol says. Exit 3, after one line saying why, when
  the node image has no server (or, with ``--start-server``, when it will not run).
- ``streams`` / ``emulation``: phases (``--phase NAME=off|restore|keep``: the NAT rules deleted,
  reloaded by their boot unit, or left) run one after the other inside ONE verify.yml window,
  from the first node (sender) to the second (receiver, a sink): N bulk TCP streams to its
  primary address, or the EMULATION of Aerospike's fabric connections (not a server). A run's
  figures are verify.yml's per-interval counters (tx of both nodes) inside the run's own span.

Checks are written into the report with their limit and value; ``run`` exits 1 when one fails,
after writing the report and printing the table. Any PNG is drawn by the collection's
throughput_plot.render_phases.
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
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_conf, throughput_plot

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
SAMPLING = "TASK [Wait until the sampling window has passed]"  # verify.yml: every sampler runs
NAT_UNIT = "clusterfabric-multilink-nat.service"
NAT_TABLE = "clusterfabric_multilink"
AEROSPIKE_CONF = "/etc/aerospike/aerospike.conf"
RULES = ("off", "restore", "keep")
CHANNELS = (("rw", 8), ("bulk", 2), ("ctrl", 1), ("meta", 1))
NO_SERVER = 3  # exit code: no server to measure (the line before says why)
EMULATION = "emulation of the Aerospike >= 3.14 fabric connection pattern (not an Aerospike server)"


class MeasureError(Exception):
    pass


def _check(name, value, limit, ok, **extra):
    out = {"check": name, "value": value, "limit": limit, "ok": bool(ok)}
    out.update(extra)
    return out


def share(part, total):
    return round(part / float(total), 4) if total else 0.0


def mbit(byte_count, seconds):
    return round(byte_count * 8 / 1e6 / seconds, 1) if seconds > 0 else 0.0


# ============================================================================ verify.yml's report, sliced
def intervals(cluster):
    """[(start, end, {link: tx bytes}, {link: rx bytes})] of a verify.yml cluster report's
    series (Mbit/s summed over the nodes between shared ticks), epoch seconds."""
    window, series = cluster.get("window") or {}, cluster.get("series") or {}
    out, before = [], 0.0
    for index, at in enumerate(series.get("time") or []):
        seconds = at - before
        out.append((window["start"] + before, window["start"] + at,
                    dict((link, values[index] * 1e6 / 8 * seconds) for link, values in series["tx"].items()),
                    dict((link, values[index] * 1e6 / 8 * seconds) for link, values in series["rx"].items())))
        before = at
    return out


def span_rows(cluster, links, start, end):
    """Per-link rows over the intervals that lie inside [start, end], and their seconds and count."""
    inside = [entry for entry in intervals(cluster) if entry[0] >= start - 1e-3 and entry[1] <= end + 1e-3]
    seconds = sum(entry[1] - entry[0] for entry in inside)
    rows = [{"link": link["name"], "device": link["device"],
             "tx_bytes": int(sum(entry[2].get(link["name"], 0.0) for entry in inside)),
             "rx_bytes": int(sum(entry[3].get(link["name"], 0.0) for entry in inside))} for link in links]
    return finish_rows(links, rows, seconds), seconds, len(inside)


def finish_rows(links, rows, seconds):
    """Each row's share of the tx bytes, its Mbit/s and its load (Mbit/s over the link's rate)."""
    total = sum(row["tx_bytes"] for row in rows)
    for link, row in zip(links, rows):
        row["share"] = share(row["tx_bytes"], total)
        row["mbit"] = mbit(row["tx_bytes"], seconds)
        row["load"] = round(row["mbit"] / link["rate_mbit"], 3) if link.get("rate_mbit") else None
    return rows


def summarize(rows, seconds):
    """Aggregate Mbit/s and the busiest link of a set of rows."""
    total = sum(row["tx_bytes"] for row in rows)
    busiest = max(rows, key=lambda row: row["tx_bytes"]) if rows else None
    return {"seconds": round(seconds, 3), "tx_bytes": total, "aggregate_mbit": mbit(total, seconds),
            "busiest_link": busiest["link"] if busiest else None,
            "busiest_share": share(busiest["tx_bytes"], total) if busiest else 0.0}


def merge_runs(links, runs):
    """A phase's rows and summary over all its runs (bytes and seconds added up)."""
    seconds = sum(run["seconds"] for run in runs)
    rows = [{"link": link["name"], "device": link["device"],
             "tx_bytes": sum(run["links"][index]["tx_bytes"] for run in runs),
             "rx_bytes": sum(run["links"][index]["rx_bytes"] for run in runs)} for index, link in enumerate(links)]
    summary = summarize(finish_rows(links, rows, seconds), seconds)
    # runs of one phase can differ (random picks): the worst run counts, not the average
    summary["worst_run_busiest_share"] = max(run["busiest_share"] for run in runs) if runs else 0.0
    return rows, summary


def sub_cluster(cluster, start, end):
    """The part of a verify.yml cluster report between two epochs, as throughput_plot draws it."""
    window = cluster["window"]
    series = cluster["series"]
    keep = [index for index, (low, high, dummy, dummy2) in enumerate(intervals(cluster))
            if high > start and low < end]
    origin = window["start"] + (series["time"][keep[0] - 1] if keep and keep[0] else 0.0)
    times = [window["start"] + series["time"][index] - origin for index in keep]
    out = {"hosts": cluster.get("hosts", []), "links": list(cluster["links"]),
           "window": {"start": origin, "end": origin + (times[-1] if times else 0.0)},
           "series": {"time": times, "tx": dict((link, [values[i] for i in keep]) for link, values in series["tx"].items()),
                      "rx": dict((link, [values[i] for i in keep]) for link, values in series["rx"].items())}}
    totals = dict((link, sum(values) / len(values) if values else 0.0) for link, values in out["series"]["tx"].items())
    everything = sum(totals.values())
    out["totals"] = dict((link, {"tx_mbit": value, "share": share(value, everything)}) for link, value in totals.items())
    out["busiest"] = max(totals, key=totals.get) if totals else None
    out["share"] = out["totals"][out["busiest"]]["share"] if everything else None
    return out


# ============================================================================ expectations and checks
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
        if offered_mbit:
            want[link["name"]] = min(link["rate_mbit"] or float("inf"), count[link["name"]] * offered_mbit / float(len(rw)))
        else:
            want[link["name"]] = (link["rate_mbit"] or 1) if count[link["name"]] else 0
    total = sum(want.values())
    return dict((name, share(value, total)) for name, value in want.items()), count


def check_ratio(report, base, spread, minimum):
    phases = report["phases"]
    value = round(phases[spread]["aggregate_mbit"] / phases[base]["aggregate_mbit"], 4) \
        if phases[base]["aggregate_mbit"] else 0.0
    return _check("ratio %s/%s >= %s" % (spread, base, minimum), value, minimum, value >= minimum)


def check_busiest(report, phase, maximum):
    """The busiest link's share in every run of the phase (the worst run counts)."""
    runs = report["phases"][phase]["runs"]
    value = max(run["busiest_share"] for run in runs)
    return _check("busiest link share in %s <= %s (worst of %d run%s)" % (phase, maximum, len(runs), "" if len(runs) == 1 else "s"),
                  value, maximum, value <= maximum)


def check_shares(phase_name, rows, expected, tolerance, what):
    """Every link's share within ``tolerance`` of ``expected`` {link: share}."""
    worst = max(abs(row["share"] - expected[row["link"]]) for row in rows)
    return _check("shares in %s within %s of %s %s" % (phase_name, tolerance, what, dict(sorted(expected.items()))),
                  round(worst, 4), tolerance, worst <= tolerance, shares=dict((row["link"], row["share"]) for row in rows))


def check_weights(report, phase, tolerance):
    return check_shares(phase, report["phases"][phase]["links"], weight_shares(report["links"], report["weights"]),
                        tolerance, "the weights")


def check_picks(report, phase, tolerance):
    """Each run's split against the split its socket picks predict (one check, worst run)."""
    worst = None
    for run in report["phases"][phase]["runs"]:
        result = check_shares("%s seed %s" % (phase, run["seed"]), run["links"], run["expected_shares"], tolerance, "the picks")
        if worst is None or result["value"] > worst["value"]:
            worst = result
    worst["check"] = "every run of %s: shares within %s of what its socket picks predict (worst: %s)" % (
        phase, tolerance, worst["check"])
    return worst


def check_link_share(report, phase, link, minimum):
    value = next((row["share"] for row in report["phases"][phase]["links"] if row["link"] == link), None)
    return _check("%s share of the fabric bytes in %s >= %s" % (link, phase, minimum), value, minimum,
                  value is not None and value >= minimum)


def check_watchdog(report):
    """The link watchdog on every node ok in verify.yml's report(s), and every status file read
    (``watchdog``: {host: {when: status}}) with every path up and every peer chain rotating over
    all of the peer's planned addresses of its family."""
    problems = []
    for run in report.get("verify", []):
        for host, node in sorted((run["cluster"].get("nodes") or {}).items()):
            if (node.get("watchdog") or {}).get("state") != "ok":
                problems.append("%s (verify.yml, %s): watchdog %s" % (
                    host, "+".join(run["phases"]), (node.get("watchdog") or {}).get("state")))
    plan = report["plan"]
    for host, seen in sorted(report.get("watchdog", {}).items()):
        for when, status in sorted(seen.items()):
            where = "%s %s" % (host, when)
            if not status or "unreadable" in status:
                problems.append("%s: no watchdog status%s" % (where, " (%s)" % status["unreadable"] if status else ""))
                continue
            down = sorted("%s/%s" % (peer, link) for peer, paths in (status.get("peers") or {}).items()
                          for link, path in paths.items() if path.get("state") != "up")
            if down or not status.get("peers"):
                problems.append("%s: paths not up: %s" % (where, down or "none reported"))
            lanes = (status.get("rules") or {}).get("lanes") or {}
            if not lanes:
                problems.append("%s: no lanes" % where)
            for chain, addresses in sorted(lanes.items()):
                wanted = set(a for peer in plan if peer != host for link in plan[peer].values() for a in link
                             if (":" in a) == chain.startswith("ip6 "))
                if set(addresses) != wanted:
                    problems.append("%s: %s rotates over %s, not %s" % (where, chain, sorted(set(addresses)), sorted(wanted)))
    return _check("link watchdog ok on every node, every path up, every lane in its rotation", problems or "ok",
                  "no problem", not problems)


# ---------------------------------------------------------------------------- the server's view
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
        peers[node.strip()] = [endpoint.rsplit(":", 1)[0].strip("[]") for endpoint in rest.split(":endpoint-tls=")[0].split(",")
                               if endpoint.rsplit(":", 1)[0].strip("[]")]
    return {"published": published, "peers": peers}


def expected_sockets(fabric):
    """Sockets a node opens to each peer: the sum of the channel-*-fds of its fabric stanza
    (``fabric``: the parsed network.fabric of aerospike.conf; server defaults otherwise)."""
    return sum(int(fabric.get("channel-%s-fds" % name, default)) for name, default in CHANNELS)


def without_unmatched(found):
    """{host: sockets} with each accepted socket that no opened socket of a peer stands behind
    left out, and {host: [those sockets]}.

    An accepted socket is matched by its remote port: a peer's opened socket with that local
    port (the NAT rules change the peer's address, not its port). What is left is half-open on
    this side: seen in CI runs as one extra accepted socket per probed address of a node while
    the peer's sockets and the server's own count were complete; counting it made the channels
    look one too many. Without a peer's sockets (one host) nothing is left out."""
    if len(found) < 2:
        return dict((host, list(sockets)) for host, sockets in found.items()), dict((host, []) for host in found)
    opened = dict((host, set(sock["local_port"] for sock in sockets if sock["direction"] == "out"))
                  for host, sockets in found.items())
    kept, left = {}, {}
    for host, sockets in found.items():
        ports = set().union(*(peer_ports for peer, peer_ports in opened.items() if peer != host))
        kept[host] = [sock for sock in sockets if sock["direction"] != "in" or sock["remote_port"] in ports]
        left[host] = [sock for sock in sockets if sock["direction"] == "in" and sock["remote_port"] not in ports]
    return kept, left


def half_open_text(sock):
    """One left-out accepted socket for a finding, with what the kernel says of it."""
    notes = []
    if sock.get("owned") is False:
        notes.append("no file: never accepted or already closed by the server")
    if sock.get("unread"):
        notes.append("unread bytes")
    if sock.get("probing"):
        notes.append("keepalive probing")
    return "%s:%s <- %s:%s%s" % (sock["local"], sock["local_port"], sock["remote"], sock["remote_port"],
                                 " (%s)" % ", ".join(notes) if notes else "")


def node_sockets(sockets, lanes, links_of):
    """One node's sockets (node tool: lasting ones) per lane, per link and dialed per link.

    ``lanes``: [(link, address)] of the node in plan order; ``links_of``: {peer address: link}.
    A socket's addresses are the ones the server used: an opened one the NAT rules steered still
    shows the address it dialed; the peer's accepted socket shows the lane it arrived on. So
    the per-lane counts are the accepted sockets, and ``dialed`` is the opener's own view."""
    table = dict((address, {"link": link, "in": 0, "out": 0}) for link, address in lanes)
    other = {"in": 0, "out": 0, "addresses": []}
    dialed = {}
    for sock in sockets:
        entry = table.get(sock["local"])
        if entry is None:
            other[sock["direction"]] += 1
            if sock["local"] not in other["addresses"]:
                other["addresses"].append(sock["local"])
        else:
            entry[sock["direction"]] += 1
        if sock["direction"] == "out":
            link = links_of.get(sock["remote"], "other")
            dialed[link] = dialed.get(link, 0) + 1
    totals = dict((link, {"in": 0, "out": 0}) for link, dummy in lanes)
    for entry in table.values():
        for direction in ("in", "out"):
            totals[entry["link"]][direction] += entry[direction]
    return {"lanes": table, "links": totals, "dialed": dialed, "other": other}


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
    return {"writes_per_s": round(writes / seconds, 1), "payload_mbit": round(writes * record_bytes * 8 / 1e6 / seconds, 1)}


def check_cluster(stats, hosts):
    """Every host sees a cluster of all ``hosts``, with integrity (info statistics)."""
    sizes = dict((host, int((stats.get(host) or {}).get("cluster_size") or 0)) for host in hosts)
    integrity = dict((host, str((stats.get(host) or {}).get("cluster_integrity")).lower() == "true") for host in hosts)
    return _check("cluster_size on every node == %d, with integrity (info protocol)" % len(hosts), sizes, len(hosts),
                  all(size == len(hosts) for size in sizes.values()) and all(integrity.values()), integrity=integrity)


def check_replicas(cluster, workload_mbit, minimum):
    """The fabric carried the workload's replicas: the links' tx Mbit/s (both nodes, every link,
    from verify.yml) at least ``minimum`` times the workload's payload Mbit/s in the window."""
    fabric = round(sum((figures or {}).get("tx_mbit") or 0.0 for figures in cluster["totals"].values()), 1)
    value = round(fabric / workload_mbit, 3) if workload_mbit else 0.0
    return _check("fabric tx Mbit/s / workload payload Mbit/s >= %s (the replicas ride the fabric links)" % minimum,
                  value, minimum, value >= minimum, fabric_mbit=fabric, payload_mbit=workload_mbit)


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
    """Every lane (address) of ``links`` on every node accepted at least one fabric connection."""
    empty = ["%s %s" % (host, address) for host, node in sorted(nodes.items())
             for address, entry in node["lanes"].items() if entry["link"] in links and entry["in"] == 0]
    counts = dict((host, dict((address, entry["in"]) for address, entry in node["lanes"].items() if entry["link"] in links))
                  for host, node in nodes.items())
    return _check("every lane of %s accepted fabric connections" % ", ".join(links), empty or counts, ">= 1 each",
                  not empty, accepted=counts)


def check_links_even(nodes, links):
    """Each node accepted as many fabric connections on each of ``links`` as on the others, within
    1: what the NAT rotation gives a peer's connections over links of equal weight, however
    many addresses each link has (lanes alternate the links)."""
    counts = dict((host, dict((link, node["links"].get(link, {"in": 0})["in"]) for link in links)) for host, node in nodes.items())
    uneven = sorted(host for host, per_link in counts.items() if max(per_link.values()) - min(per_link.values()) > 1)
    return _check("accepted fabric connections per link within 1 on every node (%s)" % ", ".join(links), counts,
                  "max - min <= 1", not uneven, uneven=uneven)


def check_sockets_complete(nodes, expected):
    """Each node opened and accepted the sockets its channels call for: out == its own
    ``expected`` {host: sockets per peer}, in == the peers'."""
    seen = dict((host, {"out": sum(e["out"] for e in node["lanes"].values()) + node["other"]["out"],
                        "in": sum(e["in"] for e in node["lanes"].values()) + node["other"]["in"]})
                for host, node in nodes.items())
    ok = all(seen[host]["out"] == expected[host] and seen[host]["in"] == sum(v for h, v in expected.items() if h != host)
             for host in nodes)
    return _check("fabric sockets per node: out == its channels, in == the peer's", seen, expected, ok)


def check_follow_published(nodes, published):
    """Native (no NAT): every socket a node accepted is on an address it publishes, and what a
    node dialed is, link for link, what its peer accepted."""
    problems = []
    for host in sorted(nodes):
        node = nodes[host]
        problems += ["%s accepted on %s, which it does not publish" % (host, address)
                     for address, entry in node["lanes"].items() if entry["in"] and address not in published[host]]
        if node["other"]["in"]:
            problems.append("%s accepted %d on %s" % (host, node["other"]["in"], node["other"]["addresses"]))
        for peer in sorted(nodes):
            accepted = dict((link, figures["in"]) for link, figures in nodes[peer]["links"].items() if figures["in"])
            sent = dict((link, n) for link, n in node["dialed"].items() if n)
            if peer != host and accepted != sent:
                problems.append("%s dialed %s, %s accepted %s" % (host, sent, peer, accepted))
    return _check("sockets follow the published addresses (accepted on published lanes; dialed == accepted per link)",
                  problems or "ok", "no mismatch", not problems)


def check_subflows(cluster, hosts):
    """fabric_strategy mptcp: every fabric connection of every node is an MPTCP connection with a
    subflow on every link (verify.yml's subflow view, link_sample.mptcp_subflows)."""
    views = dict((host, (cluster["nodes"].get(host) or {}).get("mptcp")) for host in hosts)
    seen = dict((host, None if view is None else {
        "state": view["state"], "connections": view["connections"], "short": view["short"], "plain": view["plain"],
        "links": dict((link, figures["connections"]) for link, figures in view["links"].items())})
        for host, view in views.items())
    ok = all(view is not None and view["state"] == "ok" and view["connections"] and not view["short"] and not view["plain"]
             and len(view["links"]) == len(cluster["links"])
             and all(count == view["connections"] for count in view["links"].values()) for view in seen.values())
    return _check("every fabric connection is MPTCP with a subflow per link (verify.yml)", seen,
                  "short 0, plain 0, every link in every connection", ok)


def findings(report):
    """Plain statements about what the server did (not pass conditions)."""
    out = []
    totals = report["phases"]["server"]["cluster"].get("totals") or {}
    shares = dict((link, (figures or {}).get("share")) for link, figures in totals.items())
    if shares and all(value is not None for value in shares.values()):
        busiest = max(shares, key=shares.get)
        out.append("busiest link %s carries %.1f %% of the fabric bytes (even over %d links: %.1f %%)" % (
            busiest, 100 * shares[busiest], len(shares), 100.0 / len(shares)))
    for host, node in sorted(report["sockets"].items()):
        out.append("%s accepted %s fabric sockets on %s" % (
            host, " + ".join(str(node["links"][link["name"]]["in"]) for link in report["links"]),
            ", ".join(link["name"] for link in report["links"])))
        if node.get("probes"):
            out.append("%s: %d accepted socket(s) from the peer watchdog's probe ports left out (a probe whose "
                       "reset was lost lasts until its port comes round)" % (host, node["probes"]))
        if node.get("unmatched"):
            out.append("%s: %d accepted socket(s) with no opened socket of a peer behind them left out (half-open "
                       "here): %s" % (host, len(node["unmatched"]), ", ".join(node["unmatched"])))
    before, after = report.get("statistics_before") or {}, report.get("statistics") or {}
    for host in sorted(after):
        try:
            opened = int(after[host]["fabric_connections_opened"]) - int(before[host]["fabric_connections_opened"])
            closed = int(after[host]["fabric_connections_closed"]) - int(before[host]["fabric_connections_closed"])
        except (KeyError, ValueError):
            continue
        out.append("%s: fabric connections opened/closed while measuring: %d/%d (since start: %s/%s)" % (
            host, opened, closed, after[host]["fabric_connections_opened"], after[host]["fabric_connections_closed"]))
    for host, node in sorted((report["phases"]["server"]["cluster"].get("nodes") or {}).items()):
        view = node.get("server")
        if isinstance(view, dict) and view.get("head"):
            out.append("verify.yml's server view of %s: %s; %s" % (host, view["head"], "; ".join(view.get("details") or [])))
    return out


# ============================================================================ tables and the plot
def traffic_label(traffic):
    if traffic["kind"] == "server":
        return traffic.get("label", "the server")
    if traffic["kind"] == "emulation":
        return "Aerospike fabric emulation, seeds %s" % ",".join(str(seed) for seed in traffic.get("seeds", []))
    paced = " at %s Mbit/s" % traffic["stream_mbit"] if traffic.get("stream_mbit") else ""
    return "%d %s streams%s, %s s" % (traffic.get("streams", 0), "MPTCP" if traffic.get("mptcp") else "TCP", paced,
                                      traffic.get("seconds"))


def format_table(report):
    """The per-link table of every phase; with the server its sockets; then the checks."""
    lines = ["NOTE: %s" % note for note in report.get("notes", [])]
    if report.get("server"):
        lines.append("Aerospike %s (the real server), cluster %s, strategy %s; workload: %s" % (
            report["server"], report["cluster"], report.get("strategy"), report["phases"]["server"]["traffic"]["label"]))
    lines.append("%s -> %s, port %s; playbooks/verify.yml's counters (tx of both nodes) per phase" % (
        report.get("sender"), report.get("receiver"), report["port"]) if not report.get("server") else
        "split from playbooks/verify.yml (kernel counters of both nodes, tx); fabric sockets: node tool (accepted = the lane "
        "a connection arrived on)")
    header = "%-10s %-6s %14s %14s %7s %9s %8s" % ("phase", "link", "tx bytes", "rx bytes", "share", "Mbit/s", "of link")
    lines += [header, "-" * len(header)]
    for name, phase in report["phases"].items():
        for row in phase["links"]:
            lines.append("%-10s %-6s %14d %14d %6.1f%% %9.1f %8s" % (
                name, row["link"], row["tx_bytes"], row["rx_bytes"], 100 * row["share"], row["mbit"],
                "%.0f%%" % (100 * row["load"]) if row.get("load") is not None else "-"))
        lines.append("%-10s %-6s %14d %14s %7s %9.1f   NAT rules %s, %s, %.1f s" % (
            name, "all", phase["tx_bytes"], "", "", phase["aggregate_mbit"], phase["nat"], traffic_label(phase["traffic"]),
            phase["seconds"]))
        for run in phase["runs"] if len(phase["runs"]) > 1 else []:
            lines.append("%-10s   seed %-6s busiest %-6s %5.1f%%  %8.1f Mbit/s  rw sockets per picked link %s" % (
                "", run["seed"], run["busiest_link"], 100 * run["busiest_share"], run["aggregate_mbit"], run.get("rw_per_link", "")))
    for host, node in sorted(report.get("sockets", {}).items()):
        lanes = ", ".join("%s %d" % (address, entry["in"]) for address, entry in node["lanes"].items())
        lines.append("%s: accepted per lane: %s; the server dialed per link: %s%s" % (
            host, lanes, json.dumps(node["dialed"], sort_keys=True),
            "; not on a lane: %s" % node["other"] if node["other"]["in"] + node["other"]["out"] else ""))
    work = report.get("workload") or {}
    if work:
        lines.append("workload: %s writes, %s failed, %.1f writes/s, %.1f Mbit/s payload over %.1f s (in the window: "
                     "%.1f Mbit/s); longest stall %.3f s" % (
                         work["writes"], work["failed"], work["writes_per_s"], work["payload_mbit"], work["seconds"],
                         report.get("window_workload", {}).get("payload_mbit", 0.0), work["longest_stall_s"]))
    if "ratio" in report:
        lines.append("aggregate ratio %s/%s: %.3fx; busiest link in %s (worst run): %.1f%%" % (
            report["ratio_phases"][1], report["ratio_phases"][0], report["ratio"], report["ratio_phases"][1],
            100 * report["busiest_share"]))
    for check in report.get("checks", []):
        lines.append("%s %s: %s" % ("PASS" if check["ok"] else "FAIL", check["check"], json.dumps(check["value"])))
    lines += ["finding: %s" % finding for finding in report.get("findings", [])]
    return "\n".join(lines)


def plot(report, path):
    """PNG of every phase side by side (throughput_plot.render_phases: Mbit/s sent per link)."""
    panels = [("%s (NAT %s)" % (name, phase["nat"]), phase["cluster"]) for name, phase in report["phases"].items()]
    rates = ", ".join("%s %s" % (link["name"], "%g" % link["rate_mbit"] if link.get("rate_mbit") else "?") for link in report["links"])
    aggregate = ""
    if "ratio" in report:
        aggregate = "; aggregate %s/%s %.2fx" % (report["ratio_phases"][1], report["ratio_phases"][0], report["ratio"])
    title = "%s: %d links (%s Mbit/s)%s" % (report.get("scenario", ""), len(report["links"]), rates, aggregate)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "wb") as handle:
        handle.write(throughput_plot.render_phases(panels, title=title))
    return path


# ============================================================================ live
class NoServer(Exception):
    """No server to measure: the node image has none, or it would not run (the message says why)."""


class CoverageError(MeasureError):
    """verify.yml's window did not cover a run (its samplers started late)."""


def run_verify(inventory, path, seconds, interval, start_delay=None, sampling=None):
    """playbooks/verify.yml against ``inventory``, its report in ``path``; (returncode, output,
    command). ``sampling`` (a threading.Event) is set once every node's sampler runs."""
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = [tool if os.path.exists(tool) else "ansible-playbook", "-i", inventory, VERIFY,
               "-e", "verify_report=%s" % path, "-e", "verify_seconds=%s" % seconds, "-e", "verify_interval=%s" % interval]
    if start_delay is not None:
        command += ["-e", "verify_start_delay=%s" % start_delay]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            env=env, cwd=ROOT)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if sampling is not None and line.startswith(SAMPLING):
            sampling.set()
    proc.wait()
    if sampling is not None:
        sampling.set()
    return proc.returncode, "".join(lines), " ".join(command[1:])


def load_verify(code, output, path, cluster):
    if code != 0 or not os.path.exists(path):
        raise MeasureError("playbooks/verify.yml failed (%d): %s" % (code, output[-3000:]))
    with open(path) as handle:
        found = json.load(handle)["clusters"][cluster]
    if found.get("missing") or not found.get("window"):
        raise MeasureError("verify.yml did not sample every node at the same ticks: %s" % found.get("notes"))
    return found


class Background(threading.Thread):
    """The workload in one-second chunks until stopped; each chunk's wall-clock span and figures."""

    def __init__(self, workload, chunk=1.0, rate=None):
        threading.Thread.__init__(self)
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
                # Every chunk rewrites the same keys: the namespace's memory stays bounded however
                # long verify.yml takes (new keys fill it, and the server then refuses writes). An
                # overwrite is replicated like a new record.
                self.workload.next_key = 0
                start = time.time()
                result = self.workload.run(seconds=self.chunk, rate=self.rate * self.chunk if self.rate else None)
                result.update(start=start, end=time.time())
                self.chunks.append(result)
        except Exception as exc:  # pylint: disable=broad-except  # the client's own exception classes
            self.error = repr(exc)

    def summary(self):
        writes = sum(c["writes"] for c in self.chunks)
        failed = {}
        for chunk in self.chunks:
            for name, count in chunk["failed_by_error"].items():
                failed[name] = failed.get(name, 0) + count
        seconds = (self.chunks[-1]["end"] - self.chunks[0]["start"]) if self.chunks else 0.0
        record = self.workload.record_bytes
        return {"writes": writes, "failed": sum(failed.values()), "failed_by_error": failed, "seconds": round(seconds, 2),
                "writes_per_s": round(writes / seconds, 1) if seconds else 0.0,
                "payload_mbit": round(writes * record * 8 / 1e6 / seconds, 1) if seconds else 0.0,
                "record_bytes": record, "threads": self.workload.threads, "error": self.error,
                "longest_stall_s": max([c["longest_stall_s"] for c in self.chunks] or [0.0]),
                # per chunk: [start (s from the first), seconds, writes, failed]
                "chunks": [[round(c["start"] - self.chunks[0]["start"], 2), round(c["end"] - c["start"], 2),
                            c["writes"], c["failed"]] for c in self.chunks]}


class Bed(object):
    """The converged cluster of the inventory, reached through the test bed."""

    def __init__(self, inventory, cluster=None):
        from testbed.cluster import Cluster  # pylint: disable=import-outside-toplevel
        from testbed.inventory import topology  # pylint: disable=import-outside-toplevel
        self.inventory = inventory
        self.topo = topology(inventory, cluster)
        self.cluster = Cluster(self.topo)
        self.hosts = self.cluster.hosts
        if len(self.hosts) < 2:
            raise MeasureError("cluster %s needs two hosts, has %s" % (self.topo.cluster, self.hosts))

    def each(self, function, hosts=None):
        """{host: function(host)} for every host, side by side."""
        hosts = hosts or self.hosts
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            futures = dict((host, pool.submit(function, host)) for host in hosts)
        return dict((host, future.result()) for host, future in futures.items())

    def rates(self):
        """Each link's speed as the first node's tbf qdisc really limits it (None: not shaped)."""
        text = self.cluster.run(self.hosts[0], "; ".join("tc -j qdisc show dev %s; echo" % link["device"]
                                                         for link in self.topo.links)).stdout
        out = {}
        for link, line in zip(self.topo.links, [line for line in text.splitlines() if line.strip()]):
            found = [q["options"]["rate"] for q in json.loads(line) if q.get("kind") == "tbf" and q.get("root")]
            out[link["name"]] = round(found[0] * 8 / 1e6, 1) if found else None
        return out

    def rules(self, mode):
        """The NAT rules on every node: ``off`` deletes the tables, ``restore`` restarts their boot
        unit (which reloads the persisted rules), ``keep`` leaves them. Whether the first node has them."""
        command = {"off": "nft delete table ip %s 2>/dev/null; nft delete table ip6 %s 2>/dev/null; " % (NAT_TABLE, NAT_TABLE),
                   "restore": "systemctl restart %s && " % NAT_UNIT, "keep": ""}[mode] + "nft list tables"
        tables = self.each(lambda host: self.cluster.run(host, command).stdout)
        present = NAT_TABLE in tables[self.hosts[0]]
        if mode == "off" and present or mode == "restore" and not present:
            raise MeasureError("%s: rules %s, but nft lists: %r" % (self.hosts[0], mode, tables[self.hosts[0]]))
        return present

    def conf(self, host):
        """(aerospike.conf as data, NAT table present) of ``host``."""
        text = self.cluster.run(host, "cat %s; echo '%%%%'; nft list tables 2>/dev/null; true" % AEROSPIKE_CONF).stdout
        conf, dummy, tables = text.rpartition("%%")
        return aerospike_conf.parse(conf), NAT_TABLE in tables


def new_report(bed, args):
    report = {}
    if getattr(args, "append", False) and os.path.exists(args.out):
        with open(args.out) as handle:
            report = json.load(handle)
    topo = bed.topo
    report.update({"scenario": args.scenario or report.get("scenario") or topo.cluster, "cluster": topo.cluster,
                   "strategy": topo.strategy, "hosts": bed.hosts, "port": topo.port, "plan": topo.plan,
                   "weights": dict(topo.vars.get("fabric_nat_weights") or {}), "nproc": os.cpu_count(),
                   "links": [dict((key, link[key]) for key in ("name", "family", "subnet", "device", "rate_mbit"))
                             for link in topo.links]})
    for note in args.note:
        if note not in report.setdefault("notes", []):
            report["notes"].append(note)
    for key, value in (("phases", {}), ("checks", []), ("verify", []), ("watchdog", {})):
        report.setdefault(key, value)
    return report


def verify_path(args, phases):
    base = os.path.splitext(os.path.abspath(args.out))[0]
    return base + ("-verify-%s.json" % "-".join(phases) if getattr(args, "append", False) else "-verify.json")


def phase_specs(args):
    """[(name, rules, options)] of the --phase arguments, each phase's traffic options on top of the defaults."""
    out = []
    for spec in args.phase:
        head, dummy, rest = spec.partition(",")
        name, dummy, rules = head.partition("=")
        if rules not in RULES:
            raise MeasureError("--phase %s: rules must be one of %s" % (spec, ", ".join(RULES)))
        options = {"kind": args.traffic, "streams": args.streams, "seconds": args.seconds, "stream_mbit": args.stream_mbit,
                   "offered_mbit": args.offered_mbit, "seeds": args.seeds, "mptcp": 0.0}
        for item in [item for item in rest.split(",") if item]:
            key, dummy, value = item.partition("=")
            key = key.replace("-", "_")
            if key not in options or key == "kind":
                raise MeasureError("--phase %s: %s is not one of %s" % (spec, key, ", ".join(sorted(options)[1:])))
            options[key] = [int(v) for v in value.split("+")] if key == "seeds" else float(value)
        options["streams"] = int(options["streams"])
        out.append((name, rules, options))
    return out


def measure_phases(bed, args, report, lead):
    """Every --phase inside one verify.yml window (see the module docstring)."""
    from testbed import traffic  # pylint: disable=import-outside-toplevel
    cluster, topo = bed.cluster, bed.topo
    sender, receiver = bed.hosts[0], bed.hosts[1]
    report.update(sender=sender, receiver=receiver)
    specs = phase_specs(args)
    traffic.install(cluster)
    published = None
    if any(options["kind"] == "emulation" for dummy, dummy2, options in specs):
        fabric = bed.conf(receiver)[0]["network"]["fabric"]
        published = fabric["address"] if isinstance(fabric["address"], list) else [fabric["address"]]
    # mptcp=1 in a phase: its streams are Multipath TCP (IPPROTO_MPTCP); the sink then listens with
    # MPTCP, which takes plain TCP streams too
    traffic.start_sink(cluster, receiver, topo.port, mptcp=any(options["mptcp"] for dummy, dummy2, options in specs))
    primary = topo.address(receiver, topo.links[0]["name"])
    budget = lead + 1.0 + sum((1.5 if rules != "keep" and index else 0.0) + sum(
        options["seconds"] + 0.8 for dummy in (options["seeds"] if options["kind"] == "emulation" else [None]))
        for index, (dummy, rules, options) in enumerate(specs))
    present = {specs[0][0]: bed.rules(specs[0][1])}
    path = verify_path(args, [name for name, dummy, dummy2 in specs])
    sampling, outcome = threading.Event(), {}
    waiter = threading.Thread(target=lambda: outcome.update(result=run_verify(
        bed.inventory, path, round(budget, 1), args.interval, 0.5, sampling)))
    waiter.start()
    runs = {}
    try:
        sampling.wait(300)
        for index, (name, rules, options) in enumerate(specs):
            if index:
                present[name] = bed.rules(rules)
            runs[name] = []
            for seed in options["seeds"] if options["kind"] == "emulation" else [None]:
                if options["kind"] == "emulation":
                    result = traffic.emulate(cluster, sender, published, topo.port, seed, options["seconds"], options["offered_mbit"])
                else:
                    result = traffic.streams(cluster, sender, primary, topo.port, options["streams"], options["seconds"],
                                             options["stream_mbit"], mptcp=bool(options["mptcp"]))
                runs[name].append(result)
    finally:
        waiter.join()
        traffic.stop_sink(cluster, receiver, topo.port)
    vcluster = load_verify(outcome["result"][0], outcome["result"][1], path, topo.cluster)
    peers = dict((link["name"], topo.plan[receiver][link["name"]]) for link in topo.links)
    phases, statuses = {}, {}
    for name, rules, options in specs:
        records = []
        for result in runs[name]:
            window = result["window"]
            rows, seconds, count = span_rows(vcluster, report["links"], window["start"], window["end"])
            if count < 2 or seconds < 0.5 * window["seconds"]:
                raise CoverageError("phase %s: verify.yml's window (%.2f to %.2f) covers %.1f s of the run's %.1f s "
                                    "(%.2f to %.2f)" % (name, vcluster["window"]["start"], vcluster["window"]["end"],
                                                        seconds, window["seconds"], window["start"], window["end"]))
            claimed = result.get("bytes_claimed") or [sock["bytes_claimed"] for sock in result.get("sockets", [])]
            record = {"seed": result.get("seed"), "window": dict((k, window[k]) for k in ("start", "end", "seconds")),
                      "links": rows, "intervals": count, "generator_claim_mbit": mbit(sum(claimed), window["seconds"])}
            record.update(summarize(rows, seconds))
            if options["kind"] == "emulation":
                record["emulation"] = dict((k, result[k]) for k in ("label", "seed", "addresses", "sockets"))
                record["expected_shares"], record["rw_per_link"] = pick_shares(report["links"], peers, result["sockets"],
                                                                               options["offered_mbit"])
            if present[name]:
                statuses.setdefault("%s before" % name, result["watchdog"]["before"])
                statuses["%s after" % name] = result["watchdog"]["after"]
            records.append(record)
        rows, summary = merge_runs(report["links"], records)
        phases[name] = dict(summary, rules=rules, nat="on" if present[name] else "off", runs=records, links=rows,
                            traffic=dict(options, label=EMULATION if options["kind"] == "emulation" else None),
                            cluster=sub_cluster(vcluster, records[0]["window"]["start"], records[-1]["window"]["end"]))
        if published is not None:
            phases[name]["published_addresses"] = published
        print("phase %s (NAT rules %s): %.1f Mbit/s, busiest %s %.1f%%" % (
            name, phases[name]["nat"], summary["aggregate_mbit"], summary["busiest_link"], 100 * summary["busiest_share"]))
    report["phases"].update(phases)
    report["watchdog"].setdefault(sender, {}).update(statuses)
    report["verify"].append({"command": outcome["result"][2], "report": os.path.relpath(path, ROOT),
                             "phases": [name for name, dummy, dummy2 in specs], "cluster": vcluster})


def start_server(bed, timeout):
    """Start the server on every node and wait for the cluster; NoServer naming the CRITICAL
    line of a node's log when it will not run."""
    from testbed import aerospike  # pylint: disable=import-outside-toplevel
    from testbed.podman import TestbedError  # pylint: disable=import-outside-toplevel
    found, build = aerospike.available()
    if not found:
        raise NoServer(build)
    server = aerospike.Server(bed.cluster)
    bed.each(lambda host: bed.cluster.run(host, "systemctl start %s" % aerospike.SERVICE, check=False))
    deadline = time.monotonic() + timeout
    while True:
        refused = bed.each(lambda host: bed.cluster.run(host, "systemctl is-failed --quiet %s" % aerospike.SERVICE,
                                                        check=False).returncode == 0)
        if any(refused.values()):
            host = sorted(h for h, failed in refused.items() if failed)[0]
            log = server.log(host, 60).splitlines()
            why = [line[line.index(" CRITICAL ") + 1:] for line in log if " CRITICAL " in line] or log[-1:]
            raise NoServer("Aerospike %s would not run on %s: %s" % (build, host, why[-1].strip() if why else "?"))
        try:
            server.wait_cluster(timeout=2)
            return build
        except TestbedError:
            if time.monotonic() > deadline:
                raise MeasureError("Aerospike runs but formed no cluster within %s s" % timeout)


def measure_server(bed, args, report):
    """The real server's fabric under a write workload, measured by one verify.yml window."""
    from testbed import aerospike, traffic  # pylint: disable=import-outside-toplevel
    found, build = aerospike.available()
    if not found:
        raise NoServer(build)
    if args.start_server:
        start_server(bed, args.cluster_timeout)
    cluster, topo, hosts = bed.cluster, bed.topo, bed.hosts
    server = aerospike.Server(cluster)
    server.wait_cluster(timeout=args.cluster_timeout)
    traffic.install(cluster)
    confs = bed.each(bed.conf)
    endpoints = dict((host, parse_endpoints(server.info(host, ["endpoints"])["endpoints"])) for host in hosts)
    stats = dict((host, server.statistics(host)) for host in hosts)
    lanes = dict((host, [(link["name"], address) for link in topo.links for address in topo.plan[host][link["name"]]])
                 for host in hosts)

    def sockets_now():
        found = bed.each(lambda host: traffic.sockets(cluster, host))
        kept, left = without_unmatched(dict((host, found[host]["sockets"]) for host in hosts))
        out = {}
        for host in hosts:
            links_of = dict((address, link) for peer in hosts if peer != host for link, address in lanes[peer])
            for address in [a for peer_list in endpoints[host]["peers"].values() for a in peer_list]:
                links_of.setdefault(address, "unplanned")
            out[host] = node_sockets(kept[host], lanes[host], links_of)
            out[host]["probes"] = found[host].get("probes", 0)
            out[host]["unmatched"] = [half_open_text(sock) for sock in left[host]]
        return out, dict((host, found[host]["watchdog"]) for host in hosts)

    before, dummy = sockets_now()
    conf = confs[hosts[0]][0]
    namespace = args.namespace or ((conf.get("namespace") or [{}])[0].get("name"))
    workload = aerospike.Workload(cluster, namespace, record_bytes=args.record_bytes, threads=args.threads)
    background = Background(workload, rate=args.rate or None)
    path = verify_path(args, ["server"])
    background.start()
    try:
        code, output, command = run_verify(bed.inventory, path, args.seconds, args.interval)
        after, statuses = sockets_now()
        stats_after = dict((host, server.statistics(host)) for host in hosts)
    finally:
        background.stop.set()
        background.join(timeout=30)
        workload.close()
    vcluster = load_verify(code, output, path, topo.cluster)
    window = vcluster["window"]
    work = background.summary()
    rows, seconds, count = span_rows(vcluster, report["links"], window["start"], window["end"])
    run = {"seed": None, "window": dict((k, window[k]) for k in ("start", "end", "seconds")), "links": rows, "intervals": count}
    run.update(summarize(rows, seconds))
    label = "%d threads of %d-byte writes%s, replication factor 2, over the management network" % (
        args.threads, args.record_bytes, " at %s writes/s" % args.rate if args.rate else ", unpaced")
    phase = {"rules": "keep", "nat": "on" if confs[hosts[0]][1] else "off", "runs": [run], "links": rows,
             "traffic": {"kind": "server", "label": label}, "cluster": vcluster}
    phase.update(summarize(rows, seconds), worst_run_busiest_share=run["busiest_share"])
    keep = ("cluster_", "fabric_", "migrate_")
    report.update({
        "server": build, "published": dict((h, endpoints[h]["published"]) for h in hosts),
        "peer_published": dict((h, endpoints[h]["peers"]) for h in hosts),
        "channels_per_peer": dict((h, expected_sockets(confs[h][0]["network"]["fabric"])) for h in hosts),
        "statistics_before": dict((h, dict((k, v) for k, v in stats[h].items() if k.startswith(keep))) for h in hosts),
        "statistics": dict((h, dict((k, v) for k, v in stats_after[h].items() if k.startswith(keep))) for h in hosts),
        "sockets_before": before, "sockets": after, "workload": work, "workload_label": label,
        "window_workload": window_rate(background.chunks, window["start"], window["end"], args.record_bytes),
        "watchdog": dict((h, {"after": statuses[h]}) for h in hosts if statuses[h] is not None or args.check_watchdog)})
    report["phases"]["server"] = phase
    report["verify"].append({"command": command, "report": os.path.relpath(path, ROOT), "phases": ["server"],
                             "cluster": vcluster})
    checks = [check_cluster(dict((h, (vcluster["nodes"][h].get("server") or {})) for h in hosts), hosts),
              check_replicas(vcluster, report["window_workload"]["payload_mbit"], args.min_replica_ratio)]
    if args.check_complete:
        checks.append(check_sockets_complete(after, report["channels_per_peer"]))
    if args.check_sockets_on:
        checks.append(check_sockets_on(after, args.check_sockets_on.split(",")))
    if args.check_every_lane:
        checks.append(check_every_lane(after, args.check_every_lane.split(",")))
    if args.check_links_even:
        checks.append(check_links_even(after, args.check_links_even.split(",")))
    if args.check_published:
        checks.append(check_follow_published(after, report["published"]))
    if args.check_subflows:
        checks.append(check_subflows(vcluster, hosts))
    if work["writes"] == 0 or work["error"]:
        checks.append(_check("the workload wrote", work["writes"], "> 0", False, error=work["error"]))
    return checks


def _pair(parts, what):
    def parse(text):
        values = text.split(":")
        if len(values) != parts:
            raise argparse.ArgumentTypeError("%s: want %s" % (text, what))
        return values
    return parse


def measure(args):
    bed = Bed(args.inventory, args.cluster)
    report = new_report(bed, args)
    rates = bed.rates()
    for link in report["links"]:
        link["rate_mbit"] = rates.get(link["name"])
    try:
        if args.traffic == "server":
            checks = measure_server(bed, args, report)
        else:
            for attempt, lead in enumerate((2.5, 8.0)):
                try:
                    measure_phases(bed, args, report, lead)
                    break
                except CoverageError as exc:
                    if attempt:
                        raise
                    print("measure: %s; once more with more time before the traffic" % exc)
            checks = []
    except NoServer as exc:
        report.update(skipped=str(exc), passed=None)
        write(report, args.out)
        print("measure: %s" % exc)
        return NO_SERVER
    for base, spread, minimum in args.check_ratio:
        checks.append(check_ratio(report, base, spread, float(minimum)))
    for name, maximum in args.check_busiest:
        checks.append(check_busiest(report, name, float(maximum)))
    for name, link, minimum in args.check_link_share:
        checks.append(check_link_share(report, name, link, float(minimum)))
    for name, tolerance in args.check_weights:
        checks.append(check_weights(report, name, float(tolerance)))
    for name, tolerance in args.check_picks:
        checks.append(check_picks(report, name, float(tolerance)))
    if args.check_watchdog:
        checks.append(check_watchdog(report))
    report["checks"] = report["checks"] + checks
    report["passed"] = all(check["ok"] for check in report["checks"])
    base, dummy, spread = (args.ratio or "baseline:spread").partition(":")
    phases = report["phases"]
    if base in phases and spread in phases and phases[base]["aggregate_mbit"]:
        report.update(ratio=round(phases[spread]["aggregate_mbit"] / phases[base]["aggregate_mbit"], 4),
                      busiest_share=phases[spread]["worst_run_busiest_share"], ratio_phases=[base, spread])
    if args.traffic == "server":
        report["findings"] = findings(report)
    report["load_average"] = list(os.getloadavg())
    write(report, args.out)
    print(format_table(report))
    print("report: %s" % os.path.relpath(args.out))
    if args.plot:
        print("plot: %s" % os.path.relpath(plot(report, args.plot)))
    return 0 if report["passed"] else 1


def write(report, path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)


def parser():
    out = argparse.ArgumentParser(prog="python -m testbed measure", description=__doc__.split("\n", maxsplit=1)[0])
    sub = out.add_subparsers(dest="command")
    sub.required = True
    cmd = sub.add_parser("run", help="traffic, one verify.yml window, the report and its checks")
    cmd.add_argument("-i", "--inventory", required=True)
    cmd.add_argument("--cluster")
    cmd.add_argument("--out", required=True, help="report (JSON)")
    cmd.add_argument("--scenario")
    cmd.add_argument("--append", action="store_true", help="add to the phases and checks of --out")
    cmd.add_argument("--traffic", choices=("streams", "emulation", "server"), default="streams")
    cmd.add_argument("--phase", action="append", default=[], metavar="NAME=off|restore|keep[,KEY=VALUE...]",
                     help="streams, emulation: a phase (KEY: streams, seconds, stream-mbit, offered-mbit, seeds=1+2, "
                          "mptcp=1 for Multipath TCP streams)")
    cmd.add_argument("--seconds", type=float, default=3, help="per run (server: verify.yml's window)")
    cmd.add_argument("--interval", type=float, default=0.5, help="verify.yml's sampling interval")
    cmd.add_argument("--streams", type=int, default=8)
    cmd.add_argument("--stream-mbit", type=float, default=0, help="Mbit/s per stream (0: unpaced)")
    cmd.add_argument("--offered-mbit", type=float, default=0, help="emulation: rw sockets together (0: unpaced)")
    cmd.add_argument("--seeds", type=lambda text: [int(v) for v in text.split(",")], default=[1])
    cmd.add_argument("--ratio", help="BASE:SPREAD phases of the top-level ratio (default baseline:spread)")
    cmd.add_argument("--start-server", action="store_true", help="server: start it first (exit 3 when it will not run)")
    cmd.add_argument("--namespace", help="server: default the first namespace of aerospike.conf")
    cmd.add_argument("--record-bytes", type=int, default=20000)
    cmd.add_argument("--threads", type=int, default=8)
    cmd.add_argument("--rate", type=float, default=0, help="server: writes/s in total (0: unpaced)")
    cmd.add_argument("--cluster-timeout", type=float, default=60)
    cmd.add_argument("--min-replica-ratio", type=float, default=0.5)
    cmd.add_argument("--check-ratio", action="append", default=[], metavar="BASE:SPREAD:MIN", type=_pair(3, "BASE:SPREAD:MIN"))
    cmd.add_argument("--check-busiest", action="append", default=[], metavar="PHASE:MAX", type=_pair(2, "PHASE:MAX"))
    cmd.add_argument("--check-link-share", action="append", default=[], metavar="PHASE:LINK:MIN", type=_pair(3, "PHASE:LINK:MIN"))
    cmd.add_argument("--check-weights", action="append", default=[], metavar="PHASE:TOLERANCE", type=_pair(2, "PHASE:TOLERANCE"))
    cmd.add_argument("--check-picks", action="append", default=[], metavar="PHASE:TOLERANCE", type=_pair(2, "PHASE:TOLERANCE"))
    cmd.add_argument("--check-watchdog", action="store_true", help="every node's link watchdog ok, every lane rotated")
    cmd.add_argument("--check-complete", action="store_true", help="server: each node opened its channels, accepted the peer's")
    cmd.add_argument("--check-sockets-on", metavar="LINK,LINK", help="server: every fabric socket on these links")
    cmd.add_argument("--check-every-lane", metavar="LINK,LINK", help="server: every lane of these links accepted sockets")
    cmd.add_argument("--check-links-even", metavar="LINK,LINK", help="server: accepted sockets per link within 1")
    cmd.add_argument("--check-published", action="store_true", help="server: sockets follow the published addresses")
    cmd.add_argument("--check-subflows", action="store_true", help="server: every fabric connection MPTCP, a subflow per link")
    cmd.add_argument("--note", action="append", default=[], help="a line for the report and the table (e.g. why a fallback)")
    cmd.add_argument("--plot", help="PNG of every phase (throughput_plot.render_phases)")
    cmd = sub.add_parser("start-server", help="start the server on every node; exit 3 when it will not run")
    cmd.add_argument("-i", "--inventory", required=True)
    cmd.add_argument("--cluster")
    cmd.add_argument("--timeout", type=float, default=60)
    cmd = sub.add_parser("show", help="print the table of a report (and plot it)")
    cmd.add_argument("report")
    cmd.add_argument("--plot")
    return out


def main(argv=None):
    from testbed.podman import TestbedError  # pylint: disable=import-outside-toplevel
    args = parser().parse_args(argv)
    try:
        if args.command == "run":
            return measure(args)
        if args.command == "start-server":
            try:
                build = start_server(Bed(args.inventory, args.cluster), args.timeout)
            except NoServer as exc:
                print("measure: %s" % exc)
                return NO_SERVER
            print("measure: Aerospike %s runs, cluster formed" % build)
            return 0
        with open(args.report) as handle:
            report = json.load(handle)
        print(format_table(report) if "phases" in report and not report.get("skipped") else "skipped: %s" % report.get("skipped"))
        if args.plot:
            plot(report, args.plot)
        return 0
    except (MeasureError, TestbedError) as exc:
        print("measure: %s" % exc, file=sys.stderr)
        return 2
