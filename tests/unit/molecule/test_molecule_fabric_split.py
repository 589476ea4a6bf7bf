# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of molecule/shared/fabric_split.py: figures, checks, table, plot, topology.

The checks must fail on the figures of a broken fabric (rules off, weights ignored, an
emulation whose bytes do not follow its picks), so each is tested with both kinds of input.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "molecule", "shared"))
import fabric_split  # noqa: E402  pylint: disable=wrong-import-position,import-error

MB = 1000 * 1000
TWO = [{"name": "fab0", "device": "eth0", "rate_mbit": 200.0}, {"name": "fab1", "device": "eth1", "rate_mbit": 200.0}]
FOUR = [{"name": "fab%d" % i, "device": "eth%d" % i, "rate_mbit": 200.0 if i == 0 else 100.0} for i in range(4)]


def delta(links, sent, returned=None):
    """Counter deltas of a sender (tx = sent) and a receiver (rx = sent, tx = returned)."""
    returned = returned or [s // 50 for s in sent]
    sender = dict((link["device"], {"tx": s, "rx": r}) for link, s, r in zip(links, sent, returned))
    receiver = dict((link["device"], {"tx": r, "rx": s}) for link, s, r in zip(links, sent, returned))
    return sender, receiver


def run(links, sent, seconds=5.0, seed=None, **extra):
    sender, receiver = delta(links, sent)
    rows = fabric_split.link_rows(links, sender, receiver, seconds)
    result = {"seed": seed, "links": rows, "series": {"t": [], "mbit": dict((l["name"], []) for l in links)}}
    result.update(fabric_split.summarize(rows, seconds))
    result.update(extra)
    return result


def phase(links, runs, nat="on"):
    rows, summary = fabric_split.merge_runs(links, runs)
    result = {"rules": "keep", "nat": nat, "runs": runs, "links": rows}
    result.update(summary)
    return result


def report(links, phases, weights=None, kind="iperf3"):
    return {"scenario": "t", "sender": "n1", "receiver": "n2", "port": 3001, "links": links,
            "weights": weights or {}, "phases": phases, "traffic": {"kind": kind}, "checks": []}


# rules off: everything on the primary link at its speed; rules on: both links full
OFF = [120 * MB, 0]
ON = [120 * MB, 120 * MB]


def test_counter_delta_of_tx_and_rx():
    assert fabric_split.counter_delta({"eth0": [10, 20]}, {"eth0": [110, 25]}) == {"eth0": {"tx": 100, "rx": 5}}


def test_rows_share_and_mbit_come_from_the_counters():
    rows = fabric_split.link_rows(TWO, *delta(TWO, [75 * MB, 25 * MB], [1 * MB, 2 * MB]), elapsed=4.0)
    assert [r["share"] for r in rows] == [0.75, 0.25]
    assert [r["mbit"] for r in rows] == [150.0, 50.0]
    assert [r["load"] for r in rows] == [0.75, 0.25]
    assert rows[0]["received_bytes"] == 75 * MB and rows[1]["returned_bytes"] == 2 * MB
    summary = fabric_split.summarize(rows, 4.0)
    assert summary["aggregate_mbit"] == 200.0
    assert (summary["busiest_link"], summary["busiest_share"]) == ("fab0", 0.75)


def test_no_traffic_gives_zero_shares_not_an_error():
    rows = fabric_split.link_rows(TWO, *delta(TWO, [0, 0]), elapsed=1.0)
    assert [r["share"] for r in rows] == [0.0, 0.0]


def test_ratio_check_passes_with_the_rules_and_fails_without():
    good = report(TWO, {"baseline": phase(TWO, [run(TWO, OFF)], "off"), "spread": phase(TWO, [run(TWO, ON)])})
    result = fabric_split.check_ratio(good, "baseline", "spread", 1.9)
    assert result["ok"] and result["value"] == 2.0
    # the rules never came back: the "spread" phase looks like the baseline
    broken = report(TWO, {"baseline": phase(TWO, [run(TWO, OFF)], "off"), "spread": phase(TWO, [run(TWO, OFF)], "off")})
    result = fabric_split.check_ratio(broken, "baseline", "spread", 1.9)
    assert not result["ok"] and result["value"] == 1.0


def test_busiest_check_fails_on_one_link_and_on_the_worst_run():
    assert fabric_split.check_busiest(report(TWO, {"spread": phase(TWO, [run(TWO, ON)])}), "spread", 0.52)["ok"]
    off = fabric_split.check_busiest(report(TWO, {"spread": phase(TWO, [run(TWO, OFF)])}), "spread", 0.52)
    assert not off["ok"] and off["value"] == 1.0
    # two runs that average to 50 % but one of them is 60/40
    runs = [run(TWO, [60 * MB, 40 * MB], seed=1), run(TWO, [40 * MB, 60 * MB], seed=2)]
    mixed = report(TWO, {"spread": phase(TWO, runs)})
    assert mixed["phases"]["spread"]["busiest_share"] == 0.5
    assert mixed["phases"]["spread"]["worst_run_busiest_share"] == 0.6
    assert not fabric_split.check_busiest(mixed, "spread", 0.52)["ok"]
    mixed["phases"]["baseline"] = phase(TWO, [run(TWO, OFF)], "off")
    assert fabric_split.top_figures(mixed, "baseline", "spread")["busiest_share"] == 0.6


def test_weight_shares():
    assert fabric_split.weight_shares(FOUR, {"fab0": 2, "fab1": 1, "fab2": 1, "fab3": 1}) == {
        "fab0": 0.4, "fab1": 0.2, "fab2": 0.2, "fab3": 0.2}
    assert fabric_split.weight_shares(TWO, {}) == {"fab0": 0.5, "fab1": 0.5}


def test_weights_check_tells_weighted_from_plain_rotation():
    weights = {"fab0": 2, "fab1": 1, "fab2": 1, "fab3": 1}
    mb_per_stream = 40 * 5 * MB // 8  # 40 Mbit/s for 5 s
    # weighted rotation, 10 paced streams: 4/2/2/2
    weighted = run(FOUR, [4 * mb_per_stream, 2 * mb_per_stream, 2 * mb_per_stream, 2 * mb_per_stream])
    good = report(FOUR, {"weighted": phase(FOUR, [weighted])}, weights)
    assert fabric_split.check_weights(good, "weighted", 0.03)["ok"]
    # plain rotation: 3/3/2/2 streams, fab1 capped at its 100 Mbit/s
    plain = run(FOUR, [3 * mb_per_stream, 100 * 5 * MB // 8, 2 * mb_per_stream, 2 * mb_per_stream])
    bad = fabric_split.check_weights(report(FOUR, {"weighted": phase(FOUR, [plain])}, weights), "weighted", 0.03)
    assert not bad["ok"] and bad["value"] > 0.05
    assert bad["shares"]["fab0"] < 0.35


def test_pick_shares_follow_the_rw_sockets_and_the_link_speeds():
    peers = {"fab0": ["198.19.3.12"], "fab1": ["198.19.4.12"]}
    sockets = [{"kind": "rw", "peer": "198.19.3.12"}] * 5 + [{"kind": "rw", "peer": "198.19.4.12"}] * 3 \
        + [{"kind": "ctrl", "peer": "198.19.3.12"}] * 4
    shares, count = fabric_split.pick_shares(TWO, peers, sockets, offered_mbit=320)
    assert count == {"fab0": 5, "fab1": 3}
    assert shares == {"fab0": 0.625, "fab1": 0.375}
    # 6 of 8 at 45 Mbit/s each would be 270 on fab0: capped at its 200
    six = [{"kind": "rw", "peer": "198.19.3.12"}] * 6 + [{"kind": "rw", "peer": "198.19.4.12"}] * 2
    shares, dummy = fabric_split.pick_shares(TWO, peers, six, offered_mbit=360)
    assert shares == {"fab0": round(200 / 290.0, 4), "fab1": round(90 / 290.0, 4)}
    # unpaced: every link that has a socket is full
    assert fabric_split.pick_shares(TWO, peers, sockets, offered_mbit=0)[0] == {"fab0": 0.5, "fab1": 0.5}
    only = [{"kind": "rw", "peer": "198.19.3.12"}] * 8
    assert fabric_split.pick_shares(TWO, peers, only, offered_mbit=0)[0] == {"fab0": 1.0, "fab1": 0.0}


def test_picks_check_fails_when_the_bytes_do_not_follow_the_picks():
    predicted = {"fab0": 0.625, "fab1": 0.375}
    follows = run(TWO, [62 * MB, 38 * MB], seed=1, expected_shares=predicted)
    assert fabric_split.check_picks(report(TWO, {"native": phase(TWO, [follows], "off")}), "native", 0.05)["ok"]
    ignores = run(TWO, [50 * MB, 50 * MB], seed=2, expected_shares=predicted)
    result = fabric_split.check_picks(report(TWO, {"native": phase(TWO, [follows, ignores], "off")}), "native", 0.05)
    assert not result["ok"] and "seed 2" in result["check"]


def test_merge_runs_adds_bytes_and_time():
    rows, summary = fabric_split.merge_runs(TWO, [run(TWO, [30 * MB, 10 * MB], 2.0), run(TWO, [10 * MB, 30 * MB], 2.0)])
    assert [r["sent_bytes"] for r in rows] == [40 * MB, 40 * MB]
    assert summary["elapsed_s"] == 4.0 and summary["aggregate_mbit"] == 160.0 and summary["busiest_share"] == 0.5


def test_series_is_mbit_per_link_between_samples():
    samples = [[0.0, {"eth0": [0, 0], "eth1": [0, 0]}],
               [0.5, {"eth0": [12500000, 0], "eth1": [0, 0]}],
               [1.0, {"eth0": [25000000, 0], "eth1": [6250000, 0]}]]
    out = fabric_split.series(samples, TWO)
    assert out["t"] == [0.25, 0.75]
    assert out["mbit"] == {"fab0": [200.0, 200.0], "fab1": [0.0, 100.0]}


def test_top_figures_and_table():
    figures = report(TWO, {"baseline": phase(TWO, [run(TWO, OFF)], "off"), "spread": phase(TWO, [run(TWO, ON)])})
    figures["checks"] = [fabric_split.check_ratio(figures, "baseline", "spread", 1.9),
                         fabric_split.check_busiest(figures, "spread", 0.4)]
    fabric_split.top_figures(figures, "baseline", "spread")
    assert figures["ratio"] == 2.0 and figures["busiest_share"] == 0.5
    text = fabric_split.format_table(figures)
    lines = text.splitlines()
    assert "bytes sent" in lines[1] and "share" in lines[1] and "Mbit/s" in lines[1]
    assert any(l.split()[:2] == ["baseline", "fab0"] and "100.0%" in l and "192.0" in l for l in lines)
    assert any(l.split()[:2] == ["spread", "fab1"] and "50.0%" in l for l in lines)
    assert "aggregate ratio spread/baseline: 2.000x; busiest link in spread (worst run): 50.0%" in text
    assert "PASS ratio spread/baseline >= 1.9: 2.0" in text
    assert "FAIL busiest link share in spread <= 0.4" in text
    assert "emulation" not in text
    figures["traffic"]["kind"] = "emulation"
    assert fabric_split.format_table(figures).startswith("traffic: emulation of the Aerospike >= 3.14")


def test_plot_writes_a_png(tmp_path):
    samples = [[t * 0.5, {"eth0": [int(t * 12.5 * MB), 0], "eth1": [int(t * 12.5 * MB), 0]}] for t in range(6)]
    one = run(TWO, ON)
    one["series"] = fabric_split.series(samples, TWO)
    figures = report(TWO, {"baseline": phase(TWO, [dict(one)], "off"), "spread": phase(TWO, [one])})
    path = fabric_split.plot(figures, str(tmp_path / "sub" / "split.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_topology_from_the_inventory():
    data = {"_meta": {"hostvars": {
        "b": {"fabric_cluster_group": "c1", "fabric_node_id": "2", "ansible_host": "cfm-x-b",
              "fabric_links": [{"name": "fab0", "subnet": "198.19.1.0/24", "device": "eth0"}]},
        "a": {"fabric_cluster_group": "c1", "fabric_node_id": 1, "ansible_host": "cfm-x-a", "fabric_ports": [3101],
              "fabric_links": [{"name": "fab0", "subnet": "198.19.1.0/24", "device": "eth0"}],
              "fabric_strategy": "native", "fabric_nat_weights": {"fab0": 3}},
        "other": {"x": 1}}}}
    topo = fabric_split.topology(data)
    assert (topo["sender"], topo["receiver"]) == ("a", "b")
    assert topo["containers"] == {"a": "cfm-x-a", "b": "cfm-x-b"}
    assert topo["plan"]["b"]["fab0"] == ["198.19.1.12"]
    assert (topo["port"], topo["strategy"], topo["weights"]) == (3101, "native", {"fab0": 3})
    with pytest.raises(fabric_split.MeasureError, match="two hosts"):
        fabric_split.topology({"_meta": {"hostvars": {"a": data["_meta"]["hostvars"]["a"]}}})
    data["_meta"]["hostvars"]["z"] = {"fabric_cluster_group": "c2", "fabric_node_id": 1}
    with pytest.raises(fabric_split.MeasureError, match="--cluster"):
        fabric_split.topology(data)


def test_traffic_labels_name_the_emulation():
    assert fabric_split.traffic_label({"kind": "streams", "streams": 8, "seconds": 5.0}) == "8 TCP streams, 5.0 s"
    assert fabric_split.traffic_label({"kind": "streams", "streams": 10, "seconds": 5, "stream_mbit": 40}) == \
        "10 TCP streams at 40 Mbit/s, 5 s"
    assert fabric_split.traffic_label({"kind": "emulation", "seeds": [1, 2]}) == "Aerospike fabric emulation, seeds 1,2"
