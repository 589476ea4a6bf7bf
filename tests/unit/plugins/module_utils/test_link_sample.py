# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side of verification: counter paths, the shared tick grid, the watchdog status file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError


def fake_sys(tmp_path, counters):
    """A /sys/class/net look-alike: {device: (tx, rx)}."""
    for device, (tx_bytes, rx_bytes) in counters.items():
        stats = tmp_path / device / "statistics"
        stats.mkdir(parents=True)
        (stats / "tx_bytes").write_text("%d\n" % tx_bytes)
        (stats / "rx_bytes").write_text("%d\n" % rx_bytes)
    return str(tmp_path)


class Clock(object):
    """A fake wall clock: sleep advances it, every read costs `cost` seconds."""

    def __init__(self, now, cost=0.0):
        self.now = now
        self.cost = cost
        self.slept = []

    def time(self):
        self.now += self.cost
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_counter_paths_and_read(tmp_path):
    root = fake_sys(tmp_path, {"eth1": (10, 20), "eth2": (30, 40)})
    paths = link_sample.counter_paths([{"name": "fab0", "device": "eth1", "subnet": "x"},
                                       {"name": "fab1", "device": "eth2"}], root=root)
    assert [entry[0] for entry in paths] == ["fab0", "fab1"]
    assert link_sample.read_counters(paths) == {"fab0": [10, 20], "fab1": [30, 40]}


@pytest.mark.parametrize("links, message", [
    ([], r"non-empty list"),
    ([{"name": "fab0"}], r"needs a name and a device, got \{'name': 'fab0'\}"),
    ([{"name": "fab0", "device": "eth1"}, {"name": "fab0", "device": "eth1"}], r"link fab0 is listed twice"),
    ([{"name": "fab0", "device": "../etc"}], r"link fab0: '../etc' is not an interface name"),
    ([{"name": "fab1", "device": "eth9"}], r"link fab1: this host has no interface eth9 .*fabric_nat_devices"),
])
def test_counter_paths_errors_name_the_link_and_device(tmp_path, links, message):
    root = fake_sys(tmp_path, {"eth1": (0, 0)})
    with pytest.raises(FabricError, match=message):
        link_sample.counter_paths(links, root=root)


def test_samples_follow_the_shared_grid():
    clock = Clock(1000.0)
    readings = iter(range(100))

    def read(paths):
        value = next(readings)
        return {"fab0": [value, 2 * value]}
    samples = link_sample.sample([], 3, 1, start_at=1002.0, clock=clock.time, sleep=clock.sleep, read=read)
    assert [entry["tick"] for entry in samples] == [0, 1, 2, 3]
    assert [entry["time"] for entry in samples] == [1002.0, 1003.0, 1004.0, 1005.0]
    assert samples[2]["bytes"] == {"fab0": [2, 4]}
    assert clock.slept[0] == 2.0


def test_a_late_start_skips_the_missed_ticks_instead_of_shifting():
    clock = Clock(1001.5)
    samples = link_sample.sample([], 4, 1, start_at=1000.0, clock=clock.time, sleep=clock.sleep,
                                 read=lambda paths: {})
    # ticks 0 and 1 have passed (1 by 0.5 s, more than a fifth of an interval): not read late
    assert [entry["tick"] for entry in samples] == [2, 3, 4]
    assert samples[0]["time"] == 1002.0


def test_a_slightly_late_tick_is_still_read():
    clock = Clock(1000.1)
    samples = link_sample.sample([], 1, 1, start_at=1000.0, clock=clock.time, sleep=clock.sleep,
                                 read=lambda paths: {})
    assert [entry["tick"] for entry in samples] == [0, 1]


def test_without_start_at_the_grid_starts_now():
    clock = Clock(50.0)
    samples = link_sample.sample([], 2, 0.5, clock=clock.time, sleep=clock.sleep, read=lambda paths: {})
    assert [entry["time"] for entry in samples] == [50.0, 50.5, 51.0, 51.5, 52.0]


@pytest.mark.parametrize("seconds, interval, start_at, now, message", [
    (10, 0, None, 0.0, r"interval must be a positive number of seconds, got 0"),
    (0.5, 1, None, 0.0, r"seconds must be at least one interval \(1\), got 0.5"),
    (10, 1, 5000.0, 1000.0, r"start_at 5000.0 is 4000 s in the future"),
    (3, 1, 1000.0, 1010.0, r"sampling window missed: this host started 10.0 s after start_at"),
])
def test_sample_errors(seconds, interval, start_at, now, message):
    clock = Clock(now)
    with pytest.raises(FabricError, match=message):
        link_sample.sample([], seconds, interval, start_at=start_at, clock=clock.time, sleep=clock.sleep,
                           read=lambda paths: {})


def test_status_file_absent_valid_broken(tmp_path):
    path = tmp_path / "linkwatch.json"
    assert link_sample.read_status(str(path)) == (None, None)
    path.write_text(json.dumps({"updated": 1.0, "links": {}, "peers": {}}))
    assert link_sample.read_status(str(path)) == ({"updated": 1.0, "links": {}, "peers": {}}, None)
    path.write_text("{not json")
    status, error = link_sample.read_status(str(path))
    assert status is None and error.startswith("%s is not JSON" % path)
    status, error = link_sample.read_status(str(tmp_path))  # a directory: exists, unreadable as a file
    assert status is None and str(tmp_path) in error
