# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG charts of a fabric throughput report: one per cluster, Mbit/s per link over time.

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
