# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/shared/fabric_node.py: the Aerospike fabric emulation's picks and sockets, sampling.

The live part runs on loopback only (a sink on 127.0.0.1 and the emulation against it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import socket
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "molecule", "shared"))
import fabric_node  # noqa: E402  pylint: disable=wrong-import-position,import-error

ADDRESSES = ["198.19.3.12", "198.19.4.12"]


def test_aerospike_default_channels_are_twelve_sockets_rw_first():
    kinds = fabric_node.socket_kinds()
    assert len(kinds) == 12
    assert kinds[:8] == ["rw"] * 8
    assert collections.Counter(kinds) == {"rw": 8, "bulk": 2, "ctrl": 1, "meta": 1}


def test_picks_repeat_for_a_seed_and_vary_between_seeds():
    first = fabric_node.pick_addresses(ADDRESSES, 12, seed=1)
    assert first == fabric_node.pick_addresses(ADDRESSES, 12, seed=1)
    assert set(first) <= set(ADDRESSES)
    assert len(set(tuple(fabric_node.pick_addresses(ADDRESSES, 12, seed=s)) for s in range(20))) > 10


def test_picks_are_uniform_per_socket():
    picks = [a for seed in range(300) for a in fabric_node.pick_addresses(ADDRESSES, 12, seed)]
    assert 0.45 < picks.count(ADDRESSES[0]) / float(len(picks)) < 0.55
    # one published address (servers before 3.14 dial one): every socket goes there
    assert set(fabric_node.pick_addresses(ADDRESSES[:1], 12, seed=5)) == set(ADDRESSES[:1])
    with pytest.raises(ValueError):
        fabric_node.pick_addresses([], 12, seed=1)


def test_parse_channels():
    assert fabric_node.parse_channels("rw=16,bulk=2") == (("rw", 16), ("bulk", 2))
    for bad in ("rw=x", "data=1", "rw"):
        with pytest.raises(ValueError):
            fabric_node.parse_channels(bad)


def free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def loopback_sink(seconds=3.0):
    """A sink on 127.0.0.1 (a stray connection, like the probe below, is simply drained)."""
    port = free_port()
    server = threading.Thread(target=fabric_node.sink, args=(port, seconds))
    server.daemon = True
    server.start()
    for dummy in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            threading.Event().wait(0.05)
    return port


def test_emulation_against_a_loopback_sink():
    port = loopback_sink()
    result = fabric_node.emulate(["127.0.0.1"], port, seed=7, seconds=0.5, offered_mbit=16)
    assert result["label"].startswith("emulation of the Aerospike >= 3.14")
    assert [s["kind"] for s in result["sockets"]] == fabric_node.socket_kinds()
    rw = sum(s["bytes_claimed"] for s in result["sockets"] if s["kind"] == "rw")
    # 16 Mbit/s for 0.5 s is 1 MB; pacing keeps it near that (never a free-running flood)
    assert 0.4e6 < rw < 2.5e6, rw
    assert all(s["bytes_claimed"] > 0 for s in result["sockets"])


def test_run_sampled_reads_counters_during_the_command():
    result = fabric_node.run_sampled(["lo"], 0.1, ["sleep", "0.35"])
    assert result["returncode"] == 0
    times = [t for t, dummy in result["samples"]]
    assert times[0] == 0.0 and len(times) >= 4 and times == sorted(times)
    assert set(result["samples"][-1][1]) == {"lo"}


def test_streams_frame_the_traffic_with_kernel_counters():
    port = loopback_sink()
    result = fabric_node.streams("127.0.0.1", port, count=3, seconds=0.3, stream_mbit=0, devices=["lo"])
    window = result["window"]
    assert len(result["bytes_claimed"]) == 3 and all(result["bytes_claimed"])
    assert window["seconds"] >= 0.3
    # every byte the streams sent went through lo between the two readings (both directions)
    assert window["after"]["lo"][0] - window["before"]["lo"][0] >= sum(result["bytes_claimed"])


def test_the_sink_listens_on_ipv4_and_ipv6():
    """The sink takes connections of both families (the ipv6 scenario's streams), IPv4 only
    where the kernel has no IPv6."""
    server = fabric_node.listener(free_port())
    port = server.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        if server.family == socket.AF_INET6:
            socket.create_connection(("::1", port), timeout=2).close()
    finally:
        server.close()
