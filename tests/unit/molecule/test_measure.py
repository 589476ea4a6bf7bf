# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of tests/lib/testbed/measure.py, the Molecule scenarios' measurement through
playbooks/verify.yml: runs cut out of verify.yml's report, figures, checks, table, plot.

The checks must fail on the figures of a broken fabric (rules that never came back, weights
ignored, an emulation whose bytes do not follow its picks, a lane the watchdog lost, a node out
of the cluster, replicas that miss the fabric, sockets piled on one link or lane, a native
socket on an address nobody published), so each is fed both kinds of input.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from testbed import measure

MB = 1000 * 1000
TWO = ({"name": "fab0", "device": "eth0", "rate_mbit": 200.0}, {"name": "fab1", "device": "eth1", "rate_mbit": 200.0})
FOUR = tuple({"name": "fab%d" % i, "device": "eth%d" % i, "rate_mbit": 200.0 if i == 0 else 100.0} for i in range(4))
START = 1000.0


def verify_cluster(spans, links=TWO, interval=0.5, watchdog="ok"):
    """A verify.yml cluster report whose series holds, for each (seconds, {link: tx Mbit/s}) of
    ``spans``, that many seconds of intervals; rx is a fiftieth (the ACKs)."""
    times, tx = [], dict((link["name"], []) for link in links)
    at = 0.0
    for seconds, rates in spans:
        for dummy in range(int(round(seconds / interval))):
            at += interval
            times.append(at)
            for link in links:
                tx[link["name"]].append(rates.get(link["name"], 0.0))
    rx = dict((link, [value / 50 for value in values]) for link, values in tx.items())
    totals = dict((link, {"tx_mbit": sum(values) / len(values)}) for link, values in tx.items())
    return {"hosts": ["n1", "n2"], "links": [link["name"] for link in links],
            "window": {"start": START, "end": START + at, "seconds": at},
            "series": {"time": times, "tx": tx, "rx": rx}, "totals": totals,
            "nodes": dict((h, {"watchdog": {"state": watchdog}}) for h in ("n1", "n2"))}


def run(cluster, start, end, links=TWO, seed=None, **extra):
    rows, seconds, count = measure.span_rows(cluster, links, START + start, START + end)
    result = {"seed": seed, "links": rows, "intervals": count}
    result.update(measure.summarize(rows, seconds))
    result.update(extra)
    return result


def phase(links, runs, nat="on"):
    rows, summary = measure.merge_runs(links, runs)
    return dict(summary, rules="keep", nat=nat, runs=runs, links=rows, traffic={"kind": "streams", "streams": 8, "seconds": 3})


def report(links, phases, weights=None, **extra):
    out = {"scenario": "t", "sender": "n1", "receiver": "n2", "port": 3001, "links": links, "weights": weights or {},
           "phases": phases, "checks": []}
    out.update(extra)
    return out


# one verify window: 3 s with the rules off (everything on fab0 at its speed), 1 s of switching,
# 3 s with the rules on (both links full)
WINDOW = verify_cluster([(3, {"fab0": 196.0}), (1, {}), (3, {"fab0": 196.0, "fab1": 196.0})])
OFF = run(WINDOW, 0, 3)
ON = run(WINDOW, 4, 7)


def test_a_run_takes_the_intervals_inside_its_own_span():
    assert (OFF["intervals"], OFF["seconds"]) == (6, 3.0)
    assert [r["share"] for r in OFF["links"]] == [1.0, 0.0]
    assert OFF["aggregate_mbit"] == 196.0 and ON["aggregate_mbit"] == 392.0
    assert ON["links"][1]["tx_bytes"] == int(196.0 * MB / 8 * 3) and ON["links"][1]["rx_bytes"] == int(196.0 * MB / 8 * 3 / 50)
    assert [r["load"] for r in ON["links"]] == [0.98, 0.98]
    # an interval that starts before the run (connection set-up, the switch) is left out
    partial = run(WINDOW, 3.8, 7)
    assert partial["intervals"] == 6
    assert run(WINDOW, 3.2, 3.9)["intervals"] == 0


def test_rows_share_mbit_and_busiest():
    cluster = verify_cluster([(4, {"fab0": 150.0, "fab1": 50.0})])
    one = run(cluster, 0, 4)
    assert [r["share"] for r in one["links"]] == [0.75, 0.25]
    assert [r["mbit"] for r in one["links"]] == [150.0, 50.0]
    assert (one["busiest_link"], one["busiest_share"]) == ("fab0", 0.75)
    idle = run(verify_cluster([(1, {})]), 0, 1)
    assert [r["share"] for r in idle["links"]] == [0.0, 0.0]


def test_ratio_check_passes_with_the_rules_and_fails_without():
    good = report(TWO, {"baseline": phase(TWO, [OFF], "off"), "spread": phase(TWO, [ON])})
    result = measure.check_ratio(good, "baseline", "spread", 1.9)
    assert result["ok"] and result["value"] == 2.0
    # the rules never came back: the "spread" phase looks like the baseline
    broken = report(TWO, {"baseline": phase(TWO, [OFF], "off"), "spread": phase(TWO, [OFF], "off")})
    result = measure.check_ratio(broken, "baseline", "spread", 1.9)
    assert not result["ok"] and result["value"] == 1.0


def test_busiest_check_fails_on_one_link_and_on_the_worst_run():
    assert measure.check_busiest(report(TWO, {"spread": phase(TWO, [ON])}), "spread", 0.52)["ok"]
    off = measure.check_busiest(report(TWO, {"spread": phase(TWO, [OFF])}), "spread", 0.52)
    assert not off["ok"] and off["value"] == 1.0
    # two runs that average to 50 % but one of them is 60/40
    cluster = verify_cluster([(2, {"fab0": 120.0, "fab1": 80.0}), (2, {"fab0": 80.0, "fab1": 120.0})])
    mixed = report(TWO, {"spread": phase(TWO, [run(cluster, 0, 2, seed=1), run(cluster, 2, 4, seed=2)])})
    assert mixed["phases"]["spread"]["busiest_share"] == 0.5
    assert mixed["phases"]["spread"]["worst_run_busiest_share"] == 0.6
    assert not measure.check_busiest(mixed, "spread", 0.52)["ok"]


def test_link_share_check():
    single = verify_cluster([(4, {"fab0": 339.4, "fab1": 0.05})])
    assert measure.check_link_share(report(TWO, {"server": phase(TWO, [run(single, 0, 4)])}), "server", "fab0", 0.99)["ok"]
    even = report(TWO, {"server": phase(TWO, [ON])})
    result = measure.check_link_share(even, "server", "fab0", 0.99)
    assert not result["ok"] and result["value"] == 0.5


def test_weight_shares():
    assert measure.weight_shares(FOUR, {"fab0": 2, "fab1": 1, "fab2": 1, "fab3": 1}) == {
        "fab0": 0.4, "fab1": 0.2, "fab2": 0.2, "fab3": 0.2}
    assert measure.weight_shares(TWO, {}) == {"fab0": 0.5, "fab1": 0.5}


def test_weights_check_tells_weighted_from_plain_rotation():
    weights = {"fab0": 2, "fab1": 1, "fab2": 1, "fab3": 1}
    # weighted rotation, 10 streams of 40 Mbit/s: 4/2/2/2
    weighted = verify_cluster([(3, {"fab0": 160.0, "fab1": 80.0, "fab2": 80.0, "fab3": 80.0})], FOUR)
    good = report(FOUR, {"weighted": phase(FOUR, [run(weighted, 0, 3, FOUR)])}, weights)
    assert measure.check_weights(good, "weighted", 0.03)["ok"]
    # plain rotation: 3/3/2/2 streams, fab1 capped at its 100 Mbit/s
    plain = verify_cluster([(3, {"fab0": 120.0, "fab1": 100.0, "fab2": 80.0, "fab3": 80.0})], FOUR)
    bad = measure.check_weights(report(FOUR, {"weighted": phase(FOUR, [run(plain, 0, 3, FOUR)])}, weights), "weighted", 0.03)
    assert not bad["ok"] and bad["value"] > 0.05
    assert bad["shares"]["fab0"] < 0.35


def test_pick_shares_follow_the_rw_sockets_and_the_link_speeds():
    peers = {"fab0": ["198.19.3.12"], "fab1": ["198.19.4.12"]}
    sockets = [{"kind": "rw", "peer": "198.19.3.12"}] * 5 + [{"kind": "rw", "peer": "198.19.4.12"}] * 3 \
        + [{"kind": "ctrl", "peer": "198.19.3.12"}] * 4
    shares, count = measure.pick_shares(TWO, peers, sockets, offered_mbit=320)
    assert count == {"fab0": 5, "fab1": 3}
    assert shares == {"fab0": 0.625, "fab1": 0.375}
    # 6 of 8 at 45 Mbit/s each would be 270 on fab0: capped at its 200
    six = [{"kind": "rw", "peer": "198.19.3.12"}] * 6 + [{"kind": "rw", "peer": "198.19.4.12"}] * 2
    shares, dummy = measure.pick_shares(TWO, peers, six, offered_mbit=360)
    assert shares == {"fab0": round(200 / 290.0, 4), "fab1": round(90 / 290.0, 4)}
    # unpaced: every link that has a socket is full
    assert measure.pick_shares(TWO, peers, sockets, offered_mbit=0)[0] == {"fab0": 0.5, "fab1": 0.5}
    only = [{"kind": "rw", "peer": "198.19.3.12"}] * 8
    assert measure.pick_shares(TWO, peers, only, offered_mbit=0)[0] == {"fab0": 1.0, "fab1": 0.0}


def test_picks_check_fails_when_the_bytes_do_not_follow_the_picks():
    predicted = {"fab0": 0.625, "fab1": 0.375}
    cluster = verify_cluster([(2, {"fab0": 124.0, "fab1": 76.0}), (2, {"fab0": 100.0, "fab1": 100.0})])
    follows = run(cluster, 0, 2, seed=1, expected_shares=predicted)
    assert measure.check_picks(report(TWO, {"native": phase(TWO, [follows], "off")}), "native", 0.05)["ok"]
    ignores = run(cluster, 2, 4, seed=2, expected_shares=predicted)
    result = measure.check_picks(report(TWO, {"native": phase(TWO, [follows, ignores], "off")}), "native", 0.05)
    assert not result["ok"] and "seed 2" in result["check"]


def test_merge_runs_adds_bytes_and_time():
    cluster = verify_cluster([(2, {"fab0": 120.0, "fab1": 40.0}), (2, {"fab0": 40.0, "fab1": 120.0})])
    rows, summary = measure.merge_runs(TWO, [run(cluster, 0, 2), run(cluster, 2, 4)])
    assert [r["tx_bytes"] for r in rows] == [40 * MB, 40 * MB]
    assert summary["seconds"] == 4.0 and summary["aggregate_mbit"] == 160.0 and summary["busiest_share"] == 0.5


def test_sub_cluster_is_the_phase_as_throughput_plot_draws_it():
    part = measure.sub_cluster(WINDOW, START + 4, START + 7)
    assert part["series"]["time"] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert part["series"]["tx"]["fab1"] == [196.0] * 6
    assert part["window"]["start"] == START + 4.0
    assert (part["busiest"], part["share"]) == ("fab0", 0.5)


def test_watchdog_check_needs_ok_paths_up_and_every_lane():
    plan = {"n1": {"fab0": ["2001:2:0:10::b"], "fab1": ["2001:2:0:11::b"]},
            "n2": {"fab0": ["2001:2:0:10::c"], "fab1": ["2001:2:0:11::c"]}}
    up = {"peers": {"n2": {"fab0": {"state": "up"}, "fab1": {"state": "up"}}},
          "rules": {"lanes": {"ip6 peer_n2_3001": ["2001:2:0:10::c", "2001:2:0:11::c"]}}}
    good = report(TWO, {}, plan=plan, verify=[{"phases": ["spread"], "cluster": verify_cluster([(1, {})])}],
                  watchdog={"n1": {"spread before": up, "spread after": up}})
    assert measure.check_watchdog(good)["ok"]
    down = {"peers": {"n2": {"fab0": {"state": "up"}, "fab1": {"state": "down"}}},
            "rules": {"lanes": {"ip6 peer_n2_3001": ["2001:2:0:10::c"]}}}
    lost = dict(good, watchdog={"n1": {"spread before": up, "spread after": down}})
    result = measure.check_watchdog(lost)
    assert not result["ok"] and len(result["value"]) == 2 and "rotates over" in result["value"][1]
    assert not measure.check_watchdog(dict(good, watchdog={"n1": {"after": None}}))["ok"]
    degraded = dict(good, verify=[{"phases": ["server"], "cluster": verify_cluster([(1, {})], watchdog="degraded")}])
    assert not measure.check_watchdog(degraded)["ok"]


def test_top_figures_table_and_plot(tmp_path):
    figures = report(TWO, {"baseline": phase(TWO, [OFF], "off"), "spread": phase(TWO, [ON])}, notes=["FALLBACK: x"])
    figures["phases"]["baseline"]["cluster"] = measure.sub_cluster(WINDOW, START, START + 3)
    figures["phases"]["spread"]["cluster"] = measure.sub_cluster(WINDOW, START + 4, START + 7)
    figures["checks"] = [measure.check_ratio(figures, "baseline", "spread", 1.9), measure.check_busiest(figures, "spread", 0.4)]
    figures.update(ratio=2.0, busiest_share=0.5, ratio_phases=["baseline", "spread"])
    text = measure.format_table(figures)
    lines = text.splitlines()
    assert lines[0] == "NOTE: FALLBACK: x"
    assert any(l.split()[:2] == ["baseline", "fab0"] and "100.0%" in l and "196.0" in l for l in lines)
    assert any(l.split()[:2] == ["spread", "fab1"] and "50.0%" in l for l in lines)
    assert "aggregate ratio spread/baseline: 2.000x; busiest link in spread (worst run): 50.0%" in text
    assert "PASS ratio spread/baseline >= 1.9: 2.0" in text
    assert "FAIL busiest link share in spread <= 0.4" in text
    path = measure.plot(figures, str(tmp_path / "sub" / "split.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_traffic_labels_name_the_emulation():
    assert measure.traffic_label({"kind": "streams", "streams": 8, "seconds": 5.0}) == "8 TCP streams, 5.0 s"
    assert measure.traffic_label({"kind": "streams", "streams": 10, "seconds": 5, "stream_mbit": 40}) == \
        "10 TCP streams at 40 Mbit/s, 5 s"
    assert measure.traffic_label({"kind": "emulation", "seeds": [1, 2]}) == "Aerospike fabric emulation, seeds 1,2"


def test_phase_specs_take_overrides():
    args = measure.parser().parse_args(["run", "-i", "x", "--out", "y", "--streams", "10", "--phase", "baseline=off",
                                        "--phase", "weighted=keep,stream-mbit=40", "--phase", "n=keep,seeds=1+2"])
    specs = measure.phase_specs(args)
    assert specs[0][:2] == ("baseline", "off") and specs[0][2]["streams"] == 10 and specs[0][2]["stream_mbit"] == 0
    assert specs[1][2]["stream_mbit"] == 40.0 and specs[1][2]["streams"] == 10
    assert specs[2][2]["seeds"] == [1, 2]
    for bad in ("x=on", "x=keep,colour=1"):
        with pytest.raises(measure.MeasureError):
            measure.phase_specs(measure.parser().parse_args(["run", "-i", "x", "--out", "y", "--phase", bad]))


# ---------------------------------------------------------------------------- the server's view
ENDPOINTS = ("service.port=3000;service.addresses=198.19.11.11,127.0.0.1;heartbeat.port=3002;"
             "heartbeat.peer=node-id=BB95:endpoint=198.19.3.12:3002,198.19.4.12:3002:endpoint-tls=;"
             "fabric.port=3001;fabric.addresses=198.19.3.11,198.19.4.11;fabric.tls-port=0;fabric.tls-addresses=null;"
             "fabric.peer=node-id=BB9507139F7C576:endpoint=198.19.3.12:3001,198.19.4.12:3001"
             ":endpoint-tls=198.19.3.12:3001,198.19.4.12:3001")
LANES = {"n1": [("fab0", "198.19.12.11"), ("fab0", "198.19.12.12"), ("fab1", "198.19.13.11"), ("fab1", "198.19.13.12")],
         "n2": [("fab0", "198.19.12.13"), ("fab0", "198.19.12.14"), ("fab1", "198.19.13.13"), ("fab1", "198.19.13.14")]}


def node(host, accepted, dialed_to):
    """A node's sockets: ``accepted`` {own address: n}, ``dialed_to`` {peer address: n}."""
    sockets = [{"direction": "in", "local": address, "remote": "x"} for address, n in accepted.items() for dummy in range(n)]
    sockets += [{"direction": "out", "local": LANES[host][0][1], "remote": address}
                for address, n in dialed_to.items() for dummy in range(n)]
    links_of = dict((address, link) for peer in LANES if peer != host for link, address in LANES[peer])
    return measure.node_sockets(sockets, LANES[host], links_of)


def balanced_nodes():
    """Balanced NAT over four lanes (fab0 a, fab1 a, fab0 b, fab1 b): 14 connections each way,
    4/3/4/3 per lane."""
    n1 = node("n1", {"198.19.12.11": 4, "198.19.12.12": 3, "198.19.13.11": 4, "198.19.13.12": 3},
              {"198.19.12.13": 11, "198.19.13.13": 3})
    n2 = node("n2", {"198.19.12.13": 4, "198.19.12.14": 3, "198.19.13.13": 4, "198.19.13.14": 3},
              {"198.19.12.11": 10, "198.19.13.11": 4})
    return {"n1": n1, "n2": n2}


def test_endpoints_give_what_is_published_and_what_the_peer_publishes():
    parsed = measure.parse_endpoints(ENDPOINTS)
    assert parsed["published"] == ["198.19.3.11", "198.19.4.11"]
    assert parsed["peers"] == {"BB9507139F7C576": ["198.19.3.12", "198.19.4.12"]}
    assert measure.parse_endpoints("fabric.port=3001") == {"published": [], "peers": {}}


def test_expected_sockets_are_the_channels():
    assert measure.expected_sockets({"port": 3001}) == 12
    assert measure.expected_sockets({"channel-bulk-fds": 4}) == 14
    assert measure.expected_sockets({"channel-bulk-fds": "4", "channel-rw-fds": 16}) == 22


def test_lanes_links_and_dialed():
    nodes = balanced_nodes()
    assert nodes["n1"]["links"] == {"fab0": {"in": 7, "out": 14}, "fab1": {"in": 7, "out": 0}}
    assert nodes["n1"]["dialed"] == {"fab0": 11, "fab1": 3}
    stray = measure.node_sockets([{"direction": "in", "local": "198.19.11.11", "remote": "x"}], LANES["n1"], {})
    assert stray["other"] == {"in": 1, "out": 0, "addresses": ["198.19.11.11"]}
    assert all(entry["in"] == 0 for entry in stray["lanes"].values())


def test_window_rate_counts_the_overlap():
    chunks = [{"start": 0.0, "end": 1.0, "writes": 1000}, {"start": 1.0, "end": 2.0, "writes": 500}]
    assert measure.window_rate(chunks, 0.5, 1.5, 10000) == {"writes_per_s": 750.0, "payload_mbit": 60.0}
    assert measure.window_rate(chunks, 3.0, 3.0, 10000)["payload_mbit"] == 0.0


def test_cluster_check_needs_every_node_with_integrity():
    # verify.yml's server view: cluster_size as a number, cluster_integrity as the server says it
    good = {"n1": {"cluster_size": 2, "cluster_integrity": "true"}, "n2": {"cluster_size": 2, "cluster_integrity": "true"}}
    assert measure.check_cluster(good, ["n1", "n2"])["ok"]
    split = dict(good, n1={"cluster_size": 1, "cluster_integrity": "true"})
    assert not measure.check_cluster(split, ["n1", "n2"])["ok"]
    broken = dict(good, n1={"cluster_size": 2, "cluster_integrity": "false"})
    assert not measure.check_cluster(broken, ["n1", "n2"])["ok"]
    assert not measure.check_cluster(dict(good, n2={}), ["n1", "n2"])["ok"]


def test_replicas_check_fails_when_the_fabric_links_miss_the_writes():
    cluster = {"totals": {"fab0": {"tx_mbit": 50.0}, "fab1": {"tx_mbit": 50.0}}}
    assert measure.check_replicas(cluster, 190.0, 0.5)["ok"]
    # replication factor 1 or counters of the wrong devices: the links carry next to nothing
    quiet = {"totals": {"fab0": {"tx_mbit": 0.25}, "fab1": {"tx_mbit": 0.25}}}
    assert not measure.check_replicas(quiet, 190.0, 0.5)["ok"]
    assert not measure.check_replicas(cluster, 0.0, 0.5)["ok"]


def test_socket_checks_pass_on_an_exact_rotation_and_fail_on_a_lost_lane():
    nodes = balanced_nodes()
    assert measure.check_every_lane(nodes, ["fab0", "fab1"])["ok"]
    assert measure.check_sockets_complete(nodes, {"n1": 14, "n2": 14})["ok"]
    assert not measure.check_sockets_on(nodes, ["fab0"])["ok"]
    # the rotation lost a lane: n2's connections never reach 198.19.13.12
    lost = dict(nodes, n1=node("n1", {"198.19.12.11": 5, "198.19.12.12": 5, "198.19.13.11": 4, "198.19.13.12": 0},
                               {"198.19.12.13": 14}))
    result = measure.check_every_lane(lost, ["fab0", "fab1"])
    assert not result["ok"] and result["value"] == ["n1 198.19.13.12"]
    # a socket missing (a channel that never connected)
    short = dict(nodes, n1=node("n1", {"198.19.12.11": 4, "198.19.12.12": 4, "198.19.13.11": 3, "198.19.13.12": 2},
                                {"198.19.12.13": 11, "198.19.13.13": 3}))
    assert not measure.check_sockets_complete(short, {"n1": 14, "n2": 14})["ok"]


def test_links_even_check_tells_alternating_lanes_from_lanes_grouped_by_link():
    # 14 sockets over 4 lanes: alternating the links gives 4 + 3 on each link ...
    even = balanced_nodes()
    result = measure.check_links_even(even, ["fab0", "fab1"])
    assert result["ok"] and result["value"]["n1"] == {"fab0": 7, "fab1": 7}
    # ... the lanes in address order (fab0, fab0, fab1, fab1) 8 + 6: every lane used, links uneven
    grouped = dict(even, n2=node("n2", {"198.19.12.13": 4, "198.19.12.14": 4, "198.19.13.13": 3, "198.19.13.14": 3},
                                 {"198.19.12.11": 10, "198.19.13.11": 4}))
    assert measure.check_every_lane(grouped, ["fab0", "fab1"])["ok"]
    result = measure.check_links_even(grouped, ["fab0", "fab1"])
    assert not result["ok"] and result["uneven"] == ["n2"] and result["value"]["n2"] == {"fab0": 8, "fab1": 6}


def test_accepted_sockets_without_a_peer_socket_behind_them_are_left_out():
    def sock(direction, local, local_port, remote, remote_port):
        return {"direction": direction, "local": local, "local_port": local_port, "remote": remote,
                "remote_port": remote_port}
    # n2 opened two connections (one moved by NAT to n1's fab1 lane: same port, other addresses);
    # n1 also holds an accepted socket from a port n2 has no socket on (half-open on n1).
    found = {"n1": [sock("in", "198.19.12.11", 3001, "198.19.12.13", 40001),
                    sock("in", "198.19.13.11", 3001, "198.19.13.13", 40003),
                    sock("in", "198.19.13.11", 3001, "198.19.13.13", 51515),
                    sock("out", "198.19.12.11", 40100, "198.19.12.13", 3001)],
             "n2": [sock("out", "198.19.12.13", 40001, "198.19.12.11", 3001),
                    sock("out", "198.19.12.13", 40003, "198.19.12.11", 3001),
                    sock("in", "198.19.12.13", 3001, "198.19.12.11", 40100)]}
    kept, left = measure.without_unmatched(found)
    assert [s["remote_port"] for s in kept["n1"] if s["direction"] == "in"] == [40001, 40003]
    assert [s["remote_port"] for s in left["n1"]] == [51515]
    assert kept["n2"] == found["n2"] and left["n2"] == []
    assert measure.half_open_text(left["n1"][0]) == "198.19.13.11:3001 <- 198.19.13.13:51515"
    assert measure.half_open_text(dict(left["n1"][0], owned=False, unread=True)) == (
        "198.19.13.11:3001 <- 198.19.13.13:51515 (no file: never accepted or already closed by the server, unread bytes)")
    # one host alone: nothing to match against, nothing left out
    kept, left = measure.without_unmatched({"n1": found["n1"]})
    assert kept["n1"] == found["n1"] and left["n1"] == []


def test_sockets_on_one_link_check():
    single = {"n1": node("n1", {"198.19.12.11": 12}, {"198.19.12.13": 12}),
              "n2": node("n2", {"198.19.12.13": 12}, {"198.19.12.11": 12})}
    assert measure.check_sockets_on(single, ["fab0"])["ok"]
    leak = dict(single, n2=node("n2", {"198.19.12.13": 11, "198.19.13.13": 1}, {"198.19.12.11": 12}))
    result = measure.check_sockets_on(leak, ["fab0"])
    assert not result["ok"] and result["value"] == {"n2": 1}


def test_native_sockets_follow_the_published_addresses():
    published = {"n1": ["198.19.12.11", "198.19.13.11"], "n2": ["198.19.12.13", "198.19.13.13"]}
    nodes = {"n1": node("n1", {"198.19.12.11": 8, "198.19.13.11": 4}, {"198.19.12.13": 6, "198.19.13.13": 6}),
             "n2": node("n2", {"198.19.12.13": 6, "198.19.13.13": 6}, {"198.19.12.11": 8, "198.19.13.11": 4})}
    assert measure.check_follow_published(nodes, published)["ok"]
    # what n2 dialed is not where n1 accepted it (something rewrote the addresses)
    moved = dict(nodes, n1=node("n1", {"198.19.12.11": 6, "198.19.13.11": 6}, {"198.19.12.13": 6, "198.19.13.13": 6}))
    result = measure.check_follow_published(moved, published)
    assert not result["ok"] and "n2 dialed" in result["value"][0]
    # a socket accepted on an address the node does not publish
    stray = dict(nodes, n2=node("n2", {"198.19.12.14": 6, "198.19.13.13": 6}, {"198.19.12.11": 8, "198.19.13.11": 4}))
    assert not measure.check_follow_published(stray, published)["ok"]


def test_server_table_and_findings():
    cluster = verify_cluster([(4, {"fab0": 99.8, "fab1": 100.2})])
    cluster["totals"] = {"fab0": {"tx_mbit": 99.8, "share": 0.499}, "fab1": {"tx_mbit": 100.2, "share": 0.501}}
    cluster["nodes"]["n1"]["server"] = {"head": "cluster size 2, migrations pending 0", "details": ["ss port 3001: ..."]}
    server = phase(TWO, [run(cluster, 0, 4)])
    server.update(traffic={"kind": "server", "label": "w"}, cluster=cluster)
    figures = report([dict(l, family="ipv4") for l in TWO], {"server": server}, server="8.1.2.0", cluster="mol_multi_address",
                     strategy="balanced", sockets=balanced_nodes(),
                     workload={"writes": 10, "failed": 0, "writes_per_s": 5.0, "payload_mbit": 1.0, "seconds": 2.0,
                               "longest_stall_s": 0.1},
                     statistics_before={"n1": {"fabric_connections_opened": "24", "fabric_connections_closed": "0"}},
                     statistics={"n1": {"fabric_connections_opened": "30", "fabric_connections_closed": "6"}})
    figures["checks"] = [measure.check_busiest(figures, "server", 0.52)]
    figures["findings"] = measure.findings(figures)
    text = measure.format_table(figures)
    assert "Aerospike 8.1.2.0 (the real server)" in text
    assert any(line.split()[:2] == ["server", "fab1"] and "50.1%" in line for line in text.splitlines())
    assert "PASS busiest link share in server <= 0.52 (worst of 1 run): 0.501" in text
    assert "finding: busiest link fab1 carries 50.1 % of the fabric bytes" in text
    assert "finding: n1 accepted 7 + 7 fabric sockets on fab0, fab1" in text
    assert "opened/closed while measuring: 6/6" in text
    assert "finding: verify.yml's server view of n1: cluster size 2, migrations pending 0" in text
    assert "probe ports" not in text
    figures["sockets"]["n2"]["probes"] = 1
    assert "n2: 1 accepted socket(s) from the peer watchdog's probe ports left out" in " ".join(measure.findings(figures))
    assert "half-open" not in text
    figures["sockets"]["n1"]["unmatched"] = ["198.19.12.11:3001 <- 198.19.12.13:51515"]
    assert ("n1: 1 accepted socket(s) with no opened socket of a peer behind them left out (half-open here): "
            "198.19.12.11:3001 <- 198.19.12.13:51515") in measure.findings(figures)


# ---------------------------------------------------------------------------- fabric_strategy mptcp
def test_a_phase_of_mptcp_streams():
    args = measure.parser().parse_args(["run", "-i", "x", "--out", "y", "--streams", "1", "--phase", "tcp=keep",
                                        "--phase", "one=keep,mptcp=1", "--check-subflows"])
    specs = measure.phase_specs(args)
    assert specs[0][2]["mptcp"] == 0.0 and specs[1][2]["mptcp"] == 1.0 and args.check_subflows
    assert measure.traffic_label(dict(specs[1][2], seconds=3.0)) == "1 MPTCP streams, 3.0 s"


def subflow_view(connections=24, short=0, plain=0, fab1=None, state="ok"):
    return {"state": state, "connections": connections, "short": short, "plain": plain,
            "links": {"fab0": {"subflows": connections, "connections": connections},
                      "fab1": {"subflows": connections, "connections": connections if fab1 is None else fab1}}}


def test_subflows_check_needs_every_connection_on_every_link():
    good = {"links": ["fab0", "fab1"], "nodes": {"n1": {"mptcp": subflow_view()}, "n2": {"mptcp": subflow_view()}}}
    assert measure.check_subflows(good, ["n1", "n2"])["ok"]
    for bad in (subflow_view(short=1, fab1=23, state="short"), subflow_view(plain=2, state="short"),
                subflow_view(connections=0, state="idle"), None):
        cluster = {"links": ["fab0", "fab1"], "nodes": {"n1": {"mptcp": subflow_view()}, "n2": {"mptcp": bad}}}
        assert not measure.check_subflows(cluster, ["n1", "n2"])["ok"], bad
