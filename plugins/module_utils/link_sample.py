# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side of fabric verification: sample link byte counters, read the watchdog status.

Runs on the target inside the link_sample module, so it uses the standard library only.
Samples are taken on a grid of wall-clock ticks, start_at + k * interval, that every node of
a run shares: the controller compares the nodes tick by tick, so a node whose sampling began
late (it was started after the others) simply has fewer ticks, never shifted ones.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

SYS_NET = "/sys/class/net"
STATUS_FILE = "/run/clusterfabric/linkwatch.json"
# A tick counts as missed when the sampler reaches it later than this fraction of an interval:
# a reading taken that late would not be simultaneous with the other nodes' any more.
LATE_FRACTION = 0.2
# How far in the future start_at may lie: beyond that the clocks or the input are wrong.
MAX_WAIT = 600.0


def counter_paths(links, root=None):
    """[(link, tx path, rx path)] for links [{name, device}]; a missing device is an error."""
    root = root or SYS_NET
    if not isinstance(links, (list, tuple)) or not links:
        raise FabricError("links must be a non-empty list of {name, device}, got %r" % (links,))
    paths = []
    seen = set()
    for link in links:
        if not isinstance(link, dict) or not link.get("name") or not link.get("device"):
            raise FabricError("every link needs a name and a device, got %r" % (link,))
        name, device = str(link["name"]), str(link["device"])
        if name in seen:
            raise FabricError("link %s is listed twice" % name)
        seen.add(name)
        if "/" in device or device in (".", ".."):
            raise FabricError("link %s: %r is not an interface name" % (name, device))
        stats = os.path.join(root, device, "statistics")
        if not os.path.isdir(stats):
            raise FabricError("link %s: this host has no interface %s (%s is missing); set the link's "
                              "device in fabric_links or fabric_nat_devices" % (name, device, stats))
        paths.append((name, os.path.join(stats, "tx_bytes"), os.path.join(stats, "rx_bytes")))
    return paths


def read_counters(paths):
    """{link: [tx_bytes, rx_bytes]} now."""
    out = {}
    for name, tx_path, rx_path in paths:
        values = []
        for path in (tx_path, rx_path):
            with open(path) as handle:
                values.append(int(handle.read().strip()))
        out[name] = values
    return out


def sample(paths, seconds, interval, start_at=None, clock=time.time, sleep=time.sleep, read=read_counters):
    """Read the counters at ticks start_at + k * interval, k = 0 .. round(seconds / interval).

    Returns [{"tick": k, "time": epoch of the read, "bytes": {link: [tx, rx]}}]. Ticks the
    sampler reaches more than a fifth of an interval late are skipped (and so missing from the list).
    """
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise FabricError("interval must be a positive number of seconds, got %r" % (interval,))
    if not isinstance(seconds, (int, float)) or seconds < interval:
        raise FabricError("seconds must be at least one interval (%r), got %r" % (interval, seconds))
    now = clock()
    base = now if start_at is None else float(start_at)
    if base - now > MAX_WAIT:
        raise FabricError("start_at %r is %.0f s in the future (at most %.0f s allowed): are the clocks "
                          "of the controller and this host set?" % (start_at, base - now, MAX_WAIT))
    ticks = int(round(seconds / interval))
    samples = []
    for tick in range(ticks + 1):
        target = base + tick * interval
        now = clock()
        if now > target + LATE_FRACTION * interval:
            continue
        if target > now:
            sleep(target - now)
        stamp = clock()
        samples.append({"tick": tick, "time": stamp, "bytes": read(paths)})
    if len(samples) < 2:
        raise FabricError("sampling window missed: this host started %.1f s after start_at, the window "
                          "was %.1f s; start later (verify.yml: -e verify_start_delay=SECONDS) or use more "
                          "forks" % (now - base, seconds))
    return samples


def read_status(path=STATUS_FILE):
    """(status, error): the parsed watchdog status file; (None, None) when there is none."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None, None
        return None, "%s: %s" % (path, exc)
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, "%s is not JSON: %s" % (path, exc)
