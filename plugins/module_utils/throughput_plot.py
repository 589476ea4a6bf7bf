# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG charts of a fabric throughput report: one per cluster, Mbit/s per link over time; or
several runs of one cluster side by side (phases: one link, native, balanced...).

Draws with matplotlib's Agg canvas directly (no pyplot), so there is no display, no global
figure state, and the same report gives the same bytes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import re
import time

try:
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    HAS_MATPLOTLIB = True
    MATPLOTLIB_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    HAS_MATPLOTLIB = False
    MATPLOTLIB_ERROR = str(exc)

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_name(cluster):
    """cluster name -> PNG file name (characters other than letters, digits, _ . - become _)."""
    return "%s.png" % UNSAFE.sub("_", str(cluster)).lstrip(".")


def _title(name, cluster, threshold):
    if cluster.get("share") is None:
        verdict = "idle" if cluster.get("idle") else "no data"
    else:
        verdict = "busiest link %s %.1f %% (flagged above %.0f %%)%s" % (
            cluster["busiest"], cluster["share"] * 100, threshold * 100,
            ": IMBALANCED" if cluster.get("imbalanced") else "")
    return "cluster %s, %d nodes: %s" % (name, len(cluster.get("hosts", [])), verdict)


def render(name, cluster, threshold=0.6):
    """PNG bytes of one cluster of the report."""
    if not HAS_MATPLOTLIB:
        raise FabricError("matplotlib is needed for PNG charts: %s" % MATPLOTLIB_ERROR)
    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    series = cluster.get("series")
    window = cluster.get("window")
    if series and series.get("time"):
        times = [0.0] + list(series["time"])
        peak = 0.0
        for index, link in enumerate(cluster["links"]):
            color = "C%d" % (index % 10)
            for direction, style, word in (("tx", "-", "sent"), ("rx", "--", "received")):
                values = list(series[direction].get(link, []))
                if values:
                    peak = max([peak] + values)
                    axes.plot(times, values + values[-1:], drawstyle="steps-post", linestyle=style, color=color,
                              label="%s %s" % (link, word))
        axes.set_xlim(0, times[-1])
        axes.set_ylim(0, peak * 1.35 or 1)  # headroom for the legend
        axes.legend(loc="upper right", fontsize="small", ncol=2)
        axes.set_xlabel("seconds since %s" % time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(window["start"])))
    else:
        axes.text(0.5, 0.5, "no samples shared by the nodes", ha="center", va="center", transform=axes.transAxes)
    axes.set_ylim(bottom=0)
    axes.set_ylabel("Mbit/s, sum over the nodes")
    axes.grid(True, alpha=0.3)
    axes.set_title(_title(name, cluster, threshold), fontsize="medium")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def render_all(report):
    """{file name: PNG bytes} for every cluster of the report."""
    if not isinstance(report, dict) or not isinstance(report.get("clusters"), dict):
        raise FabricError("report must be the output of fabric_throughput ({clusters: ...}), got %r"
                          % (report,))
    out = {}
    for name, cluster in report["clusters"].items():
        path = file_name(name)
        if path in out:
            raise FabricError("clusters %r and another one both map to the file name %s" % (name, path))
        try:
            out[path] = render(name, cluster, report.get("threshold", 0.6))
        except (KeyError, TypeError) as exc:
            raise FabricError("cluster %s: the report is incomplete (%s: %s)" % (name, type(exc).__name__, exc))
    return out


def _phase_title(label, cluster):
    total = sum(figures.get("tx_mbit") or 0.0 for figures in cluster.get("totals", {}).values())
    if cluster.get("share") is None:
        return "%s: no data" % label
    return "%s: %.1f Mbit/s, busiest %s %.1f %%" % (label, total, cluster["busiest"], cluster["share"] * 100)


def render_phases(phases, title=None, limit_mbit=None, limit_label=None):
    """PNG bytes of several runs of one cluster side by side, one panel per run on a shared
    Mbit/s scale: per link the Mbit/s sent (summed over the nodes) over each run's window.

    phases: [(label, cluster)] where cluster is one cluster of a fabric_throughput report;
    limit_mbit: a dotted line at that rate in every panel (e.g. what a link can carry), with
    limit_label as its legend entry."""
    if not HAS_MATPLOTLIB:
        raise FabricError("matplotlib is needed for PNG charts: %s" % MATPLOTLIB_ERROR)
    if not isinstance(phases, (list, tuple)) or not phases:
        raise FabricError("phases must be a non-empty list of (label, cluster), got %r" % (phases,))
    try:
        links = []
        peak = float(limit_mbit or 0.0)
        for dummy, cluster in phases:
            for link in cluster["links"]:
                if link not in links:
                    links.append(link)
            series = cluster.get("series") or {}
            for values in (series.get("tx") or {}).values():
                peak = max([peak] + list(values))
        figure = Figure(figsize=(4.2 * len(phases) + 1, 4.5), dpi=100)
        FigureCanvasAgg(figure)
        first = None
        for index, (label, cluster) in enumerate(phases):
            axes = figure.add_subplot(1, len(phases), index + 1, sharey=first)
            first = first or axes
            series = cluster.get("series")
            if series and series.get("time"):
                times = [0.0] + list(series["time"])
                for link in cluster["links"]:
                    values = list(series["tx"].get(link, []))
                    if values:
                        axes.plot(times, values + values[-1:], drawstyle="steps-post",
                                  color="C%d" % (links.index(link) % 10), label="%s sent" % link)
                axes.set_xlim(0, times[-1])
            else:
                axes.text(0.5, 0.5, "no samples shared by the nodes", ha="center", va="center",
                          transform=axes.transAxes)
            if limit_mbit:
                axes.axhline(limit_mbit, linestyle=":", color="grey", label=limit_label)
            axes.set_ylim(0, peak * 1.3 or 1)
            axes.grid(True, alpha=0.3)
            axes.set_xlabel("seconds")
            axes.set_title(_phase_title(label, cluster), fontsize="small")
            axes.legend(loc="upper right", fontsize="x-small")
            if index == 0:
                axes.set_ylabel("Mbit/s sent, sum over the nodes")
        if title:
            figure.suptitle(title, fontsize="medium")
        figure.tight_layout()
    except (KeyError, TypeError, AttributeError) as exc:
        raise FabricError("phases: a cluster report is incomplete (%s: %s)" % (type(exc).__name__, exc))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
