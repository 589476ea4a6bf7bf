# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of fabric verification: counter samples of many nodes -> per-cluster report.

Input is what the link_sample module returned on each node; output is plain data (JSON-able):
per node and link the Mbit/s sent and received and the link's share of the node's traffic,
the same summed per cluster, a per-interval series for plots, and each node's watchdog status
in a few words. Shares count both directions (tx + rx): a node that only receives replicas is
as unbalanced as one that only sends them. Where verify.yml asked the database server on a
node, what the server says (cluster size, migrations pending, fabric connections per link
counted with ss) comes along per node, and under fabric_strategy mptcp the subflows of the
Multipath TCP fabric connections per link, flagging a connection with fewer subflows than
links. Pure Python, no Ansible import.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

from collections.abc import Mapping

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

MEGABIT = 1e6
EMPTY = {"tx_mbit": None, "rx_mbit": None, "mbit": None, "share": None, "tx_bytes": None, "rx_bytes": None}


def _show(value):
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_options(threshold, min_mbit, stale_after):
    if not _number(threshold) or not 0 < threshold <= 1:
        raise FabricError("threshold must be a share between 0 (exclusive) and 1, got %s" % _show(threshold))
    if not _number(min_mbit) or min_mbit < 0:
        raise FabricError("min_mbit must be a number >= 0, got %s" % _show(min_mbit))
    if not _number(stale_after) or stale_after <= 0:
        raise FabricError("stale_after must be a number of seconds > 0, got %s" % _show(stale_after))


def _check_node(host, node):
    if not isinstance(node, Mapping):
        raise FabricError("host %s: expected {cluster, links, samples, ...}, got %s" % (host, _show(node)))
    links = node.get("links")
    named = isinstance(links, (list, tuple)) and all(isinstance(link, Mapping) and link.get("name") for link in links)
    if not named:
        raise FabricError("host %s: links must be a list of {name, device}, got %s" % (host, _show(links)))
    samples = node.get("samples")
    if not isinstance(samples, (list, tuple)):
        raise FabricError("host %s: samples must be a list, got %s" % (host, _show(samples)))
    for index, entry in enumerate(samples):
        good = (isinstance(entry, Mapping) and isinstance(entry.get("tick"), int)
                and _number(entry.get("time")) and isinstance(entry.get("bytes"), Mapping))
        if good:
            good = all(isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, int) for v in pair)
                       for pair in entry["bytes"].values())
        if not good:
            raise FabricError("host %s: samples[%d] must be {tick: int, time: number, bytes: {link: [tx, rx]}}, "
                              "got %s" % (host, index, _show(entry)))


def _link_names(nodes, hosts):
    names = []
    for host in hosts:
        for link in nodes[host]["links"]:
            if link["name"] not in names:
                names.append(link["name"])
    return names


def _rates(first, last, links):
    """Per link {tx_mbit, rx_mbit}, or None where the counters are missing or went backwards."""
    seconds = last["time"] - first["time"]
    out = {}
    for link in links:
        before, after = first["bytes"].get(link), last["bytes"].get(link)
        if before is None or after is None or seconds <= 0 or after[0] < before[0] or after[1] < before[1]:
            out[link] = None
            continue
        out[link] = {"tx_mbit": (after[0] - before[0]) * 8 / seconds / MEGABIT,
                     "rx_mbit": (after[1] - before[1]) * 8 / seconds / MEGABIT,
                     "tx_bytes": after[0] - before[0], "rx_bytes": after[1] - before[1]}
    return out


def _shares(per_link, threshold, min_mbit):
    """Add mbit and share to each link's figures; return the whole's summary."""
    measured = dict((link, figures) for link, figures in per_link.items() if figures is not None)
    total = sum(figures["tx_mbit"] + figures["rx_mbit"] for figures in measured.values())
    for figures in measured.values():
        figures["mbit"] = figures["tx_mbit"] + figures["rx_mbit"]
        figures["share"] = figures["mbit"] / total if total > 0 else None
    summary = {"mbit": total, "busiest": None, "share": None, "idle": total < min_mbit, "imbalanced": False}
    if total > 0:
        busiest = max(measured, key=lambda link: measured[link]["mbit"])
        summary.update(busiest=busiest, share=measured[busiest]["share"])
        # One link is always 100 % busy; an idle node's shares are noise.
        summary["imbalanced"] = len(measured) > 1 and not summary["idle"] and summary["share"] > threshold
    return summary


def _age(clock, stamp):
    if _number(clock) and _number(stamp):
        return max(0.0, clock - stamp)
    return None


def _for(seconds):
    return "" if seconds is None else " for %s" % _duration(seconds)


def _duration(seconds):
    if seconds < 120:
        return "%.0f s" % seconds
    if seconds < 7200:
        return "%.0f min" % (seconds / 60)
    return "%.1f h" % (seconds / 3600)


def _plain(state, message):
    return {"state": state, "message": message, "head": message, "details": [], "age": None,
            "links_down": [], "paths_down": []}


def watchdog(status, error=None, clock=None, stale_after=30.0):
    """The watchdog status file of one node in a few words: {state, message, age, ...}.

    state: absent (no status file), error (unreadable or malformed), stale (not updated for
    stale_after seconds), degraded (a link or a peer path is down, or, kind mptcp, a link some
    connection this node opened can no longer get a subflow on: ``exhausted``), ok.
    """
    if error:
        return _plain("error", "watchdog status unreadable: %s" % error)
    if status is None:
        return _plain("absent", "no watchdog")
    if not isinstance(status, Mapping):
        return _plain("error", "watchdog status malformed: %s" % _show(status)[:200])
    links, peers = status.get("links", {}), status.get("peers", {})
    if not _number(status.get("updated")) or not isinstance(links, Mapping) or not isinstance(peers, Mapping) \
            or not all(isinstance(v, Mapping) for v in links.values()) \
            or not all(isinstance(p, Mapping) and all(isinstance(v, Mapping) for v in p.values())
                       for p in peers.values()):
        return _plain("error", "watchdog status malformed (want updated, links, peers): %s" % _show(status)[:200])
    age = _age(clock, status["updated"])
    links_down = []
    for name in sorted(links):
        entry = links[name]
        if entry.get("state") != "up" or entry.get("carrier") is False:
            links_down.append({"link": name, "device": entry.get("device"), "carrier": entry.get("carrier"),
                               "down_for": _age(clock, entry.get("since"))})
    paths = [(peer, name, peers[peer][name]) for peer in sorted(peers) for name in sorted(peers[peer])]
    paths_down = [{"peer": peer, "link": name, "address": entry.get("address"),
                   "probes_failed": entry.get("probes_failed"), "down_for": _age(clock, entry.get("since"))}
                  for peer, name, entry in paths if entry.get("state") != "up"]
    # kind mptcp: the connections whose path manager can join no more announcements (linkwatch.py EXHAUSTED)
    counts = dict((name, _count(entry.get("exhausted"))) for name, entry in links.items())
    exhausted = dict((name, count) for name, count in counts.items() if count)
    details = []
    for entry in links_down:
        details.append("link %s down%s (%s%s)" % (entry["link"], _for(entry["down_for"]), entry["device"] or "?",
                                                  ", no carrier" if entry["carrier"] is False else ""))
    for entry in paths_down:
        details.append("peer %s %s down%s (%s, %s probes failed)" % (
            entry["peer"], entry["link"], _for(entry["down_for"]), entry["address"] or "?",
            "?" if entry["probes_failed"] is None else entry["probes_failed"]))
    for name, count in sorted(exhausted.items()):
        details.append("link %s: %d connection%s opened here can no longer get a subflow on it (the kernel's "
                       "limit of re-joins per connection is used up; a restart of the service opens them anew)"
                       % (name, count, "" if count == 1 else "s"))
    state = "degraded" if links_down or paths_down or exhausted else "ok"
    if age is not None and age > stale_after:
        state = "stale"
    head = "%s, %d/%d links up, %d/%d peer paths up" % (
        state, len(links) - len(links_down), len(links), len(paths) - len(paths_down), len(paths))
    if age is not None:
        head += ", updated %s ago" % ("%.1f s" % age if age < 120 else _duration(age))
    return {"state": state, "message": "; ".join([head] + details), "head": head, "details": details, "age": age,
            "links_down": links_down, "paths_down": paths_down, "exhausted": exhausted}


def _count(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def server(raw, expected=None):
    """What the database server of one node says, in a few words: {state, head, details, ...}.

    raw: {listening, statistics, error, sockets} as verify.yml collects them (None: not
    asked). state: absent (nothing listens on the service port: no server, not an error),
    error (it listens but did not answer), ok. expected: the number of hosts of the cluster in
    the inventory, to point out a node that sees another cluster size.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raw = {"error": "server view malformed: %s" % _show(raw)[:200]}
    sockets = raw.get("sockets") if isinstance(raw.get("sockets"), Mapping) else None
    links = {}
    if sockets and isinstance(sockets.get("links"), Mapping):
        links = dict((name, {"out": _count(pair.get("out")), "in": _count(pair.get("in"))})
                     for name, pair in sockets["links"].items() if isinstance(pair, Mapping))
    out = {"state": None, "head": None, "details": [], "cluster_size": None, "cluster_integrity": None,
           "migrations_pending": None, "server_fabric_connections": None, "connections": links,
           "connections_other": _count((sockets or {}).get("other")), "moved": _count((sockets or {}).get("moved")),
           "nat_view": (sockets or {}).get("nat_view"), "sockets_error": (sockets or {}).get("error")}
    stats = raw.get("statistics")
    if raw.get("error"):
        out.update(state="error", head="server error: %s" % raw["error"])
    elif raw.get("listening") is False:
        out.update(state="absent", head="no server")
    elif not isinstance(stats, Mapping) or not stats:
        out.update(state="error", head="server error: no statistics in its answer")
    else:
        size = _count(stats.get("cluster_size"))
        out.update(state="ok", cluster_size=size, cluster_integrity=stats.get("cluster_integrity"),
                   migrations_pending=_count(stats.get("migrate_partitions_remaining")),
                   server_fabric_connections=_count(stats.get("fabric_connections")))
        words = ["cluster size %s" % ("?" if size is None else size)]
        if size is not None and expected is not None and size != expected:
            words[0] += " (%d in the inventory)" % expected
        if out["cluster_integrity"] not in (None, "true"):
            words.append("integrity %s" % out["cluster_integrity"])
        words.append("migrations pending %s" % ("?" if out["migrations_pending"] is None else out["migrations_pending"]))
        if out["server_fabric_connections"] is not None:
            words.append("fabric connections %d" % out["server_fabric_connections"])
        out["head"] = ", ".join(words)
    if out["state"] == "absent":
        pass
    elif out["sockets_error"]:
        out["details"].append("fabric sockets not counted: %s" % out["sockets_error"])
    elif links:
        seen = ", ".join("%s %s out %s in" % (name, pair["out"], pair["in"]) for name, pair in links.items())
        extra = []
        if out["connections_other"]:
            extra.append("%d on no fabric link" % out["connections_other"])
        if out["nat_view"] is False:
            extra.append("opened ones by their own address: no connection tracking table")
        elif out["moved"]:
            extra.append("%d opened ones moved to another link by NAT" % out["moved"])
        out["details"].append("ss port %s: %s%s" % (sockets.get("port"), seen, "; " + "; ".join(extra) if extra else ""))
    return out


def _join_words(counters, window):
    names = sorted(name for name, value in (counters or {}).items() if value)
    return ", ".join("%s %s (+%s)" % (name[len("MPJoin"):] if name.startswith("MPJoin") else name, counters[name],
                                      (window or {}).get(name, 0)) for name in names)


def mptcp(raw, links=()):
    """The subflows of one node's Multipath TCP fabric connections in a few words: {state, head, details, ...}.

    raw: link_sample's ``mptcp`` result (None: not counted). state: error (ss failed), idle (no
    fabric connection), short (a connection whose subflows cover fewer links than there are, or
    one without MPTCP at all: fallen back to plain TCP), ok. links: the node's link names, in order."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raw = {"error": "subflow view malformed: %s" % _show(raw)[:200]}
    per_link = raw.get("links") if isinstance(raw.get("links"), Mapping) else {}
    names = [name for name in links if name in per_link] + sorted(name for name in per_link if name not in links)
    out = {"state": None, "head": None, "details": [], "connections": _count(raw.get("connections")),
           "opened": _count(raw.get("opened")), "plain": _count(raw.get("plain")) or 0,
           "short": _count(raw.get("short")) or 0, "other": _count(raw.get("other")) or 0,
           "links": dict((name, {"subflows": _count((per_link[name] or {}).get("subflows")),
                                 "connections": _count((per_link[name] or {}).get("connections"))}) for name in names),
           "short_listed": list(raw.get("short_listed") or []), "joins": dict(raw.get("joins") or {}),
           "joins_window": dict(raw.get("joins_window") or {}), "error": raw.get("error")}
    if out["error"]:
        out.update(state="error", head="subflows not counted: %s" % out["error"])
        return out
    flagged = out["short"] + (out["plain"] if len(names) > 1 else 0)
    words = ["%s connection%s (%s opened)" % (out["connections"], "" if out["connections"] == 1 else "s",
                                              "?" if out["opened"] is None else out["opened"])]
    if names:
        words.append("subflows " + ", ".join("%s %s" % (name, out["links"][name]["subflows"]) for name in names))
    if not out["connections"] and not out["plain"]:
        out["state"] = "idle"
        words = ["no fabric connection"]
    elif flagged:
        out["state"] = "short"
        parts = []
        if out["short"]:
            parts.append("%d with fewer subflows than links" % out["short"])
        if out["plain"]:
            parts.append("%d plain TCP (no MPTCP)" % out["plain"])
        words.append("SHORT: " + ", ".join(parts))
    else:
        out["state"] = "ok"
        words.append("every connection on every link")
    out["head"] = "; ".join(words)
    for entry in out["short_listed"]:
        if isinstance(entry, Mapping):
            out["details"].append("%s %s: %s subflow%s, on %s" % (
                "opened to" if entry.get("direction") == "out" else "accepted from", entry.get("peer"),
                entry.get("subflows"), "" if entry.get("subflows") == 1 else "s",
                ", ".join(entry.get("links") or []) or "no fabric link"))
    if out["short"] > len(out["short_listed"]):
        out["details"].append("... and %d more" % (out["short"] - len(out["short_listed"])))
    joins = _join_words(out["joins"], out["joins_window"])
    if joins:
        out["details"].append("MPJoin counters (+ in the window): %s" % joins)
    return out


def _cluster(name, hosts, nodes, threshold, min_mbit, stale_after):
    sampled = [host for host in hosts if host in nodes]
    links = _link_names(nodes, sampled)
    by_tick = dict((host, dict((entry["tick"], entry) for entry in nodes[host]["samples"])) for host in sampled)
    common = sorted(set.intersection(*[set(ticks) for ticks in by_tick.values()])) if sampled else []
    simultaneous = len(common) >= 2
    out = {"hosts": sampled, "missing": [host for host in hosts if host not in nodes], "links": links,
           "window": None, "nodes": {}, "totals": {}, "series": None, "notes": []}
    if sampled and not simultaneous:
        out["notes"].append("the nodes did not sample at the same time (no two shared ticks): each node's "
                            "figures cover its own window and the cluster sums are approximate")
    for host in sampled:
        ticks = by_tick[host]
        span = common if simultaneous else sorted(ticks)
        node = nodes[host]
        devices = dict((link["name"], link.get("device")) for link in node["links"])
        raw_server = node.get("server")
        entry = {"links": {}, "watchdog": watchdog(node.get("status"), node.get("status_error"),
                                                   node.get("clock"), stale_after),
                 "server": server(raw_server, len(hosts)),
                 "mptcp": mptcp(raw_server.get("mptcp"), [link["name"] for link in node["links"]])
                 if isinstance(raw_server, Mapping) else None}
        if len(span) < 2:
            entry.update(mbit=None, busiest=None, share=None, idle=True, imbalanced=False, seconds=None)
            out["notes"].append("%s: fewer than two samples" % host)
        else:
            first, last = ticks[span[0]], ticks[span[-1]]
            rates = _rates(first, last, links)
            entry.update(_shares(rates, threshold, min_mbit), seconds=last["time"] - first["time"])
            for link in links:
                figures = rates[link] or dict(EMPTY)
                entry["links"][link] = dict(figures, device=devices.get(link))
                if rates[link] is None and link in first["bytes"]:
                    out["notes"].append("%s: the counters of %s went backwards (interface reset?)" % (host, link))
        out["nodes"][host] = entry
    totals = {}
    for link in links:
        figures = [out["nodes"][host]["links"].get(link) or {} for host in sampled]
        measured = [f for f in figures if f.get("tx_mbit") is not None]
        totals[link] = dict((key, sum(f[key] for f in measured))
                            for key in ("tx_mbit", "rx_mbit", "tx_bytes", "rx_bytes")) if measured else None
    out.update(_shares(totals, threshold, min_mbit))
    if not sampled:
        out.update(mbit=None, idle=False)
    out["totals"] = dict((link, figures or dict(EMPTY)) for link, figures in totals.items())
    if simultaneous:
        out["window"], out["series"] = _window_and_series(common, sampled, by_tick, links)
    states = [out["nodes"][host]["watchdog"]["state"] for host in sampled]
    out["watchdog"] = dict((state, states.count(state)) for state in sorted(set(states)))
    views = [out["nodes"][host]["server"] for host in sampled if out["nodes"][host]["server"] is not None]
    states = [view["state"] for view in views]
    out["server"] = dict((state, states.count(state)) for state in sorted(set(states))) if views else None
    # every connection once, on the node that opened it
    out["connections"] = dict((link, sum(view["connections"][link]["out"] or 0 for view in views
                                         if link in view["connections"])) for link in links) if views else None
    subflows = [out["nodes"][host]["mptcp"] for host in sampled if out["nodes"][host]["mptcp"] is not None]
    out["mptcp"] = {"opened": sum(view["opened"] or 0 for view in subflows),
                    "short": sum(view["short"] for view in subflows),
                    "plain": sum(view["plain"] for view in subflows),
                    "states": dict((state, [v["state"] for v in subflows].count(state))
                                   for state in sorted(set(v["state"] for v in subflows)))} if subflows else None
    return out


def _window_and_series(common, hosts, by_tick, links):
    def mean_time(tick):
        return sum(by_tick[host][tick]["time"] for host in hosts) / len(hosts)
    start = mean_time(common[0])
    skew = max(max(by_tick[host][tick]["time"] for host in hosts) - min(by_tick[host][tick]["time"] for host in hosts)
               for tick in common)
    window = {"start": start, "end": mean_time(common[-1]), "seconds": mean_time(common[-1]) - start,
              "samples": len(common), "first_tick": common[0], "last_tick": common[-1], "skew": skew}
    series = {"time": [], "tx": dict((link, []) for link in links), "rx": dict((link, []) for link in links)}
    for before, after in zip(common, common[1:]):
        series["time"].append(mean_time(after) - start)
        for link in links:
            for direction, index in (("tx", 0), ("rx", 1)):
                total = 0.0
                for host in hosts:
                    rates = _rates(by_tick[host][before], by_tick[host][after], [link])[link]
                    if rates is not None:
                        total += rates["%s_mbit" % direction]
                series[direction][link].append(total)
    return window, series


def summarize(nodes, clusters, threshold=0.6, min_mbit=1.0, stale_after=30.0):
    """Per-cluster throughput report from the link_sample results of many nodes.

    nodes: {host: {cluster, links: [{name, device}], samples, status, status_error, clock}}
    clusters: {cluster: [hosts expected to report]}; expected hosts without an entry in nodes
    are listed as missing (unreachable or failed).
    """
    _check_options(threshold, min_mbit, stale_after)
    if not isinstance(nodes, Mapping):
        raise FabricError("nodes must be a mapping of host to its samples, got %s" % _show(nodes)[:200])
    if not isinstance(clusters, Mapping) or not all(isinstance(hosts, (list, tuple)) for hosts in clusters.values()):
        raise FabricError("clusters must be a mapping of cluster to its list of hosts, got %s" % _show(clusters)[:200])
    members = {}
    for cluster, hosts in clusters.items():
        for host in hosts:
            members.setdefault(host, cluster)
    for host in nodes:
        _check_node(host, nodes[host])
        if host not in members:
            raise FabricError("host %s reported samples but is in none of the clusters %s"
                              % (host, ", ".join(sorted(clusters)) or "(none)"))
    report = {"threshold": threshold, "min_mbit": min_mbit, "stale_after": stale_after,
              "flagged": [], "subflows_flagged": [], "clusters": {}}
    for cluster in sorted(clusters):
        data = _cluster(cluster, list(clusters[cluster]), nodes, threshold, min_mbit, stale_after)
        report["clusters"][cluster] = data
        if data["imbalanced"]:
            report["flagged"].append({"cluster": cluster, "host": None, "link": data["busiest"],
                                      "share": data["share"]})
        for host in data["hosts"]:
            node = data["nodes"][host]
            if node["imbalanced"]:
                report["flagged"].append({"cluster": cluster, "host": host, "link": node["busiest"],
                                          "share": node["share"]})
            view = node["mptcp"]
            if view is not None and view["state"] == "short":
                report["subflows_flagged"].append({"cluster": cluster, "host": host, "short": view["short"],
                                                   "plain": view["plain"]})
    return report


# ---------------------------------------------------------------------------- table
def _mbit(value):
    return "-" if value is None else "%.1f" % value


def _percent(value):
    return "-" if value is None else "%.1f %%" % (value * 100)


def _verdict(summary):
    if summary.get("mbit") is None:
        return "no data"
    if summary["idle"]:
        return "idle"
    if summary["share"] is None:
        return ""
    return "%s, busiest %s" % ("IMBALANCED" if summary["imbalanced"] else "ok", summary["busiest"])


def _counted(view):
    """Whether a node's server view has connection counts worth a column: a server, or
    connections on the fabric port without one (other software on it)."""
    pairs = ((view or {}).get("connections") or {}).values()
    return bool(pairs) and (view.get("state") != "absent" or any(pair["out"] or pair["in"] for pair in pairs))


def _conns(view, link):
    pair = ((view or {}).get("connections") or {}).get(link)
    if not pair:
        return "-"
    return "%s/%s" % ("?" if pair["out"] is None else pair["out"], "?" if pair["in"] is None else pair["in"])


def _columns(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = (3, 4, 5, 6) if len(rows[0]) > 7 else (3, 4, 5)
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _clock(epoch):
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def format_report(report):
    """The report as a text table, one block per cluster."""
    if not isinstance(report, Mapping) or not isinstance(report.get("clusters"), Mapping):
        raise FabricError("expected the report of fabric_throughput ({clusters: ...}), got %s" % _show(report)[:200])
    threshold = report.get("threshold", 0.6)
    blocks = []
    for name, cluster in report["clusters"].items():
        window = cluster.get("window")
        expected = len(cluster["hosts"]) + len(cluster["missing"])
        lines = ["cluster %s: %d of %d node%s sampled, %d link%s, flagged above %s" % (
            name, len(cluster["hosts"]), expected, "" if expected == 1 else "s",
            len(cluster["links"]), "" if len(cluster["links"]) == 1 else "s", _percent(threshold))]
        if window:
            lines.append("window %.1f s from %s, %d samples, nodes within %.0f ms" % (
                window["seconds"], _clock(window["start"]), window["samples"], window["skew"] * 1000))
        if cluster["missing"]:
            lines.append("no data from: %s (unreachable or failed)" % ", ".join(cluster["missing"]))
        servers = any(_counted(cluster["nodes"][host].get("server")) for host in cluster["hosts"])
        rows = [["host", "link", "device", "tx Mbit/s", "rx Mbit/s", "share"] + (["conns out/in"] if servers else []) + [""]]
        for host in cluster["hosts"]:
            node = cluster["nodes"][host]
            for link in cluster["links"]:
                figures = node["links"].get(link) or {}
                rows.append([host, link, figures.get("device") or "-", _mbit(figures.get("tx_mbit")),
                             _mbit(figures.get("rx_mbit")), _percent(figures.get("share"))]
                            + ([_conns(node.get("server"), link)] if servers else []) + [""])
            rows.append([host, "all", "", _mbit(_sum(node["links"], "tx_mbit")),
                         _mbit(_sum(node["links"], "rx_mbit")), ""] + ([""] if servers else []) + [_verdict(node)])
        for link in cluster["links"]:
            figures = cluster["totals"].get(link) or {}
            rows.append(["cluster", link, "", _mbit(figures.get("tx_mbit")), _mbit(figures.get("rx_mbit")),
                         _percent(figures.get("share"))]
                        + (["%d" % cluster["connections"][link] if cluster.get("connections") else "-"] if servers else [])
                        + [""])
        rows.append(["cluster", "all", "", _mbit(_sum(cluster["totals"], "tx_mbit")),
                     _mbit(_sum(cluster["totals"], "rx_mbit")), ""] + ([""] if servers else []) + [_verdict(cluster)])
        lines.extend(_columns(rows))
        for host in cluster["hosts"]:
            state = cluster["nodes"][host]["watchdog"]
            lines.append("watchdog %s: %s" % (host, state["head"]))
            lines.extend("  %s" % detail for detail in state["details"])
        for host in cluster["hosts"]:
            view = cluster["nodes"][host].get("server")
            if view is not None:
                lines.append("server %s: %s" % (host, view["head"]))
                lines.extend("  %s" % detail for detail in view["details"])
        for host in cluster["hosts"]:
            view = cluster["nodes"][host].get("mptcp")
            if view is not None:
                lines.append("mptcp %s: %s" % (host, view["head"]))
                lines.extend("  %s" % detail for detail in view["details"])
        lines.extend("note: %s" % note for note in cluster.get("notes", []))
        blocks.append("\n".join(lines))
    if not blocks:
        return "no fabric cluster was sampled"
    return "\n\n".join(blocks)


def _sum(per_link, key):
    values = [figures.get(key) for figures in per_link.values() if figures and figures.get(key) is not None]
    return sum(values) if values else None
